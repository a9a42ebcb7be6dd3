"""LeNet-5 (LeCun et al. 1998) on MNIST, built from the book's ``conv2d`` and ``layer``.

    x [batch, 784] -> [batch, 28, 28, 1] -> zero-pad to [batch, 32, 32, 1]
    conv_1: conv 5x5x1x6 VALID, (batch norm), tanh, avg pool 2x2 -> [batch, 14, 14, 6]
    conv_2: conv 5x5x6x16 VALID, (batch norm), tanh, avg pool    -> [batch, 5, 5, 16]
    conv_3: conv 5x5x16x120 VALID, (batch norm), tanh             -> [batch, 1, 1, 120]
    fc:     fc 120 -> 84, tanh, dropout                            -> [batch, 84]
    output: fc 84 -> 10                                            -> logits [batch, 10]

The padding to 32x32 (the size LeNet-5 was designed for, which keeps a digit's
strokes away from the border of the first feature maps) happens inside the
graph, so the model takes the same 784-pixel input as every MNIST model.
"""

from __future__ import annotations

import tensorflow as tf

from dlfund.layers import avg_pool2d, conv2d, dropout, layer
from dlfund.models.common import ModelOptions, layer_args, output_layer

v1 = tf.compat.v1


def inference(x: tf.Tensor, keep_prob: tf.Tensor | None = None, phase_train: tf.Tensor | None = None,
              options: ModelOptions = ModelOptions()) -> tf.Tensor:
    """Builds LeNet-5.

    Args:
        x: float32 [batch, 784].
        keep_prob: optional float32 scalar, dropout after the 84-unit layer.
        phase_train: optional bool scalar; batch norm after every convolution.
        options: activation (default tanh) and initializer.

    Returns:
        float32 logits [batch, 10].
    """
    kw = layer_args(options, default_activation="tanh")
    x = tf.pad(tf.reshape(x, [-1, 28, 28, 1]), [[0, 0], [2, 2], [2, 2], [0, 0]])
    with v1.variable_scope("conv_1"):
        conv_1 = conv2d(x, [5, 5, 1, 6], [6], phase_train, visualize=True, padding="VALID", **kw)
        pool_1 = avg_pool2d(conv_1)

    with v1.variable_scope("conv_2"):
        conv_2 = conv2d(pool_1, [5, 5, 6, 16], [16], phase_train, padding="VALID", **kw)
        pool_2 = avg_pool2d(conv_2)

    with v1.variable_scope("conv_3"):
        conv_3 = conv2d(pool_2, [5, 5, 16, 120], [120], phase_train, padding="VALID", **kw)
        flat = tf.reshape(conv_3, [-1, 120])

    with v1.variable_scope("fc"):
        fc = layer(flat, [120, 84], [84], **kw)
        if keep_prob is not None:
            fc = dropout(fc, keep_prob)

    with v1.variable_scope("output"):
        output = output_layer(fc, [84, 10], [10], phase_train, options)

    return output
