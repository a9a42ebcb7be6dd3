"""The flags of the chapter 5 programs (model, data, training) and what they build.

Each ``define_*`` function defines its flags on a given ``FlagValues``, so that
every program can be imported into one process and a run's saved ``flags.cfg``
can be read back by absl into a fresh set (:func:`read_run_flags`).
"""

from __future__ import annotations

import glob
import os
import sys

import tensorflow as tf
from absl import flags

from chapter5 import _cli
from dlfund import checkpoints, layers, objectives, preprocessing
from dlfund.data import mnist
from dlfund.errors import CheckpointError, RunDirError
from dlfund.graph import ModelGraph, build_graph
from dlfund.models import MODEL_NAMES, ModelOptions, get_model
from dlfund.training import restore_model

DATASETS = ("mnist", "fashion_mnist", "mnist_sample", "cifar10")
MODEL_FLAGS = ("model", "weight_init", "activation", "hidden_units", "book_output_relu", "book_bn_update")
DATA_FLAGS = ("dataset", "data_dir", "validation_size", "augment", "whiten", "book_validation_on_test")

# Flags that define what a run is: a resume must keep them (its flags.cfg says them for the whole run).
RUN_FLAGS = MODEL_FLAGS + ("dataset", "validation_size", "whiten", "book_validation_on_test", "batch_size",
                           "optimizer")
# Of those, the ones that change the model's variables: a checkpoint does not start a run that changes them.
SHAPE_FLAGS = ("model", "hidden_units", "book_output_relu")

# Flags not written into a run's flags.cfg: they say how to show or cap one invocation, not what the run is.
UNSAVED_FLAGS = ("verbose", "debug", "progress", "max_steps", "init_checkpoint")


#: What the trained-model programs say of a model or data flag: its value comes from the run.
FROM_RUN = " Default: the run's own (its flags.cfg)."


def define_model_flags(fv: flags.FlagValues, for_run: bool = False) -> None:
    """Flags that choose and shape the network; ``for_run``: a trained run's (their defaults are its flags.cfg)."""
    note = FROM_RUN if for_run else ""
    flags.DEFINE_enum("model", "mnist_conv", MODEL_NAMES, ("Network." + note if for_run else "Network to train; "
                      "mnist_conv is the book's MNIST convnet of §5.8."), flag_values=fv)
    flags.DEFINE_enum("weight_init", "book", layers.WEIGHT_INITS, "Weight initializer; 'book' is "
                      "N(0, sqrt(2/fan_in))." + note, flag_values=fv)
    flags.DEFINE_enum("activation", "", [""] + [a for a in layers.ACTIVATIONS if a != "none"],
                      "Hidden activation; empty = the model's own (ReLU; tanh for LeNet-5)." + note, flag_values=fv)
    flags.DEFINE_list("hidden_units", ["256", "256"], "MLP hidden layer sizes (256,256 as in chapter 3)." + note,
                      flag_values=fv)
    flags.DEFINE_bool("batch_norm", False, "Use the batch-normalized variant of --model (mnist_conv -> "
                      "mnist_conv_bn, mlp -> mlp_bn, lenet5 -> lenet5_bn, cifar_conv -> cifar_conv_bn; Book §5.10).",
                      flag_values=fv)
    flags.DEFINE_bool("book_output_relu", False, "Reproduce errata E1: ReLU (and batch norm) on the output "
                      "logits, as printed." + note, flag_values=fv)
    flags.DEFINE_bool("book_bn_update", False, "Reproduce errata E2: batch-norm moving averages also update "
                      "during evaluation, as printed." + note, flag_values=fv)
    flags.register_validator("hidden_units", lambda v: bool(v) and all(u.isdigit() and int(u) > 0 for u in v),
                             "--hidden_units must be positive integers, e.g. 256,256", flag_values=fv)


#: The data flags each kind of program has: training all; evaluation what reads the test set; predict the names.
TRAINING_DATA_FLAGS = DATA_FLAGS + ("download",)
EVALUATION_DATA_FLAGS = ("dataset", "data_dir", "download", "whiten")


def define_data_flags(fv: flags.FlagValues, names=TRAINING_DATA_FLAGS, for_run: bool = False) -> None:
    """The flags of ``names`` that choose and read the data set; ``for_run`` as for :func:`define_model_flags`."""
    note, d = (FROM_RUN if for_run else ""), dict(flag_values=fv)
    if "dataset" in names:
        flags.DEFINE_enum("dataset", "mnist", DATASETS, "Data set. mnist/fashion_mnist are downloaded into "
                          "--data_dir when missing; mnist_sample is bundled (offline)." + note, **d)
    if "data_dir" in names:
        flags.DEFINE_string("data_dir", "data", "Directory of the data files; each data set uses a "
                            "sub-directory named after it (data/mnist, ...).", **d)
    if "validation_size" in names:
        flags.DEFINE_integer("validation_size", -1, "Leading training images held out for validation; -1 = the "
                             "data set's own (5,000; 500 for mnist_sample).", lower_bound=-1, **d)
    if "book_validation_on_test" in names:
        flags.DEFINE_bool("book_validation_on_test", False, "Reproduce errata E12: the CIFAR-10 listings' "
                          "'Validation Error' is measured on the test set (no images are held out).", **d)
    if "download" in names:
        flags.DEFINE_bool("download", True, "Download missing data files from the mirrors (--nodownload: fail "
                          "instead, e.g. offline).", **d)
    if "augment" in names:
        flags.DEFINE_list("augment", [], "Random training augmentations for cifar10, from: "
                          + ",".join(preprocessing.AUGMENTATIONS) + ". Empty = the book's "
                          + ",".join(preprocessing.BOOK_CIFAR_AUGMENT) + "; 'none' = no augmentation.", **d)
        flags.register_validator("augment", lambda v: all(a in preprocessing.AUGMENTATIONS or a == "none" for a in v),
                                 "--augment takes names from " + ",".join(preprocessing.AUGMENTATIONS) + " (or none)",
                                 **d)
        flags.register_multi_flags_validator(["augment", "dataset"],
                                             lambda v: not v["augment"] or v["dataset"] == "cifar10",
                                             "--augment applies to --dataset=cifar10 only", **d)
    if "whiten" in names:
        flags.DEFINE_bool("whiten", True, "Per-image whitening of cifar10 images (training and evaluation)." + note,
                          **d)


def define_training_flags(fv: flags.FlagValues) -> None:
    """The training run's flags (``chapter5.train``; also read back from a run's ``flags.cfg``)."""
    define_model_flags(fv)
    define_data_flags(fv)
    _cli.define_cli_flags(fv)
    d = dict(flag_values=fv)
    flags.DEFINE_enum("optimizer", "adam", objectives.OPTIMIZERS, "Optimizer (chapter 4's set).", **d)
    flags.DEFINE_float("learning_rate", 1e-4, "Learning rate, a positive number (the book's convnet: Adam 1e-4).",
                       **d)
    flags.DEFINE_float("momentum", 0.9, "Momentum (momentum optimizer; RMSProp's momentum, where 0 is plain "
                       "RMSProp).", lower_bound=0.0, upper_bound=1.0, **d)
    flags.DEFINE_bool("nesterov", False, "Nesterov momentum (momentum optimizer).", **d)
    flags.DEFINE_float("beta1", 0.9, "Adam beta1.", lower_bound=0.0, upper_bound=1.0, **d)
    flags.DEFINE_float("beta2", 0.999, "Adam beta2.", lower_bound=0.0, upper_bound=1.0, **d)
    flags.DEFINE_float("epsilon", 1e-8, "Adam epsilon.", lower_bound=0.0, **d)
    flags.DEFINE_integer("batch_size", 100, "Mini-batch size (the book: 100).", lower_bound=1, **d)
    flags.DEFINE_integer("training_epochs", 10, "Total epochs; a resumed run trains only what is left "
                         "(the book's listings say 1000).", lower_bound=1, **d)
    flags.DEFINE_integer("max_steps", 0, "Stop at this global step (0 = no limit), e.g. for smoke runs.",
                         lower_bound=0, **d)
    flags.DEFINE_float("keep_prob", 0.5, "Dropout keep probability in training, in (0, 1] (the book: 0.5).", **d)
    flags.DEFINE_integer("display_step", 1, "Print, evaluate, summarize and checkpoint every this many epochs.",
                         lower_bound=1, **d)
    flags.DEFINE_integer("seed", 0, "Random seed of initial weights, dropout and the data order.", **d)
    flags.DEFINE_bool("shuffle", True, "Reshuffle the training set every epoch.", **d)
    flags.DEFINE_bool("sort_by_label", False, "Visit the training set sorted by label every epoch (experiment).", **d)
    flags.DEFINE_bool("deterministic", False, "TensorFlow op determinism: same seed, same numbers (slower).", **d)
    flags.DEFINE_string("logdir", "logs", "Parent directory of run directories (TensorBoard --logdir).", **d)
    flags.DEFINE_string("run_name", "", "Run directory name under --logdir; empty = <model>_<dataset>.", **d)
    flags.DEFINE_string("init_checkpoint", "", "Start a new run from this checkpoint's model variables (e.g. one "
                        "written by the book's own code, any TensorFlow version); the optimizer starts afresh.", **d)
    flags.DEFINE_integer("max_to_keep", 5, "Recent checkpoints kept in the run directory.", lower_bound=1, **d)
    flags.DEFINE_integer("save_every_steps", 0, "Also checkpoint every this many steps (0 = only at display "
                         "steps).", lower_bound=0, **d)
    flags.DEFINE_integer("eval_batch_size", 1000, "Batch size for validation and test evaluation.", lower_bound=1, **d)
    flags.DEFINE_integer("eval_examples", 0, "Evaluate on only the first N validation/test examples (0 = all; "
                         "128 approximates the CIFAR listings' single-batch test, errata E4).", lower_bound=0, **d)
    flags.DEFINE_bool("summary_images", True, "Write input images and first-layer filters to TensorBoard.", **d)
    flags.DEFINE_integer("intra_op_threads", 0, "Threads inside one op (0 = TensorFlow's choice).", lower_bound=0, **d)
    flags.DEFINE_integer("inter_op_threads", 1, "Ops run in parallel (0 = TensorFlow's choice; 1 is fastest for "
                         "these networks, whose ops form a chain).", lower_bound=0, **d)
    flags.DEFINE_bool("fast_matmul_grad", False, "Compute the input gradient of fc layers with 512 or more outputs "
                      "as a batched matrix product (dlfund/fast_matmul_grad.py): the same values, a kernel that "
                      "may be faster on some CPUs.", **d)
    flags.DEFINE_enum("progress", "auto", ["auto", "on", "off"], "Progress bar within an epoch (auto: on a terminal).",
                      **d)
    flags.register_validator("keep_prob", lambda v: 0.0 < v <= 1.0, "--keep_prob must be in (0, 1]", **d)
    flags.register_validator("learning_rate", lambda v: v > 0.0, "--learning_rate must be positive", **d)
    flags.register_multi_flags_validator(
        ["model", "dataset"], lambda v: (get_model(v["model"]).input_shape != (784,)) == (v["dataset"] == "cifar10"),
        "--model and --dataset do not fit: CIFAR models need --dataset=cifar10, MNIST models an MNIST-format "
        "data set", **d)


def define_trained_model_flags(fv: flags.FlagValues, data_flags=EVALUATION_DATA_FLAGS) -> None:
    """The flags of a program that uses a trained model: its run (or a checkpoint), model and ``data_flags``.

    ``--logdir`` means what it means to ``chapter5.train`` and TensorBoard, the
    parent of run directories; ``--run_name`` picks the run.
    """
    define_model_flags(fv, for_run=True)
    define_data_flags(fv, data_flags, for_run=True)
    _cli.define_cli_flags(fv)
    flags.DEFINE_string("logdir", "logs", "Parent directory of run directories, as for chapter5.train and "
                        "TensorBoard.", flag_values=fv)
    flags.DEFINE_string("run_name", "", "The run under --logdir (e.g. quickstart; batch_norm/mlp for a run of "
                        "chapter5.compare): its flags.cfg and newest checkpoint.", flag_values=fv)
    flags.DEFINE_string("checkpoint", "", "Checkpoint path prefix instead of the run's latest (e.g. a book-era "
                        "model-checkpoint-550000; then give --model and --dataset).", flag_values=fv)


def list_runs(logdir: str) -> list:
    """The run directories under ``logdir`` (those with a flags.cfg), as run names, to two levels (suites)."""
    runs = []
    for depth in ("*", os.path.join("*", "*")):
        for found in glob.glob(os.path.join(glob.escape(logdir), depth, "flags.cfg")):
            runs.append(os.path.relpath(os.path.dirname(found), logdir))
    return sorted(runs)


def _no_such_run(fv: flags.FlagValues, problem: str) -> RunDirError:
    runs = list_runs(fv.logdir)
    there = (f"the runs in {fv.logdir}: {', '.join(runs)}" if runs else
             f"{fv.logdir} holds no runs yet: train one first (python -m chapter5.train ...)")
    return RunDirError(f"{problem}; {there}. Or pass --checkpoint=PATH with --model and --dataset")


def trained_model_dir(fv: flags.FlagValues) -> tuple[str, flags.FlagValues | None]:
    """The run directory (``--logdir/--run_name``, or the checkpoint's directory) and its saved flags (None
    without a flags.cfg), whose model and data flags are applied to ``fv`` (flags given on the command line win).

    Raises:
        RunDirError: no run given, or not a run; the message lists the runs under ``--logdir``.
    """
    if fv.checkpoint and not fv.run_name:
        run_dir = os.path.dirname(os.path.abspath(fv.checkpoint))
    elif not fv.run_name:
        if os.path.exists(os.path.join(fv.logdir, "flags.cfg")):
            parent, name = os.path.split(os.path.normpath(fv.logdir))
            raise RunDirError(f"{fv.logdir} is a run directory; --logdir is the parent of runs, as for "
                              f"chapter5.train: give --logdir={parent or '.'} --run_name={name}")
        raise _no_such_run(fv, "give --run_name")
    else:
        run_dir = os.path.join(fv.logdir, fv.run_name)
        if not os.path.exists(os.path.join(run_dir, "flags.cfg")) and not fv.checkpoint:
            raise _no_such_run(fv, f"{run_dir} is not a run directory (it has no flags.cfg)")
    saved = apply_run_flags(fv, run_dir)
    resolve_batch_norm(fv)
    return run_dir, saved


def saved_flags_text(fv: flags.FlagValues) -> str:
    """The run's resolved training flags, one ``--name=value`` per line (a reusable flagfile)."""
    scratch = flags.FlagValues()
    define_training_flags(scratch)
    names = sorted(n for n in scratch if n not in UNSAVED_FLAGS)
    return "".join((fv[n].serialize() if fv[n].value is not None else f"--{n}=") + "\n" for n in names)


def read_run_flags(path: str) -> flags.FlagValues:
    """A run's ``flags.cfg`` parsed by absl into fresh training flags.

    Raises:
        RunDirError: the file cannot be read or holds flags that are not valid.
    """
    fv = flags.FlagValues()
    define_training_flags(fv)
    try:
        fv(["flags.cfg", f"--flagfile={path}"])
    except flags.Error as e:
        raise RunDirError(f"{path}: not a readable flags file ({e})") from None
    return fv


def apply_run_flags(fv: flags.FlagValues, run_dir: str,
                    names=MODEL_FLAGS + DATA_FLAGS) -> flags.FlagValues | None:
    """Sets the model and data flags from ``run_dir/flags.cfg`` unless given on the command line.

    Returns:
        The run's saved flags (:func:`read_run_flags`), or None if the run directory has no flags.cfg.
    """
    path = os.path.join(run_dir, "flags.cfg")
    if not os.path.exists(path):
        return None
    saved = read_run_flags(path)
    for name in names:
        if name in fv and not fv[name].present:
            setattr(fv, name, saved[name].value)
    return saved


def resolve_batch_norm(fv: flags.FlagValues) -> None:
    """Turns ``--batch_norm`` into the batch-normalized ``--model`` (so saved flags name the real network)."""
    if fv.batch_norm:
        if not fv.model.endswith("_bn"):
            fv.model = fv.model + "_bn"  # every model has a _bn variant (MODEL_NAMES)
        fv.batch_norm = False


def model_options(fv: flags.FlagValues) -> ModelOptions:
    """The :class:`ModelOptions` selected by the model flags."""
    return ModelOptions(weight_init=fv.weight_init, activation=fv.activation or None,
                        hidden_units=tuple(int(u) for u in fv.hidden_units),
                        book_output_relu=fv.book_output_relu, book_bn_update=fv.book_bn_update)


def data_dir(fv: flags.FlagValues) -> str:
    """``--data_dir/<dataset>``, or ``--data_dir`` itself if it already holds the data set's files."""
    base = fv.data_dir
    if fv.dataset == "cifar10":
        return base
    if any(os.path.exists(os.path.join(base, n)) or os.path.exists(os.path.join(base, n[:-3]))
           for n in mnist.FILES):
        return base
    return os.path.join(base, fv.dataset)


def _value(fv: flags.FlagValues, name: str, default):
    """A flag's value, or ``default`` for a program that does not have the flag (e.g. evaluation's split)."""
    return fv[name].value if name in fv else default


def fetch_data(fv: flags.FlagValues) -> None:
    """Makes sure the data set's files are there (downloading them if allowed), without reading them.

    Raises:
        DownloadError, DataError: they are missing and cannot be downloaded.
    """
    if fv.dataset == "cifar10":
        from dlfund.data import cifar10
        cifar10.maybe_download_and_extract(fv.data_dir, download_missing=_value(fv, "download", True))
    else:
        mnist.local_files(data_dir(fv), fv.dataset, _value(fv, "download", True), _cli.download_progress())


def load_data(fv: flags.FlagValues, shuffle: bool = True, sort_by_label: bool = False, seed: int = 0,
              threads: int = 0):
    """Reads the data set chosen by the data flags (``dlfund.data.mnist`` or ``cifar10``)."""
    # A program without --validation_size uses only the test set: no images need holding out.
    validation_size = _value(fv, "validation_size", 0)
    validation_size = None if validation_size < 0 else validation_size
    download = _value(fv, "download", True)
    if fv.dataset == "cifar10":
        from dlfund.data import cifar10
        augment = _value(fv, "augment", [])
        augment = [a for a in augment if a != "none"] if augment else preprocessing.BOOK_CIFAR_AUGMENT
        return cifar10.read_data_sets(fv.data_dir, augment=augment, whitened=_value(fv, "whiten", True), seed=seed,
                                      shuffle=shuffle, threads=threads, validation_size=validation_size,
                                      validation_on_test=_value(fv, "book_validation_on_test", False),
                                      progress=_cli.download_progress(), download_missing=download)
    return mnist.read_data_sets(data_dir(fv), one_hot=True, dataset=fv.dataset, validation_size=validation_size,
                                shuffle=shuffle, sort_by_label=sort_by_label, seed=seed,
                                download_missing=download, progress=_cli.download_progress())


def build_and_restore(fv: flags.FlagValues, checkpoint: str) -> tuple[ModelGraph, tf.compat.v1.Session, str]:
    """Builds the model chosen by the flags for inference and restores ``checkpoint`` into it.

    Only the model's own variables are restored (weights, batch-norm moving
    averages, global step), so a checkpoint written with any optimizer, or by
    the book's original TF1 code under any TensorFlow it ran on, fits.

    Returns:
        (ModelGraph, open Session, a note on book-era names or "").

    Raises:
        CheckpointError: the checkpoint is missing or does not match the model.
    """
    g = build_graph(get_model(fv.model), model_options(fv), sparse_labels=fv.dataset == "cifar10",
                    with_training=False)
    sess = tf.compat.v1.Session(graph=g.graph)
    try:
        note = restore_model(sess, g, checkpoint)
    except CheckpointError:
        sess.close()
        raise
    return g, sess, note


def checkpoint_to_use(run_dir: str | None, checkpoint: str) -> str:
    """``checkpoint`` if given, else the newest in ``run_dir`` that reads back in full.

    Each newer checkpoint that is skipped as damaged is named on stderr.

    Raises:
        CheckpointError: there is no checkpoint, or none that reads back.
    """
    if checkpoint:
        return checkpoint
    found = checkpoints.newest_intact(run_dir, newest_only=True) if run_dir else checkpoints.RunCheckpoints([], [])
    for path, problem in found.skipped:
        print(checkpoints.skipped_line(path, problem), file=sys.stderr, flush=True)
    if not found.latest:
        raise CheckpointError(f"no checkpoint in {run_dir}: train first (python -m chapter5.train ...) or pass "
                              "--checkpoint=PATH")
    return found.latest
