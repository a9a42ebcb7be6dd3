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
objects attached to it, in the manner of the ``SessionRunHook`` s of
TensorFlow's CIFAR-10 tutorial. :func:`evaluate_set` is the evaluation loop
(validation, test, ``chapter5.evaluate``), :func:`train_step` the one training
step, and :func:`restore_or_initialize` starts or resumes a run.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import tensorflow as tf

from dlfund import checkpoints, summaries
from dlfund.errors import DlfundError
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


class TrainingDiverged(DlfundError):
    """The cost or a variable became NaN or infinite; nothing was saved after that step."""

    def __init__(self, message: str, global_step: int) -> None:
        super().__init__(message)
        self.global_step = global_step


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
        """Raises :class:`TrainingDiverged` if a variable is not finite; checked once per global step,
        so a display step's divergence check and its checkpoint share one check."""
        if self.finite_at != self.global_step:
            check_finite(self.sess, self.g, self.global_step)
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
               keep_prob: float, run_metadata: v1.RunMetadata | None = None) -> float:
    """One optimizer step on a mini-batch; returns the batch's cost as minimized (Book §5.8).

    Args:
        sess: a session of ``g.graph``.
        g: a graph built with training.
        minibatch_x: float32 [batch, *input_shape].
        minibatch_y: labels [batch, 10] one-hot or [batch] class ids.
        keep_prob: dropout keep probability.
        run_metadata: if given, the step is traced into it (TensorFlow's
            FULL_TRACE, for ``chapter5.benchmark``'s breakdown).

    Returns:
        The mean cross-entropy of the batch before the update.
    """
    feed = train_feed(g, minibatch_x, minibatch_y, keep_prob)
    if run_metadata is None:
        _, new_cost = sess.run([g.train_op, g.cost], feed_dict=feed)
    else:
        _, new_cost = sess.run([g.train_op, g.cost], feed_dict=feed, run_metadata=run_metadata,
                               options=v1.RunOptions(trace_level=v1.RunOptions.FULL_TRACE))
    return float(new_cost)


def train(sess: v1.Session, g: ModelGraph, data: Any, config: TrainConfig,
          hooks: Sequence[Hook] = (), carried: checkpoints.EpochProgress | None = None) -> TrainState:
    """Runs the book's training cycle from the graph's current ``global_step`` (Book §5.8).

    Args:
        sess: a session of ``g.graph``, variables set (:func:`restore_or_initialize`).
        g: a graph built with training (:func:`dlfund.graph.build_graph`).
        data: a :class:`dlfund.data.Datasets`: ``train`` is drawn with ``next_batch``
            (after ``seek`` past the examples already used), ``validation``
            evaluated at display steps unless empty.
        config: the training parameters.
        hooks: attached in this order (see :class:`Hook`).
        carried: the running cost saved with the restored checkpoint, so that the
            cost of an epoch resumed mid-way covers all its steps.

    Returns:
        The final :class:`TrainState` (``stop_reason`` says whether it stopped early).

    Raises:
        ValueError: ``config.batch_size`` is larger than the training set.
    """
    with g.graph.as_default():  # the hooks' saves and variable reads need the model's graph
        total_batch = data.train.num_examples // config.batch_size  # the book's steps per epoch
        if total_batch == 0:
            raise ValueError(f"batch_size {config.batch_size} is larger than the training set "
                             f"({data.train.num_examples} examples)")
        state = TrainState(sess, g, config, total_batch, global_step=int(sess.run(g.global_step)))
        data.train.seek(state.global_step * config.batch_size)
        start_epoch, first_batch = divmod(state.global_step, total_batch)
        carried = carried if carried and (carried.epoch, carried.steps) == (start_epoch, first_batch) else None
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
        c, batch_cost, extra = sess.run([g.correct, g.cost, fetches], {g.x: images, g.y: labels})
        correct += int(c)
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
    """
    resumed: str | None
    note: str | None
    found: checkpoints.RunCheckpoints

    @property
    def progress(self) -> checkpoints.EpochProgress | None:
        """The running cost of the epoch the resumed checkpoint is in (for :func:`train`'s ``carried``)."""
        return checkpoints.read_progress(self.resumed) if self.resumed else None


def restore_or_initialize(sess: v1.Session, g: ModelGraph, run_dir: str, init_checkpoint: str = "") -> Start:
    """Resumes from the newest checkpoint in ``run_dir`` that reads back in full, or starts a new run.

    A new run initializes every variable and then, with ``init_checkpoint``,
    loads the model's own variables (weights, batch-norm averages, global step)
    from it, e.g. a checkpoint of the book's own code
    (:func:`dlfund.checkpoints.restore_model`); the optimizer starts afresh.

    Raises:
        CheckpointError: a checkpoint does not fit the model, or the run
            directory holds checkpoints of which none reads back
            (:class:`dlfund.checkpoints.NoReadableCheckpoint`).
    """
    found = checkpoints.newest_intact(run_dir)
    if found.latest:
        checkpoints.check_compatible(found.latest, g.graph.get_collection(v1.GraphKeys.GLOBAL_VARIABLES))
        checkpoints.restore(sess, g.saver, found.latest)
        return Start(found.latest, None, found)
    sess.run(g.init_op)
    if init_checkpoint:
        return Start(None, restore_model(sess, g, init_checkpoint), found)
    return Start(None, None, found)


def restore_model(sess: v1.Session, g: ModelGraph, checkpoint: str) -> str:
    """Loads the model's own variables from ``checkpoint`` (see :func:`dlfund.checkpoints.restore_model`)."""
    with g.graph.as_default():
        var_list = model_variables(g.spec.scope)
    return checkpoints.restore_model(sess, g.graph, var_list, checkpoint)


def nonfinite_variables(sess: v1.Session, g: ModelGraph) -> list:
    """Names of the variables holding a NaN or an infinity (one cheap ``sess.run``)."""
    finite = sess.run(g.variables_finite)
    return [name for name, ok in zip(g.checked_variables, finite, strict=True) if not ok]


def check_finite(sess: v1.Session, g: ModelGraph, global_step: int) -> None:
    """Raises :class:`TrainingDiverged` if any variable is not finite."""
    bad = nonfinite_variables(sess, g)
    if bad:
        shown = ", ".join(bad[:4]) + (f" and {len(bad) - 4} more" if len(bad) > 4 else "")
        raise TrainingDiverged(f"the variables became non-finite (NaN or infinite) by global step {global_step}: "
                               f"{shown}", global_step)


class StopAtStep(Hook):
    """Ends training (as finished: displayed, saved, tested) when ``global_step`` reaches ``max_steps``."""

    def __init__(self, max_steps: int) -> None:
        self.max_steps = max_steps

    def begin(self, state: TrainState) -> None:
        if state.global_step >= self.max_steps:
            state.request_stop(f"global step {self.max_steps} reached")

    def after_step(self, state: TrainState, cost: float) -> None:
        if state.global_step >= self.max_steps:
            state.request_stop(f"global step {self.max_steps} reached")


class StopOnRequest(Hook):
    """Ends training at the next step boundary once :meth:`request` was called (e.g. by a signal handler).

    The stop counts as an interruption: the partial epoch is not displayed;
    a :class:`CheckpointSaver` still saves at the step reached.
    """

    def __init__(self) -> None:
        self.reason: str | None = None

    def request(self, reason: str) -> None:
        self.reason = reason

    def after_step(self, state: TrainState, cost: float) -> None:
        if self.reason is not None:
            state.request_stop(self.reason, interrupted=True)


class DivergenceCheck(Hook):
    """Stops with :class:`TrainingDiverged` when the cost or a variable becomes NaN or infinite.

    The cost is checked every step (it is computed anyway); the variables at
    every display step, before anything is summarized or saved. A NaN or
    infinite gradient shows as a non-finite variable after its update.
    """

    def after_step(self, state: TrainState, cost: float) -> None:
        if not math.isfinite(cost):
            raise TrainingDiverged(f"the cost became {cost} at global step {state.global_step} "
                                   f"(epoch {state.epoch + 1})", state.global_step)

    def display(self, state: TrainState, avg_cost: float, validation_error: float | None) -> None:
        state.check_finite()


class CheckpointSaver(Hook):
    """Saves ``model-checkpoint-<global_step>`` at display steps, every ``every_steps`` steps and at the end.

    Every save is preceded by :meth:`TrainState.check_finite`, so no checkpoint holds a
    NaN or an infinity: after a divergence the newest checkpoint is the last good one.
    ``keeper`` writes, checks and prunes the checkpoints; each carries the
    epoch's running cost (:class:`dlfund.checkpoints.EpochProgress`).
    """

    def __init__(self, keeper: checkpoints.CheckpointKeeper, every_steps: int = 0) -> None:
        self.keeper, self.every_steps = keeper, every_steps
        self.last_saved: int | None = None

    def begin(self, state: TrainState) -> None:
        if self.keeper.latest and checkpoints.checkpoint_step(self.keeper.latest) == state.global_step:
            self.last_saved = state.global_step  # resumed: that step is on disk

    def save(self, state: TrainState) -> None:
        if state.global_step != self.last_saved:
            state.check_finite()
            progress = checkpoints.EpochProgress(state.epoch, state.epoch_steps, state.epoch_cost)
            self.keeper.save(state.sess, state.global_step, progress)
            self.last_saved = state.global_step

    def after_step(self, state: TrainState, cost: float) -> None:
        if self.every_steps and state.global_step % self.every_steps == 0:
            self.save(state)

    def display(self, state: TrainState, avg_cost: float, validation_error: float | None) -> None:
        self.save(state)

    def end(self, state: TrainState) -> None:
        if state.global_step > 0:
            self.save(state)


class SummaryWriterHook(Hook):
    """Writes TensorBoard summaries at display steps.

    The scalars ``cost`` (the epoch's average) and ``validation error`` are the
    printed numbers; the graph's merged summaries (weight histograms, input
    images, filters) are computed on ``summary_feed``, a fixed batch of
    held-out images in inference mode; ``extra`` adds summaries made elsewhere
    (e.g. augmented CIFAR-10 images).

    Args:
        writer: the run's ``FileWriter`` (closed by its owner).
        summary_feed: feed for ``g.summary_op``, or None to skip it.
        extra: optional callable returning a list of ``Summary`` protos.
    """

    def __init__(self, writer: v1.summary.FileWriter, summary_feed: dict | None = None, extra=None) -> None:
        self.writer, self.summary_feed, self.extra = writer, summary_feed, extra

    def display(self, state: TrainState, avg_cost: float, validation_error: float | None) -> None:
        values = {"cost": avg_cost}
        if validation_error is not None:
            values["validation error"] = validation_error
        self.writer.add_summary(summaries.scalar_summary(values), state.global_step)
        if self.summary_feed is not None and state.g.summary_op is not None:
            self.writer.add_summary(state.sess.run(state.g.summary_op, self.summary_feed), state.global_step)
        for summary in (self.extra() if self.extra else []):
            self.writer.add_summary(summary, state.global_step)
        self.writer.flush()


class History(Hook):
    """Records what ``results.json`` reports: the displayed numbers and the time each epoch took.

    Attributes:
        epoch, cost, validation_error: one entry per display.
        epoch_seconds: ``{epoch number: seconds}``, the whole epoch (steps,
            batching, validation, summaries, checkpoint) as far as this run
            trained it; step_seconds: the same for its training steps' ``sess.run`` alone.
        train_seconds: the sum of ``epoch_seconds``.
        first_step_time: ``time.time()`` when the first step of this run finished.
    """

    def __init__(self) -> None:
        self.epoch, self.cost, self.validation_error = [], [], []
        self.epoch_seconds, self.step_seconds = {}, {}
        self.train_seconds = 0.0
        self.first_step_time: float | None = None
        self._epoch_start = self._step_start = 0.0
        self._steps_time = 0.0

    def begin_epoch(self, state: TrainState, steps: int) -> None:
        self._epoch_start, self._steps_time = time.perf_counter(), 0.0

    def before_step(self, state: TrainState) -> None:
        self._step_start = time.perf_counter()

    def after_step(self, state: TrainState, cost: float) -> None:
        self._steps_time += time.perf_counter() - self._step_start
        if self.first_step_time is None:
            self.first_step_time = time.time()

    def display(self, state: TrainState, avg_cost: float, validation_error: float | None) -> None:
        self.epoch.append(state.epoch + 1)
        self.cost.append(avg_cost)
        if validation_error is not None:
            self.validation_error.append(validation_error)

    def end_epoch(self, state: TrainState) -> None:
        seconds = time.perf_counter() - self._epoch_start
        self.train_seconds += seconds
        self.epoch_seconds[state.epoch + 1] = round(seconds, 3)
        self.step_seconds[state.epoch + 1] = round(self._steps_time, 3)

    def as_dict(self) -> dict:
        return {"epoch": self.epoch, "cost": self.cost, "validation_error": self.validation_error,
                "epoch_seconds": self.epoch_seconds, "step_seconds": self.step_seconds,
                "train_seconds": round(self.train_seconds, 3)}
