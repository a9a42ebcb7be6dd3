"""The book's training cycle as a library function (Book §5.8, the ``__main__`` block of every listing).

The listing (``convnet_mnist.py``) trains like this::

    for epoch in range(training_epochs):
        avg_cost = 0.
        total_batch = int(mnist.train.num_examples/batch_size)
        for i in range(total_batch):
            minibatch_x, minibatch_y = mnist.train.next_batch(batch_size)
            sess.run(train_op, feed_dict={x: minibatch_x, y: minibatch_y, keep_prob: 0.5})
            avg_cost += sess.run(cost, feed_dict={...})/total_batch
        if epoch % display_step == 0:
            print "Epoch:", '%04d' % (epoch+1), "cost =", "{:.9f}".format(avg_cost)
            accuracy = sess.run(eval_op, feed_dict={x: mnist.validation.images, ...})
            print "Validation Error:", (1 - accuracy)
            summary_writer.add_summary(sess.run(summary_op, ...), sess.run(global_step))
            saver.save(sess, "conv_mnist_logs/model-checkpoint", global_step=global_step)
    print "Optimization Finished!"

:func:`train` is that loop. It differs in three ways: the step and its cost are
one ``sess.run`` (errata E9); it starts where a restored checkpoint left off;
and what the listing does at a display step besides measuring the validation
error (printing, summaries, the checkpoint), as well as everything the listing
does not do at all (a progress bar, stopping at a step or on a signal, stopping
on divergence, a checkpoint every N steps, timing), is done by :class:`Hook`
objects attached to it (:mod:`dlfund.hooks`), in the manner of the
``SessionRunHook`` s of TensorFlow's CIFAR-10 tutorial. :func:`evaluate_set` is
the evaluation loop (validation, test, ``chapter5.evaluate``), :func:`train_step`
the one training step, and :func:`restore_or_initialize` starts or resumes a run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import tensorflow as tf

from dlfund import checkpoints
from dlfund.errors import TrainingDiverged
from dlfund.graph import ModelGraph, model_variables

v1 = tf.compat.v1


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """The listing's training parameters.

    Attributes:
        training_epochs: epochs in all; a resumed run trains what is left.
        batch_size: examples per step (the book: 100 for MNIST, 128 for CIFAR-10).
        keep_prob: dropout keep probability during training.
        display_step: evaluate and display every this many epochs (the last
            epoch is always displayed).
        eval_batch_size: batch size of the evaluation loop.
        eval_examples: evaluate only the first N examples (0 = all).
    """
    training_epochs: int = 10
    batch_size: int = 100
    keep_prob: float = 0.5
    display_step: int = 1
    eval_batch_size: int = 1000
    eval_examples: int = 0


@dataclasses.dataclass
class TrainState:
    """Where a running :func:`train` is; hooks read it and may ask it to stop.

    Attributes:
        sess: the session.
        g: the model graph.
        config: the training parameters.
        total_batch: steps per epoch (the book's ``total_batch``).
        global_step: steps taken, counting those of earlier runs.
        epoch: the current epoch, from 0.
        epoch_cost, epoch_steps: the sum of the current epoch's batch costs and
            its steps taken so far, those of an earlier run of the same epoch
            included (carried over with the checkpoint it resumed from).
        stop_reason: why the loop stops early, or None.
        interrupted: the stop is an interruption (no display of the partial epoch).
        finite_at: the global step at which the variables were last found finite.
    """
    sess: v1.Session
    g: ModelGraph
    config: TrainConfig
    total_batch: int
    global_step: int = 0
    epoch: int = 0
    epoch_cost: float = 0.0
    epoch_steps: int = 0
    stop_reason: str | None = None
    interrupted: bool = False
    finite_at: int | None = None

    def check_finite(self) -> None:
        """Raises :class:`~dlfund.errors.TrainingDiverged` if a variable holds a NaN or an infinity.

        One cheap ``sess.run`` of ``g.variables_finite``, done once per global
        step: a display step's divergence check and its checkpoint share it.
        """
        if self.finite_at == self.global_step:
            return
        finite = self.sess.run(self.g.variables_finite)
        bad = [name for name, ok in zip(self.g.checked_variables, finite, strict=True) if not ok]
        if bad:
            shown = ", ".join(bad[:4]) + (f" and {len(bad) - 4} more" if len(bad) > 4 else "")
            raise TrainingDiverged(f"the variables became non-finite (NaN or infinite) by global step "
                                   f"{self.global_step}: {shown}", self.global_step, bad)
        self.finite_at = self.global_step

    def request_stop(self, reason: str, interrupted: bool = False) -> None:
        """Ends the loop after the current step (an interruption also skips the epoch's display)."""
        if self.stop_reason is None:
            self.stop_reason, self.interrupted = reason, interrupted


class Hook:
    """Something done around the training loop; every method does nothing unless overridden.

    The loop calls, in order: ``begin`` once; per epoch ``begin_epoch``, then per
    step ``before_step`` and ``after_step``, then ``display`` at a display step
    and ``end_epoch``; ``end`` once when the loop is over (also after a stop,
    not after an exception). Hooks are called in the order given to :func:`train`.
    """

    def begin(self, state: TrainState) -> None:
        """Before the first step (after restoring)."""

    def begin_epoch(self, state: TrainState, steps: int) -> None:
        """Before an epoch's first step; ``steps`` of it are left to run."""

    def before_step(self, state: TrainState) -> None:
        """Right before the training step's ``sess.run``."""

    def after_step(self, state: TrainState, cost: float) -> None:
        """Right after it; ``state.global_step`` counts it; ``cost`` is the batch's cost."""

    def display(self, state: TrainState, avg_cost: float, validation_error: float | None) -> None:
        """At a display step: the epoch's average cost and the validation error (None without validation)."""

    def end_epoch(self, state: TrainState) -> None:
        """After the epoch (and its display)."""

    def end(self, state: TrainState) -> None:
        """After the last step."""


def train_feed(g: ModelGraph, images: np.ndarray, labels: np.ndarray, keep_prob: float) -> dict:
    """The feed of a training step: a mini-batch, dropout on, batch norm in training mode."""
    feed = {g.x: images, g.y: labels, g.keep_prob: keep_prob}
    if g.phase_train is not None:
        feed[g.phase_train] = True
    return feed


def train_step(sess: v1.Session, g: ModelGraph, minibatch_x: np.ndarray, minibatch_y: np.ndarray,
               keep_prob: float) -> float:
    """One optimizer step on a mini-batch; returns the batch's cost as minimized (Book §5.8).

    Args:
        sess: a session of ``g.graph``.
        g: a graph built with training.
        minibatch_x: float32 [batch, *input_shape].
        minibatch_y: labels [batch, 10] one-hot or [batch] class ids.
        keep_prob: dropout keep probability.

    Returns:
        The mean cross-entropy of the batch before the update.
    """
    _, new_cost = sess.run([g.train_op, g.cost], feed_dict=train_feed(g, minibatch_x, minibatch_y, keep_prob))
    return float(new_cost)


def train(sess: v1.Session, g: ModelGraph, data: Any, config: TrainConfig,
          hooks: Sequence[Hook] = (), start: Start | None = None) -> TrainState:
    """Runs the book's training cycle from the graph's current ``global_step`` (Book §5.8).

    Args:
        sess: a session of ``g.graph``, variables set (:func:`restore_or_initialize`).
        g: a graph built with training (:func:`dlfund.graph.build_graph`).
        data: a :class:`dlfund.data.Datasets`: ``train`` is drawn with ``next_batch``
            (after ``seek`` past the examples already used), ``validation``
            evaluated at display steps unless empty.
        config: the training parameters.
        hooks: attached in this order (see :class:`Hook`).
        start: what :func:`restore_or_initialize` returned: the global step (else
            read from the session) and the running cost of a resumed epoch.

    Returns:
        The final :class:`TrainState` (``stop_reason`` says whether it stopped early).

    Raises:
        ValueError: ``config.batch_size`` is larger than the training set.
    """
    with g.graph.as_default():  # the hooks' saves and variable reads need the model's graph
        state, carried = _resume(sess, g, data, config, start)
        total_batch = state.total_batch
        start_epoch, first_batch = divmod(state.global_step, total_batch)
        _call(hooks, "begin", state)

        for epoch in range(start_epoch, config.training_epochs):
            if state.stop_reason:
                break
            state.epoch = epoch
            # The epoch's running cost; an epoch resumed mid-way goes on from the one saved with its checkpoint
            state.epoch_cost, state.epoch_steps = (carried.cost_sum, carried.steps) if carried else (0.0, 0)
            carried, steps = None, 0
            _call(hooks, "begin_epoch", state, total_batch - first_batch)
            # Loop over all batches
            for _ in range(first_batch, total_batch):
                minibatch_x, minibatch_y = data.train.next_batch(config.batch_size)
                _call(hooks, "before_step", state)
                # Fit training using batch data; the batch's cost comes from the same run
                new_cost = train_step(sess, g, minibatch_x, minibatch_y, config.keep_prob)
                state.global_step, steps = state.global_step + 1, steps + 1
                state.epoch_cost, state.epoch_steps = state.epoch_cost + new_cost, state.epoch_steps + 1
                _call(hooks, "after_step", state, new_cost)
                if state.stop_reason:
                    break
            first_batch = 0
            # Display logs per epoch step (and the last epoch, and one that a stop cut short)
            last = epoch + 1 == config.training_epochs or state.stop_reason is not None
            if steps and not state.interrupted and (epoch % config.display_step == 0 or last):
                _display(hooks, state, data.validation)
            _call(hooks, "end_epoch", state)

        _call(hooks, "end", state)
        return state


def _resume(sess: v1.Session, g: ModelGraph, data: Any, config: TrainConfig,
            start: Start | None) -> tuple[TrainState, checkpoints.EpochProgress | None]:
    """The loop's state at its first step, the training stream moved there, and the epoch's running cost so far."""
    total_batch = data.train.num_examples // config.batch_size  # the book's steps per epoch
    if total_batch == 0:
        raise ValueError(f"batch_size {config.batch_size} is larger than the training set "
                         f"({data.train.num_examples} examples)")
    state = TrainState(sess, g, config, total_batch,
                       global_step=start.global_step if start else int(sess.run(g.global_step)))
    data.train.seek(state.global_step * config.batch_size)
    carried = start.progress if start else None
    if carried and (carried.epoch, carried.steps) != divmod(state.global_step, total_batch):
        carried = None  # saved with another checkpoint than the one restored
    return state, carried


def _display(hooks: Sequence[Hook], state: TrainState, validation: Any) -> None:
    """Measures the validation error (unless there is no validation set) and calls the hooks' ``display``."""
    validation_error = None
    if validation.num_examples:
        config = state.config
        validation_error = 1.0 - evaluate_set(state.sess, state.g, validation, config.eval_batch_size,
                                              config.eval_examples).accuracy
    _call(hooks, "display", state, state.epoch_cost / state.epoch_steps, validation_error)


def _call(hooks: Sequence[Hook], method: str, *args) -> None:
    for hook in hooks:
        getattr(hook, method)(*args)


class Evaluation(NamedTuple):
    """The result of :func:`evaluate_set`.

    Attributes:
        accuracy: fraction classified correctly.
        cost: mean cross-entropy over the examples (the graph's ``cost``).
        num_examples: examples evaluated.
        outputs: each extra fetch, concatenated over the batches, by name.
    """
    accuracy: float
    cost: float
    num_examples: int
    outputs: dict


def evaluate_set(sess: v1.Session, g: ModelGraph, dataset: Any, batch_size: int = 1000, limit: int = 0,
                 fetches: dict | None = None) -> Evaluation:
    """Accuracy and mean cost over a whole data set, in batches, in inference mode (Book §5.8).

    The listing evaluates the whole validation set in one ``sess.run``; batches
    give the same numbers with bounded memory.

    Args:
        sess: a session of ``g.graph``.
        g: the model graph.
        dataset: has ``batches(batch_size)`` yielding (images, labels).
        batch_size: examples per ``sess.run``.
        limit: evaluate only the first ``limit`` examples (0 = all).
        fetches: optional ``{name: tensor}`` to fetch too (e.g. ``g.output``),
            each returned concatenated over the batches in ``outputs``.

    Returns:
        An :class:`Evaluation` (accuracy and cost are NaN for an empty set).
    """
    fetches = dict(fetches or {})
    correct, cost_sum, n = 0, 0.0, 0
    collected = {name: [] for name in fetches}
    for images, labels in dataset.batches(batch_size):
        if limit and n + len(images) > limit:
            images, labels = images[:limit - n], labels[:limit - n]
        if not len(images):
            break
        accuracy, batch_cost, extra = sess.run([g.eval_op, g.cost, fetches], {g.x: images, g.y: labels})
        correct += round(float(accuracy) * len(images))  # the book's eval_op is the batch's mean
        cost_sum += float(batch_cost) * len(images)
        n += len(images)
        for name, value in extra.items():
            collected[name].append(value)
    outputs = {name: np.concatenate(parts) for name, parts in collected.items() if parts}
    if not n:
        return Evaluation(float("nan"), float("nan"), 0, outputs)
    return Evaluation(correct / n, cost_sum / n, n, outputs)


class Start(NamedTuple):
    """How :func:`restore_or_initialize` started a run.

    Attributes:
        resumed: the checkpoint resumed from, or None for a new run.
        note: about ``init_checkpoint`` (the batch-norm naming read), or None.
        found: the run directory's checkpoints (:func:`dlfund.checkpoints.find_checkpoints`);
            ``found.skipped`` are the damaged ones newer than ``resumed``.
        global_step: the global step the run starts from.
        progress: the running cost of the epoch the resumed checkpoint is in, saved
            beside it (None for a new run, or if it is missing or unreadable).
    """
    resumed: str | None
    note: str | None
    found: checkpoints.RunCheckpoints
    global_step: int
    progress: checkpoints.EpochProgress | None = None


def restore_or_initialize(sess: v1.Session, g: ModelGraph, run_dir: str, init_checkpoint: str = "") -> Start:
    """Resumes from the newest checkpoint in ``run_dir`` that reads back in full, or starts a new run.

    A new run initializes every variable and then, with ``init_checkpoint``,
    loads the model's own variables (weights, batch-norm averages, global step)
    from it, e.g. a checkpoint of the book's own code (:func:`restore_model`);
    the optimizer starts afresh.

    Args:
        sess: a session of ``g.graph``.
        g: the model graph, built with training.
        run_dir: the directory of the run's checkpoints (need not exist).
        init_checkpoint: for a new run, a checkpoint to start the model from.

    Raises:
        CheckpointError: a checkpoint does not fit the model
            (:class:`~dlfund.errors.CheckpointMismatch`, :class:`~dlfund.errors.ForeignCheckpoint`),
            or the run directory holds checkpoints of which none reads back
            (:class:`~dlfund.errors.NoReadableCheckpoint`).
    """
    found = checkpoints.newest_intact(run_dir)
    resumed, note = found.latest, None
    if resumed:
        checkpoints.check_compatible(resumed, g.graph.get_collection(v1.GraphKeys.GLOBAL_VARIABLES))
        checkpoints.restore(sess, g.saver, resumed)
    else:
        sess.run(g.init_op)
        if init_checkpoint:
            note = restore_model(sess, g, init_checkpoint)
    return Start(resumed, note, found, int(sess.run(g.global_step)),
                 checkpoints.read_progress(resumed) if resumed else None)


def restore_model(sess: v1.Session, g: ModelGraph, checkpoint: str) -> str:
    """Loads the model's own variables (weights, batch-norm averages, global step) from ``checkpoint``.

    Optimizer state is neither needed nor read, so a checkpoint written with any
    optimizer, or by the book's own code under any TensorFlow it ran on, fits
    (:func:`dlfund.checkpoints.restore_variables`).

    Args:
        sess: a session of ``g.graph``.
        g: the model graph.
        checkpoint: the checkpoint's path prefix (or a V1 file).

    Returns:
        A note on the batch-norm naming read ("" for this code's own).

    Raises:
        CheckpointError: the checkpoint is missing, unreadable or does not match.
    """
    with g.graph.as_default():
        var_list = model_variables(g.spec.scope)
    return checkpoints.restore_variables(sess, var_list, checkpoint)
