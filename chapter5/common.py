"""Flags shared by the chapter 5 programs (model and data), and what they build.

``define_model_flags`` and ``define_data_flags`` take a ``FlagValues`` so that
``chapter5.evaluate`` can read a run's saved ``flags.cfg`` into a separate set.
"""

from __future__ import annotations

import os

from chapter5 import _cli  # noqa: F401  (quiet TensorFlow before dlfund imports it)
from absl import flags

from dlfund import layers, preprocessing
from dlfund.data import mnist
from dlfund.models import MODEL_NAMES, ModelOptions

DATASETS = ("mnist", "fashion_mnist", "mnist_sample", "cifar10")
MODEL_FLAGS = ("model", "weight_init", "activation", "hidden_units", "book_output_relu", "book_bn_update")
DATA_FLAGS = ("dataset", "data_dir", "validation_size", "augment", "whiten")


def define_model_flags(fv: flags.FlagValues) -> None:
    """Flags that choose and shape the network."""
    flags.DEFINE_enum("model", "mnist_conv", MODEL_NAMES, "Network to train (default: the book's MNIST "
                      "convnet of §5.8).", flag_values=fv)
    flags.DEFINE_enum("weight_init", "book", layers.WEIGHT_INITS, "Weight initializer; 'book' is "
                      "N(0, sqrt(2/fan_in)).", flag_values=fv)
    flags.DEFINE_enum("activation", "", [""] + [a for a in layers.ACTIVATIONS if a != "none"],
                      "Hidden activation; empty = the model's own (ReLU; tanh for LeNet-5).", flag_values=fv)
    flags.DEFINE_list("hidden_units", ["256", "256"], "MLP hidden layer sizes (default 256,256 as in "
                      "chapter 3).", flag_values=fv)
    flags.DEFINE_bool("batch_norm", False, "Use the batch-normalized variant of --model (mnist_conv -> "
                      "mnist_conv_bn, mlp -> mlp_bn, lenet5 -> lenet5_bn, cifar_conv -> cifar_conv_bn; Book §5.10).",
                      flag_values=fv)
    flags.DEFINE_bool("book_output_relu", False, "Reproduce errata E1: ReLU (and batch norm) on the output "
                      "logits, as printed.", flag_values=fv)
    flags.DEFINE_bool("book_bn_update", False, "Reproduce errata E2: batch-norm moving averages also update "
                      "during evaluation, as printed.", flag_values=fv)

    def hidden_ok(values):
        return bool(values) and all(v.isdigit() and int(v) > 0 for v in values)

    flags.register_validator("hidden_units", hidden_ok, "--hidden_units must be positive integers, "
                             "e.g. 256,256", flag_values=fv)


def define_data_flags(fv: flags.FlagValues) -> None:
    """Flags that choose the data set."""
    flags.DEFINE_enum("dataset", "mnist", DATASETS, "Data set. mnist/fashion_mnist are downloaded into "
                      "--data_dir when missing; mnist_sample is bundled (offline).", flag_values=fv)
    flags.DEFINE_string("data_dir", "data", "Directory of the data files; each data set uses a "
                        "sub-directory named after it (data/mnist, ...).", flag_values=fv)
    flags.DEFINE_integer("validation_size", -1, "Leading training images used for validation; -1 = the "
                         "data set's own (5,000; 500 for mnist_sample).", lower_bound=-1, flag_values=fv)
    flags.DEFINE_bool("download", True, "Download missing data files from the mirrors (--nodownload: fail "
                      "instead, e.g. offline).", flag_values=fv)
    flags.DEFINE_list("augment", [], "Random training augmentations for cifar10, from: "
                      "crop,flip_left_right,flip_up_down,transpose,brightness,contrast,saturation,hue. Empty = the "
                      "book's crop,flip_left_right,brightness,contrast; 'none' = no augmentation.", flag_values=fv)
    flags.DEFINE_bool("whiten", True, "Per-image whitening of cifar10 images (training and evaluation).",
                      flag_values=fv)
    flags.register_validator("augment", lambda v: all(a in preprocessing.AUGMENTATIONS or a == "none" for a in v),
                             "--augment takes names from " + ",".join(preprocessing.AUGMENTATIONS) + " (or none)",
                             flag_values=fv)
    flags.register_multi_flags_validator(["augment", "dataset"],
                                         lambda d: not d["augment"] or d["dataset"] == "cifar10",
                                         "--augment applies to --dataset=cifar10 only", flag_values=fv)


def resolve_batch_norm(fv: flags.FlagValues) -> None:
    """Turns ``--batch_norm`` into the batch-normalized ``--model`` (so saved flags name the real network)."""
    if fv.batch_norm:
        if not fv.model.endswith("_bn"):
            fv.model = fv.model + "_bn"  # every model has a _bn variant (MODEL_NAMES)
        fv.batch_norm = False


def model_options(fv: flags.FlagValues) -> ModelOptions:
    """The :class:`ModelOptions` selected by the model flags."""
    return ModelOptions(
        weight_init=fv.weight_init,
        activation=fv.activation or None,
        hidden_units=tuple(int(u) for u in fv.hidden_units),
        book_output_relu=fv.book_output_relu,
        book_bn_update=fv.book_bn_update,
    )


def data_dir(fv: flags.FlagValues) -> str:
    """``--data_dir/<dataset>``, or ``--data_dir`` itself if it already holds the data set's files."""
    base = fv.data_dir
    if fv.dataset == "cifar10":
        return base
    if any(os.path.exists(os.path.join(base, n)) or os.path.exists(os.path.join(base, n[:-3]))
           for n in mnist.FILES):
        return base
    return os.path.join(base, fv.dataset)


def load_data(fv: flags.FlagValues, shuffle: bool = True, sort_by_label: bool = False, seed: int = 0,
              threads: int = 0):
    """Reads the data set chosen by the data flags (``dlfund.data.mnist`` or ``cifar10``)."""
    if fv.dataset == "cifar10":
        from dlfund.data import cifar10
        augment = [a for a in fv.augment if a != "none"] if fv.augment else preprocessing.BOOK_CIFAR_AUGMENT
        return cifar10.read_data_sets(fv.data_dir, augment=augment, whitened=fv.whiten, seed=seed, shuffle=shuffle,
                                      threads=threads, progress=_cli.download_progress())
    return mnist.read_data_sets(
        data_dir(fv), one_hot=True, dataset=fv.dataset,
        validation_size=None if fv.validation_size < 0 else fv.validation_size,
        shuffle=shuffle, sort_by_label=sort_by_label, seed=seed, download_missing=fv.download,
        progress=_cli.download_progress())


def read_flags_file(path: str) -> dict:
    """``{name: value}`` of a run's saved ``flags.cfg`` (``--noname`` gives ``"false"``)."""
    values = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("--"):
                continue
            name, sep, value = line[2:].partition("=")
            if not sep:
                name, value = (name[2:], "false") if name.startswith("no") and name[2:] else (name, "true")
            values[name] = value
    return values


def apply_run_flags(fv: flags.FlagValues, run_dir: str, names=MODEL_FLAGS + DATA_FLAGS) -> bool:
    """Sets the model and data flags from ``run_dir/flags.cfg`` unless given on the command line.

    Returns:
        True if the run directory had a flags.cfg.
    """
    path = os.path.join(run_dir, "flags.cfg")
    if not os.path.exists(path):
        return False
    saved = read_flags_file(path)
    for name in names:
        if name in saved and not fv[name].present:
            fv[name].parse(saved[name])
            fv[name].present = 0  # still "not given on the command line"
    return True


def build_and_restore(fv: flags.FlagValues, run_dir: str, checkpoint: str = ""):
    """Builds the model chosen by the (run's) flags for inference and restores a checkpoint into it.

    Only the model's own variables are restored (weights, batch-norm moving
    averages, global step), so a checkpoint written with any optimizer, or by
    the book's original TF1 code, fits.

    Returns:
        (ModelGraph, open Session, checkpoint path).

    Raises:
        CheckpointError: no checkpoint, or it does not match the model.
    """
    from dlfund import checkpoints
    from dlfund.errors import CheckpointError
    from dlfund.graph import build_graph, model_variables
    from dlfund.models import get_model
    import tensorflow as tf

    path = checkpoint or checkpoints.latest_checkpoint(run_dir)
    if not path:
        raise CheckpointError(f"no checkpoint in {run_dir}: train first (python -m chapter5.train ...) or pass "
                              "--checkpoint=PATH")
    if not tf.io.gfile.exists(path + ".index"):
        raise CheckpointError(f"{path}: no such checkpoint (expected {path}.index)")
    spec = get_model(fv.model)
    g = build_graph(spec, model_options(fv), sparse_labels=fv.dataset == "cifar10", with_training=False)
    with g.graph.as_default():
        checkpoints.check_compatible(path, model_variables(spec.scope))
        sess = tf.compat.v1.Session(graph=g.graph)
        g.model_saver.restore(sess, path)
    return g, sess, path
