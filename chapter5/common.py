"""Flags shared by the chapter 5 programs (model and data), and what they build.

``define_model_flags`` and ``define_data_flags`` take a ``FlagValues`` so that
``chapter5.evaluate`` can read a run's saved ``flags.cfg`` into a separate set.
"""

from __future__ import annotations

import os

from chapter5 import _cli  # noqa: F401  (quiet TensorFlow before dlfund imports it)
from absl import flags

from dlfund import layers
from dlfund.data import mnist
from dlfund.models import MODEL_NAMES, ModelOptions

DATASETS = ("mnist", "fashion_mnist", "mnist_sample", "cifar10")
MODEL_FLAGS = ("model", "weight_init", "activation", "hidden_units", "book_output_relu", "book_bn_update")
DATA_FLAGS = ("dataset", "data_dir", "validation_size")


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
