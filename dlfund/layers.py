"""The book's building blocks: ``layer``, ``conv2d``, ``max_pool`` (Book §3, §5.8, §5.10).

Each function creates its variables with ``tf.compat.v1.get_variable`` under the
caller's ``variable_scope``, named ``W`` and ``b`` as in the book, so a network
built from them has the book's variable names (``mnist_conv_model/conv_1/W``)
and book-era checkpoints restore into it.

The book's signatures are kept: ``layer(input, weight_shape, bias_shape)`` and
``conv2d(input, weight_shape, bias_shape)`` from §5.8, and the extra
``phase_train`` argument of the batch-normalized versions from §5.10 (when it is
given, batch norm is applied between the affine map and the activation).
Everything added beyond the book is keyword-only.

Fixed defect (docs/errata.md, E1): the book's ``layer`` always applies ReLU, so its
output logits went through ReLU too. Here ``activation`` is an argument and the
models pass ``activation=None`` for the output layer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import tensorflow as tf

from dlfund.batch_norm import conv_batch_norm, layer_batch_norm

v1 = tf.compat.v1

Activation = Callable[[tf.Tensor], tf.Tensor] | None

#: Activation functions by flag name; ``none`` gives the identity.
ACTIVATIONS = {
    "relu": tf.nn.relu,
    "leaky_relu": tf.nn.leaky_relu,
    "elu": tf.nn.elu,
    "selu": tf.nn.selu,
    "tanh": tf.nn.tanh,
    "sigmoid": tf.nn.sigmoid,
    "none": None,
}

#: Weight initializers by flag name; see :func:`weight_initializer`.
WEIGHT_INITS = ("book", "normal", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal")


def weight_initializer(name: str, fan_in: int):
    """Returns the initializer for a weight tensor with ``fan_in`` inputs per unit.

    Args:
        name: one of :data:`WEIGHT_INITS`:
            ``book``: N(0, sqrt(2 / fan_in)), the book's choice (He et al. 2015
            without truncation);
            ``normal``: N(0, 1), plain random normal weights (no scaling);
            ``glorot_uniform`` / ``glorot_normal``: Glorot & Bengio 2010
            (Xavier), variance 2 / (fan_in + fan_out);
            ``he_uniform`` / ``he_normal``: variance 2 / fan_in (the normal one
            truncated at two standard deviations, as TF does).
        fan_in: inputs per output unit (kh * kw * c_in for a convolution).

    Returns:
        A ``tf.compat.v1`` initializer.
    """
    if name == "book":
        return v1.random_normal_initializer(stddev=(2.0 / fan_in) ** 0.5)
    if name == "normal":
        return v1.random_normal_initializer(stddev=1.0)
    if name == "glorot_uniform":
        return v1.glorot_uniform_initializer()
    if name == "glorot_normal":
        return v1.glorot_normal_initializer()
    if name == "he_uniform":
        return v1.variance_scaling_initializer(scale=2.0, mode="fan_in", distribution="uniform")
    if name == "he_normal":
        return v1.variance_scaling_initializer(scale=2.0, mode="fan_in", distribution="truncated_normal")
    raise ValueError(f"unknown weight initializer {name!r}; choose one of {', '.join(WEIGHT_INITS)}")


def layer(input: tf.Tensor, weight_shape: Sequence[int], bias_shape: Sequence[int],
          phase_train: tf.Tensor | None = None, *, activation: Activation = tf.nn.relu,
          weight_init: str = "book", update_averages_in_inference: bool = False) -> tf.Tensor:
    """A fully connected layer: ``activation(batch_norm(input @ W + b))`` (Book §3, §5.10).

    Args:
        input: float32 [batch, n_in].
        weight_shape: [n_in, n_out].
        bias_shape: [n_out].
        phase_train: optional bool scalar tensor; when given, the pre-activation
            goes through :func:`layer_batch_norm` (the §5.10 listing).
        activation: applied last; ``None`` returns the (normalized) logits.
        weight_init: name of the weight initializer, see :func:`weight_initializer`.
        update_averages_in_inference: reproduce the book's batch-norm defect E2.

    Returns:
        float32 [batch, n_out].
    """
    weight_init = weight_initializer(weight_init, fan_in=weight_shape[0])
    bias_init = v1.constant_initializer(value=0)
    W = v1.get_variable("W", weight_shape, initializer=weight_init)
    b = v1.get_variable("b", bias_shape, initializer=bias_init)  # idle under batch norm, kept (errata E19)
    logits = tf.matmul(input, W) + b
    if phase_train is not None:
        logits = layer_batch_norm(logits, weight_shape[1], phase_train,
                                  update_averages_in_inference=update_averages_in_inference)
    return activation(logits) if activation is not None else logits


def conv2d(input: tf.Tensor, weight_shape: Sequence[int], bias_shape: Sequence[int],
           phase_train: tf.Tensor | None = None, visualize: bool = False, *,
           activation: Activation = tf.nn.relu, padding: str = "SAME",
           weight_init: str = "book", update_averages_in_inference: bool = False) -> tf.Tensor:
    """A stride-1 convolution layer: ``activation(batch_norm(conv(input, W) + b))`` (Book §5.8).

    Args:
        input: float32 [batch, height, width, c_in].
        weight_shape: [kh, kw, c_in, c_out].
        bias_shape: [c_out].
        phase_train: optional bool scalar tensor; when given, the pre-activation
            goes through :func:`conv_batch_norm` (the §5.10 listing).
        visualize: add the book's ``filter_summary`` of ``W`` (first layer only:
            the filters must have 1 or 3 input channels to be shown as images).
        activation: applied last; ``None`` returns the pre-activation.
        padding: ``SAME`` (the book) or ``VALID`` (LeNet-5).
        weight_init: name of the weight initializer, see :func:`weight_initializer`.
        update_averages_in_inference: reproduce the book's batch-norm defect E2.

    Returns:
        float32 [batch, height', width', c_out]; height' = height for SAME padding,
        height - kh + 1 for VALID.
    """
    incoming = weight_shape[0] * weight_shape[1] * weight_shape[2]
    weight_init = weight_initializer(weight_init, fan_in=incoming)
    W = v1.get_variable("W", weight_shape, initializer=weight_init)
    if visualize:
        from dlfund.summaries import filter_summary  # summaries imports nothing from here
        filter_summary(W, weight_shape)
    bias_init = v1.constant_initializer(value=0)
    # With batch norm, b does nothing (the norm subtracts the channel's mean; its gradient is rounding noise, E19):
    # kept as in convnet_cifar_bn.py, so that the book's checkpoints, which hold it, restore name for name.
    b = v1.get_variable("b", bias_shape, initializer=bias_init)
    logits = tf.nn.bias_add(tf.nn.conv2d(input, W, strides=[1, 1, 1, 1], padding=padding), b)
    if phase_train is not None:
        logits = conv_batch_norm(logits, weight_shape[3], phase_train,
                                 update_averages_in_inference=update_averages_in_inference)
    return activation(logits) if activation is not None else logits


def max_pool2d(input: tf.Tensor, k: int = 2) -> tf.Tensor:
    """k x k max pooling with stride k and SAME padding (the book's ``max_pool``, §5.8).

    Args:
        input: float32 [batch, height, width, channels].
        k: window size and stride.

    Returns:
        float32 [batch, ceil(height / k), ceil(width / k), channels].
    """
    return tf.nn.max_pool2d(input, ksize=[1, k, k, 1], strides=[1, k, k, 1], padding="SAME")


#: The book's name for :func:`max_pool2d`.
max_pool = max_pool2d


def avg_pool2d(input: tf.Tensor, k: int = 2, padding: str = "VALID") -> tf.Tensor:
    """k x k average pooling with stride k (LeNet-5's subsampling).

    Args:
        input: float32 [batch, height, width, channels].
        k: window size and stride.
        padding: ``VALID`` (LeNet-5) or ``SAME``.

    Returns:
        float32 [batch, height // k, width // k, channels] for VALID padding.
    """
    return tf.nn.avg_pool2d(input, ksize=[1, k, k, 1], strides=[1, k, k, 1], padding=padding)


def dropout(input: tf.Tensor, keep_prob: tf.Tensor) -> tf.Tensor:
    """Dropout with the book's ``keep_prob`` (TF 2.x ``tf.nn.dropout`` takes ``rate``).

    Passing the book's ``keep_prob`` positionally to TF 2.x's ``tf.nn.dropout``
    would silently drop ``keep_prob`` of the units instead of keeping them; this
    converts explicitly.

    Args:
        input: any float tensor.
        keep_prob: scalar float tensor in (0, 1]; 1 disables dropout.

    Returns:
        A tensor of the same shape, scaled by 1 / keep_prob where kept.
    """
    return tf.nn.dropout(input, rate=1.0 - keep_prob)
