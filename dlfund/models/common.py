"""What every network shares: its options, the keyword arguments they give the book's layers,
and the output layer with the switch for the book's ReLU on the logits (errata E1).

Each model module builds its layers from :mod:`dlfund.layers` as the book's
listings do; the pieces here keep that code free of repeated plumbing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import tensorflow as tf

from dlfund.layers import ACTIVATIONS, layer

v1 = tf.compat.v1

#: Graph collection holding the input of the output layer: the representation that
#: the book's §5.12 visualizes (evaluation reads it for the embedding projector).
LAST_HIDDEN_LAYER = "dlfund_last_hidden_layer"


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
    activation: str | None = None
    hidden_units: tuple = (256, 256)
    book_output_relu: bool = False
    book_bn_update: bool = False


def layer_args(options: ModelOptions, default_activation: str = "relu") -> dict:
    """Keyword arguments for ``layer`` and ``conv2d`` of a hidden layer, as ``options`` choose.

    Args:
        options: the network's options.
        default_activation: the network's own activation, used when
            ``options.activation`` is None.

    Returns:
        ``{"activation": fn, "weight_init": name, "update_averages_in_inference": bool}``.
    """
    return {"activation": ACTIVATIONS[options.activation or default_activation],
            "weight_init": options.weight_init,
            "update_averages_in_inference": options.book_bn_update}


def output_layer(input: tf.Tensor, weight_shape: Sequence[int], bias_shape: Sequence[int],
                 phase_train: tf.Tensor | None, options: ModelOptions) -> tf.Tensor:
    """The output layer, called inside the ``output`` scope: logits [batch, n_out].

    The book builds it with the same ``layer`` as the hidden layers, so its
    logits go through ReLU (and batch norm in ``convnet_cifar_bn.py``): errata
    E1. Here they do only with ``options.book_output_relu``. ``input`` is
    recorded in the :data:`LAST_HIDDEN_LAYER` collection.

    Args:
        input: float32 [batch, n_in], the last hidden layer.
        weight_shape: [n_in, n_out].
        bias_shape: [n_out].
        phase_train: the network's batch-norm switch, or None.
        options: the network's options.

    Returns:
        float32 logits [batch, n_out].
    """
    v1.add_to_collection(LAST_HIDDEN_LAYER, input)
    if options.book_output_relu:
        return layer(input, weight_shape, bias_shape, phase_train, activation=tf.nn.relu,
                     weight_init=options.weight_init, update_averages_in_inference=options.book_bn_update)
    return layer(input, weight_shape, bias_shape, activation=None, weight_init=options.weight_init)
