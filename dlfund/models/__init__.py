"""The networks, one module each; every ``inference`` returns logits [batch, 10].

:func:`get_model` maps a model name (the ``--model`` flag) to a :class:`ModelSpec`:
the book's variable scope, the input placeholder's shape, and whether it uses
batch normalization (and so a ``phase_train`` placeholder).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import tensorflow as tf

from dlfund.models import cifar_conv, lenet5, mlp, mnist_conv
from dlfund.models.common import LAST_HIDDEN_LAYER, ModelOptions

__all__ = ["LAST_HIDDEN_LAYER", "MODELS", "MODEL_NAMES", "ModelOptions", "ModelSpec", "get_model"]


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What the driver needs to know to build a network.

    Attributes:
        name: the ``--model`` name.
        scope: the book's outer variable scope (e.g. ``mnist_conv_model``).
        input_shape: shape of one example as fed to the ``x`` placeholder.
        batch_norm: the network takes ``phase_train``.
        inference: ``inference(x, keep_prob, phase_train, options) -> logits``.
        book_section: where the network is in the book (LeNet-5: LeCun et al. 1998, not in the book).
    """
    name: str
    scope: str
    input_shape: tuple
    batch_norm: bool
    inference: Callable[[tf.Tensor, tf.Tensor, tf.Tensor | None, ModelOptions], tf.Tensor]
    book_section: str


MODELS = {spec.name: spec for spec in (
    ModelSpec("mnist_conv", "mnist_conv_model", (784,), False, mnist_conv.inference, "§5.8"),
    ModelSpec("mnist_conv_bn", "mnist_conv_bn_model", (784,), True, mnist_conv.inference, "§5.10"),
    ModelSpec("mlp", "mlp_model", (784,), False, mlp.inference, "§3 (multilayer_perceptron)"),
    ModelSpec("mlp_bn", "mlp_bn_model", (784,), True, mlp.inference, "§3 + §5.10"),
    ModelSpec("lenet5", "lenet5_model", (784,), False, lenet5.inference, "LeNet-5 (LeCun et al. 1998)"),
    ModelSpec("lenet5_bn", "lenet5_bn_model", (784,), True, lenet5.inference, "LeNet-5 + §5.10"),
    ModelSpec("cifar_conv", "cifar_conv_model", (24, 24, 3), False, cifar_conv.inference, "§5.11"),
    ModelSpec("cifar_conv_bn", "cifar_conv_bn_model", (24, 24, 3), True, cifar_conv.inference, "§5.11"),
)}

#: Every ``--model`` name; each network has a batch-normalized ``_bn`` variant.
MODEL_NAMES = tuple(MODELS)


def get_model(name: str) -> ModelSpec:
    """Returns the :class:`ModelSpec` called ``name``; raises ValueError if unknown."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    return MODELS[name]
