"""The book's CIFAR-10 convnets (Book §5.11, ``convnet_cifar.py`` and ``convnet_cifar_bn.py``).

    x [batch, 24, 24, 3] (cropped, whitened)
    conv_1: conv 5x5x3x64, (batch norm), ReLU, max pool 2x2  -> [batch, 12, 12, 64]
    conv_2: conv 5x5x64x64, (batch norm), ReLU, max pool     -> [batch, 6, 6, 64]
    fc_1:   fc 2304 -> 384, (batch norm), ReLU, dropout      -> [batch, 384]
    fc_2:   fc 384 -> 192, (batch norm), ReLU, dropout       -> [batch, 192]
    output: fc 192 -> 10                                     -> logits [batch, 10]

Variables ``cifar_conv_model/...`` or ``cifar_conv_bn_model/...`` with the layer
scopes above, as in the book. The first layer's filters are shown in
TensorBoard by the book's ``filter_summary``.
"""

from __future__ import annotations

import tensorflow as tf

from dlfund.layers import conv2d, dropout, layer, max_pool
from dlfund.models.common import ModelOptions, layer_args, output_layer

v1 = tf.compat.v1


def inference(x: tf.Tensor, keep_prob: tf.Tensor, phase_train: tf.Tensor | None = None,
              options: ModelOptions = ModelOptions()) -> tf.Tensor:
    """Builds the CIFAR-10 convnet (with ``phase_train``: the batch-normalized one).

    Args:
        x: float32 [batch, 24, 24, 3].
        keep_prob: float32 scalar, dropout keep probability of fc_1 and fc_2.
        phase_train: optional bool scalar; batch norm in every layer.
        options: architecture choices; book defaults with errata fixed.

    Returns:
        float32 logits [batch, 10].
    """
    kw = layer_args(options)
    with v1.variable_scope("conv_1"):
        conv_1 = conv2d(x, [5, 5, 3, 64], [64], phase_train, visualize=True, **kw)
        pool_1 = max_pool(conv_1)

    with v1.variable_scope("conv_2"):
        conv_2 = conv2d(pool_1, [5, 5, 64, 64], [64], phase_train, **kw)
        pool_2 = max_pool(conv_2)

    with v1.variable_scope("fc_1"):
        dim = 1
        for d in pool_2.shape[1:].as_list():
            dim *= d

        pool_2_flat = tf.reshape(pool_2, [-1, dim])
        fc_1 = layer(pool_2_flat, [dim, 384], [384], phase_train, **kw)

        # apply dropout
        fc_1_drop = dropout(fc_1, keep_prob)

    with v1.variable_scope("fc_2"):
        fc_2 = layer(fc_1_drop, [384, 192], [192], phase_train, **kw)

        # apply dropout
        fc_2_drop = dropout(fc_2, keep_prob)

    with v1.variable_scope("output"):
        output = output_layer(fc_2_drop, [192, 10], [10], phase_train, options)

    return output
