"""Batch normalization the book's way: batch moments, an EMA of them, ``tf.cond`` (Book §5.10).

In training (``phase_train`` True) a layer is normalized with the moments of the
current batch and an ``ExponentialMovingAverage(decay=0.9)`` of those moments is
updated; in inference (``phase_train`` False) the moving averages are used and
left untouched. ``beta`` (shift, init 0) and ``gamma`` (scale, init 1) are
trained; epsilon is 1e-3. The moving averages are global variables, so the
Saver keeps them and a restored model evaluates with them.

Fixed defect (docs/errata.md, E2): the book builds ``ema.apply`` outside the
``tf.cond``; its control dependency then runs the update whenever the cond runs,
in both branches, so every evaluation with ``phase_train: False`` pulled the
averages towards the evaluation batch. Here the update is built inside the
training branch. ``update_averages_in_inference=True`` restores the book's
behaviour. Variable names are the same either way (the EMA slots are named
after the batch-moment tensors, e.g.
``cifar_conv_bn_model/conv_1/cifar_conv_bn_model/conv_1/moments/Squeeze/ExponentialMovingAverage``,
with the scope doubled exactly as in book-era checkpoints).

``tf.nn.batch_norm_with_global_normalization(..., scale_after_normalization=True)``
that the book calls is deprecated; ``tf.nn.batch_normalization`` computes the
same ``gamma * (x - mean) / sqrt(var + eps) + beta``.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

v1 = tf.compat.v1

DECAY = 0.9
EPSILON = 1e-3


def _batch_norm(x: tf.Tensor, n_out: int, phase_train: tf.Tensor, axes: Sequence[int],
                decay: float, epsilon: float, update_averages_in_inference: bool) -> tf.Tensor:
    beta = v1.get_variable("beta", [n_out], initializer=v1.constant_initializer(value=0.0))
    gamma = v1.get_variable("gamma", [n_out], initializer=v1.constant_initializer(value=1.0))
    batch_mean, batch_var = tf.nn.moments(x, list(axes), name="moments")
    ema = v1.train.ExponentialMovingAverage(decay=decay)

    if update_averages_in_inference:
        # The book's listing: the update op exists outside the cond (errata E2).
        ema_apply_op = ema.apply([batch_mean, batch_var])

    def mean_var_with_update():
        apply_op = ema_apply_op if update_averages_in_inference else ema.apply([batch_mean, batch_var])
        with tf.control_dependencies([apply_op]):
            return tf.identity(batch_mean), tf.identity(batch_var)

    def mean_var_from_averages():
        return ema.average(batch_mean), ema.average(batch_var)

    if update_averages_in_inference:
        mean, var = tf.cond(phase_train, mean_var_with_update,
                            lambda: (ema.average(batch_mean), ema.average(batch_var)))
    else:
        # The training branch creates the averages; inference only reads them.
        # Building the training branch first makes sure they exist.
        mean, var = tf.cond(phase_train, mean_var_with_update, mean_var_from_averages)
    return tf.nn.batch_normalization(x, mean, var, beta, gamma, epsilon)


def conv_batch_norm(x: tf.Tensor, n_out: int, phase_train: tf.Tensor, *, decay: float = DECAY,
                    epsilon: float = EPSILON, update_averages_in_inference: bool = False) -> tf.Tensor:
    """Batch normalization of a convolution's pre-activation (Book §5.10).

    Moments are taken per channel over batch, height and width (axes [0, 1, 2]).

    Args:
        x: float32 [batch, height, width, n_out].
        n_out: number of channels.
        phase_train: bool scalar tensor; True normalizes with the batch moments
            and updates the moving averages, False uses the averages.
        decay: EMA decay (the book's 0.9).
        epsilon: variance epsilon (the book's 1e-3).
        update_averages_in_inference: reproduce the book's defect E2.

    Returns:
        float32 [batch, height, width, n_out].
    """
    return _batch_norm(x, n_out, phase_train, [0, 1, 2], decay, epsilon, update_averages_in_inference)


def layer_batch_norm(x: tf.Tensor, n_out: int, phase_train: tf.Tensor, *, decay: float = DECAY,
                     epsilon: float = EPSILON, update_averages_in_inference: bool = False) -> tf.Tensor:
    """Batch normalization of a fully connected layer's pre-activation (Book §5.10).

    Moments are taken per unit over the batch (axis [0]). The book reshapes to
    [batch, 1, 1, n_out] only because ``batch_norm_with_global_normalization``
    wanted 4-D input; ``tf.nn.batch_normalization`` does not, so no reshape.

    Args:
        x: float32 [batch, n_out].
        n_out: number of units.
        phase_train: bool scalar tensor, as in :func:`conv_batch_norm`.
        decay: EMA decay (the book's 0.9).
        epsilon: variance epsilon (the book's 1e-3).
        update_averages_in_inference: reproduce the book's defect E2.

    Returns:
        float32 [batch, n_out].
    """
    return _batch_norm(x, n_out, phase_train, [0], decay, epsilon, update_averages_in_inference)
