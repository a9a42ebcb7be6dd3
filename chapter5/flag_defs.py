"""The flags of the chapter 5 programs, each defined once, here.

Each ``define_*`` function defines its flags on a given ``FlagValues``, so that
every program can be imported into one process and a run's saved ``flags.cfg``
can be read back by absl into a fresh set (``chapter5/rundir.py: read_flags``).
A flag that several programs have (``--logdir``, ``--eval_batch_size``, the
thread counts, ``--deterministic``, ``--quick``) has one definition, used by
each; ``tests/test_programs.py`` checks that no flag is defined twice.
"""

from __future__ import annotations

import os

from absl import flags

from dlfund import layers, objectives, preprocessing
from dlfund.models import MODEL_NAMES, get_model

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


def define_cli_flags(fv: flags.FlagValues) -> None:
    """``--verbose`` and ``--debug``, which every program has."""
    flags.DEFINE_bool("verbose", False, "Show TensorFlow's own log and warning messages (put it on the command "
                      "line, not in a flagfile, to also see import-time messages).", flag_values=fv)
    flags.DEFINE_bool("debug", False, "Show the Python traceback of errors instead of a one-line message.",
                      flag_values=fv)


def define_logdir(fv: flags.FlagValues) -> None:
    """``--logdir``: where runs are, for every program (and TensorBoard)."""
    flags.DEFINE_string("logdir", "logs", "Parent directory of run directories, as given to TensorBoard's --logdir "
                        "(chapter5.compare: of its suite directories).", flag_values=fv)


def define_run_name(fv: flags.FlagValues) -> None:
    """``--run_name``: the run directory under ``--logdir`` that a program writes or reads (never outside it)."""
    flags.DEFINE_string("run_name", "", "The run directory under --logdir (e.g. quickstart; batch_norm/mlp for a run "
                        "of chapter5.compare). chapter5.train writes it, by default <model>_<dataset>; evaluate, "
                        "predict and export read its flags.cfg and newest checkpoint.", flag_values=fv)
    flags.register_validator("run_name", inside_logdir, "--run_name must name a directory inside --logdir: no "
                             "absolute path, no '..' (sub-folders such as batch_norm/mlp are fine)", flag_values=fv)


def inside_logdir(run_name: str) -> bool:
    """True for '' (the default name) and for a relative path that stays below ``--logdir``."""
    if not run_name:
        return True
    parts = os.path.normpath(run_name).split(os.sep)
    return not os.path.isabs(run_name) and parts[0] not in ("..", ".")


def define_eval_batch_size(fv: flags.FlagValues) -> None:
    flags.DEFINE_integer("eval_batch_size", 1000, "Batch size of validation and test evaluation.", lower_bound=1,
                         flag_values=fv)


def define_threads(fv: flags.FlagValues) -> None:
    """The session's thread pools."""
    d = dict(flag_values=fv)
    flags.DEFINE_integer("intra_op_threads", 0, "Threads inside one op (0 = TensorFlow's choice).", lower_bound=0, **d)
    flags.DEFINE_integer("inter_op_threads", 1, "Ops run in parallel (0 = TensorFlow's choice; 1 is fastest for "
                         "these networks, whose ops form a chain: docs/performance.md).", lower_bound=0, **d)


def define_deterministic(fv: flags.FlagValues) -> None:
    flags.DEFINE_bool("deterministic", False, "TensorFlow op determinism: same seed, same numbers (slower).",
                      flag_values=fv)


def define_quick(fv: flags.FlagValues) -> None:
    flags.DEFINE_bool("quick", False, "Smoke run at tiny sizes: it shows that everything works; its numbers are "
                      "not results.", flag_values=fv)


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
    define_cli_flags(fv)
    define_logdir(fv)
    define_run_name(fv)
    define_eval_batch_size(fv)
    define_threads(fv)
    define_deterministic(fv)
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
    flags.DEFINE_integer("batch_size", None, "Mini-batch size. Default: the listing's: 128 for --dataset=cifar10 "
                         "(convnet_cifar.py), else 100 (convnet_mnist.py).", lower_bound=1, **d)
    flags.DEFINE_integer("training_epochs", 10, "Total epochs; a resumed run trains only what is left "
                         "(the book's listings say 1000).", lower_bound=1, **d)
    flags.DEFINE_integer("max_steps", 0, "Stop at this global step (0 = no limit), e.g. for smoke runs.",
                         lower_bound=0, **d)
    flags.DEFINE_float("keep_prob", None, "Dropout keep probability in training, in (0, 1]. Default: the listing's: "
                       "1 for mlp and mlp_bn (multilayer_perceptron.py has no dropout) and for cifar_conv_bn (its "
                       "listing feeds 1), else 0.5.", **d)
    flags.DEFINE_integer("display_step", 1, "Print, evaluate, summarize and checkpoint every this many epochs.",
                         lower_bound=1, **d)
    flags.DEFINE_integer("seed", 0, "Random seed of initial weights, dropout and the data order.", **d)
    flags.DEFINE_bool("shuffle", True, "Reshuffle the training set every epoch.", **d)
    flags.DEFINE_bool("sort_by_label", False, "Visit the training set sorted by label every epoch (experiment).", **d)
    flags.DEFINE_bool("book_data_order", False, "Reproduce errata E13: the first epoch in file order, reshuffled from "
                      "the second, as the book's input_data.py draws MNIST batches.", **d)
    flags.DEFINE_string("init_checkpoint", "", "Start a new run from this checkpoint's model variables (e.g. one "
                        "written by the book's own code, any TensorFlow version); the optimizer starts afresh.", **d)
    flags.DEFINE_integer("max_to_keep", 5, "Recent checkpoints kept in the run directory.", lower_bound=1, **d)
    flags.DEFINE_integer("save_every_steps", 0, "Also checkpoint every this many steps (0 = only at display "
                         "steps).", lower_bound=0, **d)
    flags.DEFINE_integer("eval_examples", 0, "Evaluate on only the first N validation/test examples (0 = all; "
                         "128 approximates the CIFAR listings' single-batch test, errata E4).", lower_bound=0, **d)
    flags.DEFINE_bool("summary_images", True, "Write input images and first-layer filters to TensorBoard.", **d)
    flags.DEFINE_bool("fast_matmul_grad", False, "Compute the input gradient of fc layers with 512 or more outputs "
                      "as a batched matrix product (dlfund/fast_matmul_grad.py): the same values, a kernel that "
                      "may be faster on some CPUs.", **d)
    flags.DEFINE_bool("xla", False, "Compile the model, its loss and the training step with XLA. Off by default: "
                      "slower on the CPUs measured, with AVX-512 and with AVX2 (docs/performance.md).", **d)
    flags.DEFINE_enum("progress", "auto", ["auto", "on", "off"], "Progress bar within an epoch (auto: on a terminal).",
                      **d)
    flags.register_validator("keep_prob", lambda v: v is None or 0.0 < v <= 1.0, "--keep_prob must be in (0, 1]", **d)
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
    define_cli_flags(fv)
    define_logdir(fv)
    define_run_name(fv)
    flags.DEFINE_string("checkpoint", "", "Checkpoint path prefix instead of the run's latest (e.g. a book-era "
                        "model-checkpoint-550000; then give --model and --dataset).", flag_values=fv)
