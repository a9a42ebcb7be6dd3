"""The book's MNIST convnet (Book §5.8, ``convnet_mnist.py``), optionally batch-normalized (§5.10).

    x [batch, 784] -> reshape [batch, 28, 28, 1]
    conv_1: conv 5x5x1x32, ReLU, max pool 2x2   -> [batch, 14, 14, 32]
    conv_2: conv 5x5x32x64, ReLU, max pool 2x2  -> [batch, 7, 7, 64]
    fc:     fc 3136 -> 1024, ReLU, dropout       -> [batch, 1024]
    output: fc 1024 -> 10                        -> logits [batch, 10]

Built under the caller's ``mnist_conv_model`` scope, the variables are
``mnist_conv_model/{conv_1,conv_2,fc,output}/{W,b}`` as in the book. The
``filters`` summary of ``conv_1`` is an addition: ``convnet_mnist.py``'s
``conv2d`` has no ``visualize`` (the CIFAR listings' ``filter_summary`` is used).
"""

from __future__ import annotations

import tensorflow as tf

from dlfund.layers import conv2d, dropout, layer, max_pool
from dlfund.models.common import ModelOptions, layer_args, output_layer

v1 = tf.compat.v1


def inference(x: tf.Tensor, keep_prob: tf.Tensor, phase_train: tf.Tensor | None = None,
              options: ModelOptions = ModelOptions()) -> tf.Tensor:
    """Builds the convnet (Book §5.8; with ``phase_train``, the §5.10 variant).

    Args:
        x: float32 [batch, 784], pixels in [0, 1].
        keep_prob: float32 scalar, dropout keep probability of the fc layer.
        phase_train: optional bool scalar; when given, every layer is batch-normalized.
        options: architecture choices; the defaults are the book's (with errata fixed).

    Returns:
        float32 logits [batch, 10].
    """
    kw = layer_args(options)
    x = tf.reshape(x, shape=[-1, 28, 28, 1])
    with v1.variable_scope("conv_1"):
        conv_1 = conv2d(x, [5, 5, 1, 32], [32], phase_train, visualize=True, **kw)
        pool_1 = max_pool(conv_1)

    with v1.variable_scope("conv_2"):
        conv_2 = conv2d(pool_1, [5, 5, 32, 64], [64], phase_train, **kw)
        pool_2 = max_pool(conv_2)

    with v1.variable_scope("fc"):
        pool_2_flat = tf.reshape(pool_2, [-1, 7 * 7 * 64])
        fc_1 = layer(pool_2_flat, [7 * 7 * 64, 1024], [1024], phase_train, **kw)

        # apply dropout
        fc_1_drop = dropout(fc_1, keep_prob)

    with v1.variable_scope("output"):
        output = output_layer(fc_1_drop, [1024, 10], [10], phase_train, options)

    return output
