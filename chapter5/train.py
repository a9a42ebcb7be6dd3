r"""Trains a chapter 5 network, as the book's ``convnet_mnist.py`` does (Book §5.8).

    python -m chapter5.train --flagfile=chapter5/flags/quickstart.cfg

Prints the book's lines (``Epoch: 0001 cost = ...``, ``Validation Error: ...``,
``Test Accuracy: ...``), writes TensorBoard summaries and Saver checkpoints into
``--logdir/<run_name>/`` and resumes from the latest checkpoint there when the
same command is run again. Ctrl-C saves a checkpoint and says how to resume.
The training loop itself is :func:`dlfund.training.train`; this program turns
flags into its configuration and hooks, holds the run directory's lock, wires
Ctrl-C and SIGTERM to a clean stop, and prints.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import signal
import sys
from typing import TextIO

import tensorflow as tf
from absl import flags

from chapter5 import _cli, common, rundir
from dlfund import checkpoints, summaries, training
from dlfund.errors import DlfundError
from dlfund.graph import build_graph
from dlfund.models import get_model

v1 = tf.compat.v1

define_flags = common.define_training_flags


def config_from_flags(fv: flags.FlagValues) -> training.TrainConfig:
    return training.TrainConfig(training_epochs=fv.training_epochs, batch_size=fv.batch_size, keep_prob=fv.keep_prob,
                                display_step=fv.display_step, eval_batch_size=fv.eval_batch_size,
                                eval_examples=fv.eval_examples)


def optimizer_args(fv: flags.FlagValues) -> dict:
    if fv.optimizer == "momentum":
        return dict(momentum=fv.momentum, nesterov=fv.nesterov)
    if fv.optimizer == "adam":
        return dict(beta1=fv.beta1, beta2=fv.beta2, epsilon=fv.epsilon)
    if fv.optimizer == "rmsprop":
        return dict(momentum=0.0 if fv["momentum"].using_default_value else fv.momentum)
    return {}


class BookLines(training.Hook):
    """Prints the listing's lines at every display step: ``Epoch: 0001 cost = ...``, ``Validation Error: ...``.

    The cost is the average over the whole epoch, also one resumed after an
    interruption; an epoch that ``--max_steps`` cut short says so on its line.
    """

    def __init__(self, out: TextIO, max_steps: int = 0) -> None:
        self.out, self.max_steps = out, max_steps

    def display(self, state, avg_cost: float, validation_error: float | None) -> None:
        cut = (f" ({state.epoch_steps} of {state.total_batch} steps: stopped at --max_steps={self.max_steps})"
               if state.epoch_steps < state.total_batch else "")
        print("Epoch:", "%04d" % (state.epoch + 1), "cost =", f"{avg_cost:.9f}{cut}", file=self.out, flush=True)
        if validation_error is not None:
            print("Validation Error:", "%.6f" % validation_error, file=self.out, flush=True)


def main(argv: list, fv: flags.FlagValues, out: TextIO | None = None, signals: bool = True) -> int:
    """Trains as the flags say; returns the exit code (130/143 when interrupted by SIGINT/SIGTERM).

    Args:
        argv: the arguments left after the flags (none are expected).
        fv: the parsed flags (:func:`chapter5.common.define_training_flags`).
        out: where the book's lines go (default: standard output).
        signals: stop cleanly on SIGINT and SIGTERM (main thread only).

    Raises:
        DlfundError: bad input, a run directory in use, divergence: one message each.
    """
    if len(argv) > 1:
        raise _cli.UsageError(f"unexpected arguments {argv[1:]}; flags look like --name=value (see --helpshort)")
    out = out or sys.stdout
    common.resolve_batch_norm(fv)
    data = common.load_data(fv, shuffle=fv.shuffle, sort_by_label=fv.sort_by_label, seed=fv.seed,
                            threads=fv.intra_op_threads)
    if fv.batch_size > data.train.num_examples:
        raise _cli.UsageError(f"--batch_size={fv.batch_size} is larger than the training set "
                              f"({data.train.num_examples} examples)")
    directory = rundir.run_dir(fv)
    rundir.check_resume(directory, fv)
    g = build_graph(get_model(fv.model), common.model_options(fv), learning_rate=fv.learning_rate,
                    optimizer=fv.optimizer, optimizer_args=optimizer_args(fv), sparse_labels=fv.dataset == "cifar10",
                    seed=fv.seed, summary_images=fv.summary_images, max_to_keep=fv.max_to_keep,
                    fast_matmul_grad=fv.fast_matmul_grad)
    with checkpoints.RunDirLock(directory) as lock, _cli.op_determinism(fv.deterministic):
        if lock.took_over_from:
            print(f"Took over {directory} from process {lock.took_over_from}, which is no longer running.", file=out)
        print(f"Data: {data.note}; {data.train.num_examples} training, {data.validation.num_examples} "
              f"validation, {data.test.num_examples} test examples.", file=out)
        print(f"Run directory: {directory}", file=out, flush=True)
        stop = training.StopOnRequest()
        with _cli.stop_on_signals(stop) if signals else contextlib.nullcontext(), \
                v1.Session(graph=g.graph, config=_cli.session_config(fv)) as sess:
            start = _start(sess, g, data, fv, directory, out)
            with _cli.file_writer(directory, g.graph) as writer:  # no event file for a run that cannot start
                return _train(sess, g, data, fv, directory, writer, stop, start, out)


def _start(sess, g, data, fv: flags.FlagValues, directory: str, out: TextIO) -> training.Start:
    """Resumes or starts the run, writes its flags.cfg and run_info.txt, and says what it did."""
    try:
        start = training.restore_or_initialize(sess, g, directory, fv.init_checkpoint)
    except checkpoints.NoReadableCheckpoint as e:
        raise DlfundError(f"{e}. To start the run over in a new run directory: "
                          + rundir.command("train", f"--flagfile={rundir.flagfile(directory)}",
                                           f"--run_name={os.path.basename(directory)}_new")) from None
    rundir.write_run_files(directory, fv, start.resumed)  # only once the flags are known to fit the checkpoint
    for path, problem in start.found.skipped:
        print(checkpoints.skipped_line(path, problem), file=out)
    step = int(sess.run(g.global_step))
    if start.resumed:
        print(f"Resuming from {start.resumed} (global step {step}, "
              f"{step // (data.train.num_examples // fv.batch_size)} of {fv.training_epochs} epochs done).", file=out)
    elif fv.init_checkpoint:
        print(f"Starting from {fv.init_checkpoint} (global step {step}){'; ' + start.note if start.note else ''}.",
              file=out)
    return start


def _train(sess, g, data, fv: flags.FlagValues, directory: str, writer, stop: training.StopOnRequest,
           start: training.Start, out: TextIO) -> int:
    held_out = data.validation if data.validation.num_examples else data.test
    images, labels = next(held_out.batches(16))
    keeper = checkpoints.CheckpointKeeper(g.saver, directory, start.found.intact)
    history, progress = training.History(), _cli.ProgressHook(fv.batch_size, fv.progress)
    hooks = [progress, training.DivergenceCheck(), BookLines(out, fv.max_steps),
             training.SummaryWriterHook(writer, {g.x: images, g.y: labels}, getattr(data.train, "preview", None)),
             training.CheckpointSaver(keeper, fv.save_every_steps), history, stop]
    if fv.max_steps:
        hooks.append(training.StopAtStep(fv.max_steps))
    started, from_step = datetime.datetime.now().isoformat(timespec="seconds"), int(sess.run(g.global_step))
    try:
        state = training.train(sess, g, data, config_from_flags(fv), hooks, carried=start.progress)
    except training.TrainingDiverged as e:
        progress.close()
        raise DlfundError(f"{e}; training diverged. Try a lower --learning_rate (now {fv.learning_rate:g}). The last "
                          f"good checkpoint is kept: {keeper.latest or 'none was saved yet'}"
                          ) from None
    except KeyboardInterrupt:
        progress.close()
        print("\nStopped by a second interrupt without saving; the previous checkpoints are kept.", file=out)
        return _cli.EXIT_INTERRUPTED
    record = {"model": fv.model, "dataset": fv.dataset, "seed": fv.seed, "global_step": state.global_step,
              "startup_seconds": history.first_step_time and round(history.first_step_time - _cli.PROCESS_START, 3),
              **history.as_dict()}
    invocation = {"started": started, "from_step": from_step, "to_step": state.global_step,
                  "train_seconds": round(history.train_seconds, 3), "ended": state.stop_reason or "finished"}
    if state.interrupted:
        rundir.update_results(directory, record, invocation)
        print(f"Interrupted by {stop.reason} at global step {state.global_step}; saved "
              f"{checkpoints.CHECKPOINT_PREFIX}-{state.global_step} in {directory}.", file=out)
        print("Resume with: " + rundir.command("train", f"--flagfile={rundir.flagfile(directory)}"), file=out)
        return 128 + signal.Signals[stop.reason]  # 130 for SIGINT, 143 for SIGTERM, as shells report them
    print("Optimization Finished!", file=out)
    test = training.evaluate_set(sess, g, data.test, fv.eval_batch_size, fv.eval_examples)
    writer.add_summary(summaries.scalar_summary({"test accuracy": test.accuracy, "test cost": test.cost}),
                       state.global_step)
    print("Test Accuracy:", "%.6f" % test.accuracy, file=out, flush=True)
    rundir.update_results(directory, {**record, "test_accuracy": test.accuracy, "test_cost": test.cost,
                                      "test_global_step": state.global_step}, invocation)
    return 0


if __name__ == "__main__":
    _cli.run(define_flags, main)
