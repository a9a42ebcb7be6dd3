r"""Trains a chapter 5 network, as the book's ``convnet_mnist.py`` does (Book §5.8).

    python -m chapter5.train --flagfile=chapter5/flags/quickstart.cfg

Prints the book's lines (``Epoch: 0001 cost = ...``, ``Validation Error: ...``,
``Test Accuracy: ...``), writes TensorBoard summaries and Saver checkpoints into
``--logdir/<run_name>/`` and resumes from the latest checkpoint there when the
same command is run again. Ctrl-C saves a checkpoint and says how to resume.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import shlex
import signal
import sys
import time

from chapter5 import _cli
from chapter5 import common
from absl import flags

import tensorflow as tf

import dlfund
from dlfund import checkpoints, objectives, summaries
from dlfund.errors import RunDirError
from dlfund.graph import build_graph
from dlfund.models import get_model

v1 = tf.compat.v1
FLAGS = flags.FLAGS

common.define_model_flags(FLAGS)
common.define_data_flags(FLAGS)
flags.adopt_module_key_flags(common)  # list the model and data flags in --helpshort too

flags.DEFINE_enum("optimizer", "adam", objectives.OPTIMIZERS, "Optimizer (chapter 4's set).")
flags.DEFINE_float("learning_rate", 1e-4, "Learning rate (the book's convnet: Adam 1e-4).", lower_bound=0.0)
flags.DEFINE_float("momentum", 0.9, "Momentum (momentum optimizer; RMSProp's momentum, where 0 is plain RMSProp).",
                   lower_bound=0.0, upper_bound=1.0)
flags.DEFINE_bool("nesterov", False, "Nesterov momentum (momentum optimizer).")
flags.DEFINE_float("beta1", 0.9, "Adam beta1.", lower_bound=0.0, upper_bound=1.0)
flags.DEFINE_float("beta2", 0.999, "Adam beta2.", lower_bound=0.0, upper_bound=1.0)
flags.DEFINE_float("epsilon", 1e-8, "Adam epsilon.", lower_bound=0.0)
flags.DEFINE_integer("batch_size", 100, "Mini-batch size (the book: 100).", lower_bound=1)
flags.DEFINE_integer("training_epochs", 10, "Total epochs; a resumed run trains only what is left "
                     "(the book's listing says 1000).", lower_bound=1)
flags.DEFINE_integer("max_steps", 0, "Stop at this global step (0 = no limit); for smoke runs and benchmarks.",
                     lower_bound=0)
flags.DEFINE_float("keep_prob", 0.5, "Dropout keep probability in training, in (0, 1] (the book: 0.5).")
flags.DEFINE_integer("display_step", 1, "Print, evaluate, summarize and checkpoint every this many epochs.",
                     lower_bound=1)
flags.DEFINE_integer("seed", 0, "Random seed of initial weights, dropout and the data order.")
flags.DEFINE_bool("shuffle", True, "Reshuffle the training set every epoch.")
flags.DEFINE_bool("sort_by_label", False, "Visit the training set sorted by label every epoch (experiment).")
flags.DEFINE_bool("deterministic", False, "TensorFlow op determinism: same seed, same numbers (slower).")
flags.DEFINE_string("logdir", "logs", "Parent directory of run directories (TensorBoard --logdir).")
flags.DEFINE_string("run_name", "", "Run directory name under --logdir; empty = <model>_<dataset>.")
flags.DEFINE_integer("max_to_keep", 5, "Recent checkpoints kept in the run directory.", lower_bound=1)
flags.DEFINE_integer("save_every_steps", 0, "Also checkpoint every this many steps (0 = only at display "
                     "steps).", lower_bound=0)
flags.DEFINE_integer("eval_batch_size", 1000, "Batch size for validation and test evaluation.", lower_bound=1)
flags.DEFINE_integer("eval_examples", 0, "Evaluate on only the first N validation/test examples (0 = all; "
                     "128 reproduces the CIFAR listings' single-batch test, errata E4).", lower_bound=0)
flags.DEFINE_bool("summary_images", True, "Write input digits and first-layer filters to TensorBoard.")
flags.DEFINE_integer("intra_op_threads", 0, "Threads inside one op (0 = TensorFlow's choice).", lower_bound=0)
flags.DEFINE_integer("inter_op_threads", 1, "Ops run in parallel (0 = TensorFlow's choice; 1 measured fastest for "
                     "these sequential networks, see docs/performance.md).", lower_bound=0)
flags.DEFINE_enum("progress", "auto", ["auto", "on", "off"], "Progress bar within an epoch (auto: on a terminal).")

flags.register_validator("keep_prob", lambda v: 0.0 < v <= 1.0, "--keep_prob must be in (0, 1]")
flags.register_validator("learning_rate", lambda v: v > 0.0, "--learning_rate must be positive")
flags.register_multi_flags_validator(["model", "dataset"], lambda d: _model_fits(d["model"], d["dataset"]),
                                     "--model and --dataset do not fit: CIFAR models need --dataset=cifar10, "
                                     "MNIST models an MNIST-format data set")

# Flags not written into a run's flags.cfg: they say how to show or cap one invocation, not what the run is.
UNSAVED_FLAGS = ("verbose", "debug", "progress", "max_steps")


def _model_fits(model: str, dataset: str) -> bool:
    return (get_model(model).input_shape != (784,)) == (dataset == "cifar10")


def run_dir() -> str:
    return os.path.join(FLAGS.logdir, FLAGS.run_name or f"{FLAGS.model}_{FLAGS.dataset}")


def flags_file_text() -> str:
    """The resolved flags of this run, one ``--name=value`` per line (a reusable flagfile)."""
    lines = {}
    # absl files flags under the defining module's name ("chapter5.common", or the
    # script path for the module run with -m): keep those of the chapter5 package.
    for module, module_flags in FLAGS.flags_by_module_dict().items():
        if "chapter5" not in module:
            continue
        for fl in module_flags:
            if fl.name not in UNSAVED_FLAGS:
                lines[fl.name] = fl.serialize() if fl.value is not None else f"--{fl.name}="
    return "\n".join(lines[name] for name in sorted(lines)) + "\n"


def load_data():
    """Reads the data set chosen by the flags (see ``dlfund.data``)."""
    return common.load_data(FLAGS, shuffle=FLAGS.shuffle, sort_by_label=FLAGS.sort_by_label, seed=FLAGS.seed,
                            threads=FLAGS.intra_op_threads)


def write_run_files(directory: str, resumed_from: str | None) -> None:
    """Saves the resolved flags and a note saying what this run is and how to continue it."""
    flagfile = os.path.join(directory, "flags.cfg")
    with open(flagfile, "w") as f:
        f.write(flags_file_text())
    info = [
        f"dlfund {dlfund.__version__} run '{os.path.basename(directory)}': model {FLAGS.model}, dataset {FLAGS.dataset}",
        f"last started {datetime.datetime.now().isoformat(timespec='seconds')}"
        + (f" (resumed from {os.path.basename(resumed_from)})" if resumed_from else " (new run)"),
        f"TensorFlow {tf.__version__}, Python {platform.python_version()}, {platform.platform()}",
        f"seed {FLAGS.seed}; deterministic ops {'on' if FLAGS.deterministic else 'off'}",
        "command: python -m chapter5.train " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "",
        f"resume or extend: python -m chapter5.train --flagfile={flagfile} [--training_epochs=N]",
        f"evaluate:         python -m chapter5.evaluate --logdir={directory}",
        f"predict:          python -m chapter5.predict --logdir={directory} IMAGE...",
        f"TensorBoard:      tensorboard --logdir={os.path.dirname(directory) or '.'}",
    ]
    with open(os.path.join(directory, "run_info.txt"), "w") as f:
        f.write("\n".join(info) + "\n")


def check_existing_run(directory: str) -> None:
    """Refuses to resume a run directory that holds a different model."""
    saved = os.path.join(directory, "flags.cfg")
    if not os.path.exists(saved):
        return
    model = common.read_flags_file(saved).get("model", FLAGS.model)
    if model != FLAGS.model:
        raise RunDirError(f"{directory} holds a --model={model} run, not --model={FLAGS.model}; "
                          "choose another --run_name (or --logdir) for a new run")


def evaluate_set(sess, g, dataset, batch_size: int, limit: int = 0) -> tuple[float, float]:
    """Accuracy and mean cost over a whole data set (or its first ``limit`` examples), in batches."""
    correct, cost_sum, n = 0, 0.0, 0
    for images, labels in dataset.batches(batch_size):
        if limit and n + len(images) > limit:
            images, labels = images[:limit - n], labels[:limit - n]
        if not len(images):
            break
        c, batch_cost = sess.run([g.correct, g.cost], {g.x: images, g.y: labels})
        correct += int(c)
        cost_sum += float(batch_cost) * len(images)
        n += len(images)
    return (correct / n if n else float("nan")), (cost_sum / n if n else float("nan"))


def write_results(directory: str, results: dict) -> None:
    """Writes ``results.json``: this invocation's final numbers (read by chapter5.compare)."""
    tmp = os.path.join(directory, "results.json.tmp")
    with open(tmp, "w") as f:
        json.dump(results, f, indent=1)
    os.replace(tmp, os.path.join(directory, "results.json"))


class _Stop:
    """Records SIGINT/SIGTERM so the loop can stop at a step boundary and save."""

    def __init__(self) -> None:
        self.signal = None

    def __call__(self, signum, frame) -> None:
        if self.signal is not None:  # second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.signal = signum


def session_config() -> v1.ConfigProto:
    return v1.ConfigProto(intra_op_parallelism_threads=FLAGS.intra_op_threads,
                          inter_op_parallelism_threads=FLAGS.inter_op_threads)


def main(argv: list) -> int:
    if len(argv) > 1:
        return _cli.fail(f"unexpected arguments {argv[1:]}; flags look like --name=value "
                         "(see --helpshort)")
    common.resolve_batch_norm(FLAGS)
    if FLAGS.deterministic:
        tf.config.experimental.enable_op_determinism()
    spec = get_model(FLAGS.model)
    data = load_data()
    train_set = data.train
    if FLAGS.batch_size > train_set.num_examples:
        return _cli.fail(f"--batch_size={FLAGS.batch_size} is larger than the training set "
                         f"({train_set.num_examples} examples)")
    total_batch = train_set.num_examples // FLAGS.batch_size  # the book's steps per epoch
    directory = run_dir()
    check_existing_run(directory)

    g = build_graph(spec, common.model_options(FLAGS), learning_rate=FLAGS.learning_rate,
                    optimizer=FLAGS.optimizer, sparse_labels=FLAGS.dataset == "cifar10", seed=FLAGS.seed,
                    optimizer_args=_optimizer_args(), summary_images=FLAGS.summary_images,
                    max_to_keep=FLAGS.max_to_keep)
    progress_enabled = None if FLAGS.progress == "auto" else FLAGS.progress == "on"

    with checkpoints.RunDirLock(directory) as lock:
        if lock.took_over_from:
            print(f"Took over {directory} from process {lock.took_over_from}, which is no longer running.")
        latest = checkpoints.latest_checkpoint(directory)
        try:
            write_run_files(directory, latest)
        except OSError as e:
            raise RunDirError(f"{directory}: not writable ({e.strerror or e}); choose another --logdir") from None
        print(f"Data: {data.note}; {train_set.num_examples} training, {data.validation.num_examples} "
              f"validation, {data.test.num_examples} test examples.")
        print(f"Run directory: {directory}")

        stop = _Stop()
        old_handlers = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            with g.graph.as_default(), v1.Session(graph=g.graph, config=session_config()) as sess:
                return _train(sess, g, data, directory, latest, total_batch, stop, progress_enabled)
        finally:
            for s, h in old_handlers.items():
                signal.signal(s, h)


def _optimizer_args() -> dict:
    name = FLAGS.optimizer
    if name == "momentum":
        return dict(momentum=FLAGS.momentum, nesterov=FLAGS.nesterov)
    if name == "adam":
        return dict(beta1=FLAGS.beta1, beta2=FLAGS.beta2, epsilon=FLAGS.epsilon)
    if name == "rmsprop":
        return dict(momentum=0.0 if FLAGS["momentum"].using_default_value else FLAGS.momentum)
    return {}


def _train(sess, g, data, directory, latest, total_batch, stop, progress_enabled) -> int:
    train_set = data.train
    writer = v1.summary.FileWriter(directory, graph=g.graph)
    try:
        if latest:
            checkpoints.check_compatible(latest, g.graph.get_collection(v1.GraphKeys.GLOBAL_VARIABLES))
            g.saver.restore(sess, latest)
        else:
            sess.run(g.init_op)
        step = int(sess.run(g.global_step))
        start_epoch, step_in_epoch = divmod(step, total_batch)
        if latest:
            print(f"Resuming from {latest} (global step {step}, {start_epoch} of {FLAGS.training_epochs} "
                  f"epochs done).")
        train_set.seek(step * FLAGS.batch_size)
        summary_feed = None
        if g.summary_op is not None:
            images, labels = next(data.validation.batches(16)) if data.validation.num_examples else \
                next(data.test.batches(16))
            summary_feed = {g.x: images, g.y: labels}
        last_saved = step if latest else -1
        train_feed_extra = {g.keep_prob: FLAGS.keep_prob}
        if g.phase_train is not None:
            train_feed_extra[g.phase_train] = True

        def save(step_now: int) -> None:
            nonlocal last_saved
            if step_now != last_saved:
                checkpoints.save(sess, g.saver, directory, step_now)
                last_saved = step_now

        # epoch_seconds: the whole epoch (steps, batching, validation, summaries, checkpoint);
        # step_seconds: its training steps' sess.run alone, to show what the rest costs.
        history = {"epoch": [], "cost": [], "validation_error": [], "epoch_seconds": [], "step_seconds": []}
        startup_seconds = None
        train_seconds = 0.0

        def display(epoch: int, avg_cost: float, step_now: int) -> None:
            print("Epoch:", "%04d" % (epoch + 1), "cost =", "{:.9f}".format(avg_cost), flush=True)
            values = {"cost": avg_cost}
            history["epoch"].append(epoch + 1)
            history["cost"].append(avg_cost)
            if data.validation.num_examples:
                accuracy, _ = evaluate_set(sess, g, data.validation, FLAGS.eval_batch_size, FLAGS.eval_examples)
                print("Validation Error:", "%.6f" % (1.0 - accuracy), flush=True)
                values["validation error"] = 1.0 - accuracy
                history["validation_error"].append(1.0 - accuracy)
            writer.add_summary(summaries.scalar_summary(values), step_now)
            if summary_feed is not None:
                writer.add_summary(sess.run(g.summary_op, summary_feed), step_now)
            writer.flush()
            save(step_now)

        epoch = start_epoch
        while epoch < FLAGS.training_epochs:
            if FLAGS.max_steps and step >= FLAGS.max_steps:
                break
            bar = _cli.Progress(total_batch - step_in_epoch, FLAGS.batch_size, enabled=progress_enabled)
            cost_sum, steps_run = 0.0, 0
            epoch_start = time.perf_counter()
            step_seconds = 0.0
            for _ in range(step_in_epoch, total_batch):
                batch_x, batch_y = train_set.next_batch(FLAGS.batch_size)
                feed = {g.x: batch_x, g.y: batch_y, **train_feed_extra}
                # One run for the step and its cost (the book ran the forward pass a second time).
                run_start = time.perf_counter()
                _, batch_cost = sess.run([g.train_op, g.cost], feed)
                step_seconds += time.perf_counter() - run_start
                if startup_seconds is None:
                    startup_seconds = time.time() - _cli.PROCESS_START
                if not math.isfinite(batch_cost):
                    bar.close()
                    writer.flush()
                    return _cli.fail(
                        f"the cost became {batch_cost} at global step {step + 1} (epoch {epoch + 1}); training "
                        f"diverged. Try a lower --learning_rate (now {FLAGS.learning_rate:g}). The last good "
                        f"checkpoint is kept: {checkpoints.latest_checkpoint(directory) or 'none was saved yet'}")
                step += 1
                steps_run += 1
                cost_sum += float(batch_cost)
                bar.update(steps_run, cost_sum / steps_run)
                if FLAGS.save_every_steps and step % FLAGS.save_every_steps == 0:
                    save(step)
                if stop.signal is not None or (FLAGS.max_steps and step >= FLAGS.max_steps):
                    break
            bar.close()
            train_seconds += time.perf_counter() - epoch_start
            finished_epoch = step % total_batch == 0
            if stop.signal is not None:
                save(step)
                writer.flush()
                name = signal.Signals(stop.signal).name
                print(f"Interrupted by {name} at global step {step}; saved "
                      f"{checkpoints.CHECKPOINT_PREFIX}-{step} in {directory}.")
                print(f"Resume with: python -m chapter5.train --flagfile={os.path.join(directory, 'flags.cfg')}")
                return 128 + stop.signal  # 130 for SIGINT, 143 for SIGTERM, as shells report them
            if steps_run and (epoch % FLAGS.display_step == 0 or not finished_epoch
                              or epoch + 1 == FLAGS.training_epochs):
                display(epoch, cost_sum / steps_run, step)
            history["epoch_seconds"].append(round(time.perf_counter() - epoch_start, 3))
            history["step_seconds"].append(round(step_seconds, 3))
            if not finished_epoch:
                break  # --max_steps reached inside the epoch
            epoch += 1
            step_in_epoch = 0
        if step > 0:
            save(step)

        print("Optimization Finished!")
        accuracy, test_cost = evaluate_set(sess, g, data.test, FLAGS.eval_batch_size, FLAGS.eval_examples)
        writer.add_summary(summaries.scalar_summary({"test accuracy": accuracy, "test cost": test_cost}), step)
        print("Test Accuracy:", "%.6f" % accuracy, flush=True)
        write_results(directory, {"model": FLAGS.model, "dataset": FLAGS.dataset, "seed": FLAGS.seed,
                                  "global_step": step, "test_accuracy": accuracy, "test_cost": test_cost,
                                  "train_seconds": round(train_seconds, 3),
                                  "startup_seconds": startup_seconds and round(startup_seconds, 3), **history})
        return 0
    except KeyboardInterrupt:
        print("\nStopped by a second interrupt without saving; the previous checkpoints are kept.")
        return _cli.EXIT_INTERRUPTED
    finally:
        writer.close()


if __name__ == "__main__":
    _cli.run(main)
