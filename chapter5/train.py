r"""Trains a chapter 5 network, as the book's ``convnet_mnist.py`` does (Book §5.8).

    python -m chapter5.train --flagfile=chapter5/flags/quickstart.cfg

Prints the book's lines (``Epoch: 0001 cost = ...``, ``Validation Error: ...``,
``Test Accuracy: ...``), writes TensorBoard summaries and Saver checkpoints into
``--logdir/<run_name>/`` and resumes from the latest checkpoint there when the
same command is run again. Ctrl-C saves a checkpoint and says how to resume.
:func:`main` reads like the listing's ``__main__`` block; the training loop
itself is :func:`dlfund.training.train`, and what the listing does not do
(progress, the lock, Ctrl-C, the run's record) comes from ``chapter5``'s other
modules and :mod:`dlfund.hooks`.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import TextIO

import tensorflow as tf
from absl import flags

from chapter5 import _cli, flag_defs, from_flags, interrupts, progress, rundir
from dlfund import checkpoints, hooks, summaries, training

v1 = tf.compat.v1

define_flags = flag_defs.define_training_flags


class BookLines(training.Hook):
    """Prints the listing's lines at every display step: ``Epoch: 0001 cost = ...``, ``Validation Error: ...``.

    The cost is the average over the whole epoch, also one resumed after an
    interruption; an epoch that ``--max_steps`` cut short says so on its line.
    """

    def __init__(self, out: TextIO, max_steps: int = 0) -> None:
        self.out, self.max_steps = out, max_steps

    def display(self, state: training.TrainState, avg_cost: float, validation_error: float | None) -> None:
        cut = (f" ({state.epoch_steps} of {state.total_batch} steps: stopped at --max_steps={self.max_steps})"
               if state.epoch_steps < state.total_batch else "")
        print("Epoch:", "%04d" % (state.epoch + 1), "cost =", f"{avg_cost:.9f}{cut}", file=self.out, flush=True)
        if validation_error is not None:
            print("Validation Error:", "%.6f" % validation_error, file=self.out, flush=True)


def main(argv: list, fv: flags.FlagValues, out: TextIO | None = None, signals: bool = True,
         started: float | None = None) -> int:
    """Trains as the flags say; returns the exit code (130/143 when interrupted by SIGINT/SIGTERM).

    Args:
        argv: the arguments left after the flags (none are expected).
        fv: the parsed flags (:func:`chapter5.flag_defs.define_training_flags`).
        out: where the book's lines go (default: standard output).
        signals: stop cleanly on SIGINT and SIGTERM (main thread only).
        started: when this run started, for its start-up time (default: when the process started).

    Raises:
        DlfundError: bad input, a run directory in use, divergence: one message each.
    """
    _cli.no_arguments(argv)
    out = out or sys.stdout
    from_flags.resolve_batch_norm(fv)
    from_flags.resolve_listing_defaults(fv)
    # mnist = input_data.read_data_sets("data/", one_hot=True)
    data = from_flags.load_data(fv, shuffle=fv.shuffle, sort_by_label=fv.sort_by_label, seed=fv.seed,
                                threads=fv.intra_op_threads)
    if fv.batch_size > data.train.num_examples:
        raise _cli.UsageError(f"--batch_size={fv.batch_size} is larger than the training set "
                              f"({data.train.num_examples} examples)")
    interrupts.raise_if_pending()  # a Ctrl-C while the data was read ends the program now
    directory = rundir.run_dir(fv)
    rundir.check_resume(directory, fv)
    # with tf.Graph().as_default(): placeholders, inference, loss, training, evaluate, Saver
    g = from_flags.training_graph(fv)
    # A Ctrl-C held back while starting is taken here, before anything is written (chapter5/interrupts.py).
    with interrupts.stop_on_signals(signals) as stop, rundir.RunDirLock(directory) as lock, \
            from_flags.op_determinism(fv.deterministic), \
            v1.Session(graph=g.graph, config=from_flags.session_config(fv)) as sess:
        _report_where(lock, data, out)
        # sess.run(init_op), or the run's newest intact checkpoint
        start = training.restore_or_initialize(sess, g, directory, fv.init_checkpoint)
        rundir.write_run_files(directory, fv, start.resumed)  # only once the flags are known to fit the checkpoint
        _report_start(start, data, fv, out)
        invocation = rundir.Invocation(directory, fv, start.global_step, started)
        keeper = checkpoints.CheckpointKeeper(g.saver, directory, start.found.intact)
        history = hooks.History()
        # summary_writer = tf.train.SummaryWriter(...): opened only now, so a run that cannot start writes no events
        with summaries.file_writer(directory, g.graph) as writer, \
                progress.ProgressHook(fv.batch_size, fv.progress) as bar:
            run_hooks = [bar, hooks.DivergenceCheck(), BookLines(out, fv.max_steps), _summaries(writer, g, data),
                         hooks.CheckpointSaver(keeper, fv.save_every_steps), history, stop]
            if fv.max_steps:
                run_hooks.append(hooks.StopAtStep(fv.max_steps))
            # Training cycle
            state = training.train(sess, g, data, from_flags.train_config(fv), run_hooks, start)
            if stop.finish() or state.interrupted:  # also a signal after the last step: the run is saved
                invocation.save(state, history)
                return _interrupted(stop.reason, state.global_step, directory, out)
            print("Optimization Finished!", file=out)
            test = training.evaluate_set(sess, g, data.test, fv.eval_batch_size, fv.eval_examples)
            writer.add_summary(summaries.scalar_summary({"test accuracy": test.accuracy, "test cost": test.cost}),
                               state.global_step)
        print("Test Accuracy:", "%.6f" % test.accuracy, file=out, flush=True)
        invocation.save(state, history, test)
    return 0


def _report_where(lock: rundir.RunDirLock, data, out: TextIO) -> None:
    """Says which data the run reads and which run directory it writes (and whose stale lock it took over)."""
    if isinstance(lock.took_over_from, int):
        print(f"Took over {lock.directory} from process {lock.took_over_from}, which is no longer running.", file=out)
    elif lock.took_over_from:
        print(f"Took over {lock.directory}: its lock file {lock.path} was damaged (it named no process).", file=out)
    print(f"Data: {data.note}; {data.train.num_examples} training, {data.validation.num_examples} "
          f"validation, {data.test.num_examples} test examples.", file=out)
    print(f"Run directory: {lock.directory}", file=out, flush=True)


def _interrupted(reason: str, global_step: int, directory: str, out: TextIO) -> int:
    """Says where an interrupted run saved and how to resume it; returns 130 for SIGINT, 143 for SIGTERM."""
    print(f"Interrupted by {reason} at global step {global_step}; saved {checkpoints.CHECKPOINT_PREFIX}-{global_step} "
          f"in {directory}.", file=out)
    print("Resume with: " + rundir.command("train", f"--flagfile={rundir.flagfile(directory)}"), file=out)
    return 128 + signal.Signals[reason]  # as shells report a process ended by the signal


def _report_start(start: training.Start, data, fv: flags.FlagValues, out: TextIO) -> None:
    """Names what was found damaged, and says whether the run resumed or starts from a checkpoint."""
    rundir.report_checkpoints(rundir.run_dir(fv), start.found, out)
    progress_file = (start.resumed or "") + checkpoints.PROGRESS_SUFFIX
    if start.resumed and os.path.exists(progress_file) and start.progress is None:
        print(f"Note: {progress_file} is damaged; the resumed epoch's cost averages its steps from here on.",
              file=out)
    if start.resumed:
        print(f"Resuming from {start.resumed} (global step {start.global_step}, "
              f"{start.global_step // (data.train.num_examples // fv.batch_size)} of {fv.training_epochs} epochs "
              "done).", file=out)
    elif fv.init_checkpoint:
        print(f"Starting from {fv.init_checkpoint} (global step {start.global_step})"
              f"{'; ' + start.note if start.note else ''}.", file=out)


def _summaries(writer: v1.summary.FileWriter, g, data) -> hooks.SummaryWriterHook:
    """The listing's ``summary_writer.add_summary``, its images and histograms on 16 held-out images."""
    held_out = data.validation if data.validation.num_examples else data.test
    images, labels = next(held_out.batches(16))
    return hooks.SummaryWriterHook(writer, {g.x: images, g.y: labels}, getattr(data.train, "preview", None))


if __name__ == "__main__":
    _cli.run(define_flags, main, take_signals=False)  # taken when training starts: stop_on_signals
