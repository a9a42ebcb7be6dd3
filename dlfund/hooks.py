"""The training loop's hooks: what :func:`dlfund.training.train` does besides the book's cycle.

Each is a small :class:`dlfund.training.Hook`, attached to the loop as
TensorFlow's CIFAR-10 tutorial attaches its ``StopAtStepHook`` and
``NanTensorHook``: stopping at a step or on request (a signal), stopping on
divergence, the listing's ``saver.save`` at display steps (and every N steps),
its ``summary_writer.add_summary``, and the record of the displayed numbers and
times. Printing is the program's (``chapter5/train.py``, ``chapter5/progress.py``).
"""

from __future__ import annotations

import math
import time

import tensorflow as tf

from dlfund import checkpoints, summaries
from dlfund.errors import TrainingDiverged
from dlfund.training import Hook, TrainState

v1 = tf.compat.v1


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
