"""The networks, one module each; every ``inference`` returns logits [batch, 10].

:data:`MODELS` maps a model name (the ``--model`` flag) to a :class:`ModelSpec`:
the book's variable scope, the input placeholder's shape, and whether it uses
batch normalization (and so a ``phase_train`` placeholder).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Optional

import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class ModelOptions:
    """Architecture choices beyond the book's defaults (all default to the book).

    Attributes:
        weight_init: weight initializer name (``dlfund.layers.WEIGHT_INITS``).
        activation: hidden-layer activation (``dlfund.layers.ACTIVATIONS``);
            None means the network's own (ReLU; tanh for LeNet-5).
        hidden_units: MLP hidden layer sizes.
        book_output_relu: reproduce errata E1: ReLU (and, in batch-normalized
            models, batch norm) on the output logits.
        book_bn_update: reproduce errata E2: batch-norm averages also move
            during evaluation.
    """
    weight_init: str = "book"
    activation: Optional[str] = None
    hidden_units: tuple = (256, 256)
    book_output_relu: bool = False
    book_bn_update: bool = False


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What the driver needs to know to build a network.

    Attributes:
        name: the ``--model`` name.
        scope: the book's outer variable scope (e.g. ``mnist_conv_model``).
        input_shape: shape of one example as fed to the ``x`` placeholder.
        batch_norm: the network takes ``phase_train``.
        build: ``build(x, keep_prob, phase_train, options) -> logits``.
        book_section: where the network is in the book or the tutorials.
    """
    name: str
    scope: str
    input_shape: tuple
    batch_norm: bool
    build: Callable[[tf.Tensor, tf.Tensor, Optional[tf.Tensor], ModelOptions], tf.Tensor]
    book_section: str


def _registry() -> dict:
    from dlfund.models import cifar_conv, lenet5, mlp, mnist_conv
    specs = [
        ModelSpec("mnist_conv", "mnist_conv_model", (784,), False, mnist_conv.build, "§5.8"),
        ModelSpec("mnist_conv_bn", "mnist_conv_bn_model", (784,), True, mnist_conv.build, "§5.10"),
        ModelSpec("mlp", "mlp_model", (784,), False, mlp.build, "§3 (multilayer_perceptron)"),
        ModelSpec("mlp_bn", "mlp_bn_model", (784,), True, mlp.build, "§3 + §5.10"),
        ModelSpec("lenet5", "lenet5_model", (784,), False, lenet5.build, "LeNet-5 (LeCun et al. 1998)"),
        ModelSpec("lenet5_bn", "lenet5_bn_model", (784,), True, lenet5.build, "LeNet-5 + §5.10"),
        ModelSpec("cifar_conv", "cifar_conv_model", (24, 24, 3), False, cifar_conv.build, "§5.11"),
        ModelSpec("cifar_conv_bn", "cifar_conv_bn_model", (24, 24, 3), True, cifar_conv.build, "§5.11"),
    ]
    return {s.name: s for s in specs}


MODEL_NAMES = ("mnist_conv", "mnist_conv_bn", "mlp", "mlp_bn", "lenet5", "lenet5_bn",
               "cifar_conv", "cifar_conv_bn")


def get_model(name: str) -> ModelSpec:
    """Returns the :class:`ModelSpec` called ``name``; raises ValueError if unknown."""
    specs = _registry()
    if name not in specs:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    return specs[name]
