"""The same networks in today's Keras, with the weights of a run's or the book's own checkpoint.

:func:`keras_model` builds any network of :mod:`dlfund.models` as a Keras 3
functional model named after the book's scope, its layers after the book's
variable scopes (``conv_1``, ``fc``, ``output``; batch norm ``conv_1_bn``), and
:func:`load_checkpoint` copies a ``tf.compat.v1`` checkpoint into it: ``W`` and
``b`` into ``kernel`` and ``bias``, batch norm's ``gamma``, ``beta`` and moving
averages into ``gamma``, ``beta``, ``moving_mean`` and ``moving_variance``
(epsilon 1e-3 and momentum 0.9, the book's). Checkpoints of every TensorFlow
version the book ran on are read, as for :func:`dlfund.checkpoints.restore_variables`.

The TF1 graph and the Keras model compute the same logits (tested for every
network, batch-normalized ones in inference mode included)::

    placeholder x [None, 784]        ->  keras.Input((784,), name="x")
    with variable_scope("conv_1"):   ->  layers named "conv_1", "conv_1_bn", ...
        conv2d(x, [5, 5, 1, 32], ...)->  Conv2D(32, 5, padding="same", name="conv_1")
        conv_batch_norm(..., phase)  ->  BatchNormalization(name="conv_1_bn"), called with training=...
    tf.nn.dropout(x, keep_prob)      ->  Dropout(1 - keep_prob)

``docs/modern_tf.md`` walks through each listing this way.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from dlfund import batch_norm, checkpoints
from dlfund.errors import CheckpointError
from dlfund.models import ModelOptions, get_model

#: Keras activation names for ``ModelOptions.activation`` (TF's ``leaky_relu`` has Keras's slope, 0.2).
_ACTIVATIONS = {"relu": "relu", "leaky_relu": "leaky_relu", "elu": "elu", "selu": "selu", "tanh": "tanh",
                "sigmoid": "sigmoid"}


class _Builder:
    """Adds the book's layers to a functional model, named after their variable scopes."""

    def __init__(self, bn: bool, options: ModelOptions, activation: str, keep_prob: float) -> None:
        self.bn, self.options, self.keep_prob = bn, options, keep_prob
        self.activation = _ACTIVATIONS[options.activation or activation]

    def _finish(self, x, scope: str, bn: bool, activation: str | None):
        if bn:
            x = keras.layers.BatchNormalization(momentum=batch_norm.DECAY, epsilon=batch_norm.EPSILON,
                                                name=f"{scope}_bn")(x)
        return keras.layers.Activation(activation, name=f"{scope}_act")(x) if activation else x

    def conv(self, x, scope: str, filters: int, padding: str = "same"):
        x = keras.layers.Conv2D(filters, 5, padding=padding, name=scope)(x)
        return self._finish(x, scope, self.bn, self.activation)

    def dense(self, x, scope: str, units: int, bn: bool | None = None):
        x = keras.layers.Dense(units, name=scope)(x)
        return self._finish(x, scope, self.bn if bn is None else bn, self.activation)

    def dropout(self, x, scope: str):
        return keras.layers.Dropout(1.0 - self.keep_prob, name=f"{scope}_dropout")(x)

    def output(self, x):
        """Logits; with the book's defect E1, batch norm (in batch-normalized networks) and ReLU on them."""
        x = keras.layers.Dense(10, name="output")(x)
        if self.options.book_output_relu:
            return self._finish(x, "output", self.bn, "relu")
        return x


def keras_model(name: str, options: ModelOptions = ModelOptions(), keep_prob: float = 0.5) -> keras.Model:
    """The network ``name`` (a ``--model`` name) as a Keras model: x -> logits [batch, 10].

    Args:
        name: one of :data:`dlfund.models.MODEL_NAMES`.
        options: architecture options, as for the TF1 graph.
        keep_prob: the dropout keep probability used when the model is trained
            in Keras (dropout is off in inference, as in the TF1 graph).

    Returns:
        A ``keras.Model`` named after the book's scope, input ``x`` shaped as the
        TF1 placeholder (float32 [None, 784] for MNIST, [None, 24, 24, 3] for CIFAR-10).
    """
    spec = get_model(name)
    inputs = keras.Input(spec.input_shape, name="x")
    base = name[:-3] if spec.batch_norm else name
    b = _Builder(spec.batch_norm, options, "tanh" if base == "lenet5" else "relu", keep_prob)
    x = inputs
    if base == "mnist_conv":
        x = keras.layers.Reshape((28, 28, 1), name="reshape")(x)
        for scope, filters in (("conv_1", 32), ("conv_2", 64)):
            x = keras.layers.MaxPooling2D(2, padding="same", name=f"{scope}_pool")(b.conv(x, scope, filters))
        x = b.dropout(b.dense(keras.layers.Flatten(name="flatten")(x), "fc", 1024), "fc")
    elif base == "cifar_conv":
        for scope in ("conv_1", "conv_2"):
            x = keras.layers.MaxPooling2D(2, padding="same", name=f"{scope}_pool")(b.conv(x, scope, 64))
        x = b.dropout(b.dense(keras.layers.Flatten(name="flatten")(x), "fc_1", 384), "fc_1")
        x = b.dropout(b.dense(x, "fc_2", 192), "fc_2")
    elif base == "mlp":
        for i, units in enumerate(options.hidden_units, start=1):
            x = b.dropout(b.dense(x, f"hidden_{i}", units), f"hidden_{i}")
    elif base == "lenet5":
        x = keras.layers.Reshape((28, 28, 1), name="reshape")(x)
        x = keras.layers.ZeroPadding2D(2, name="pad")(x)
        x = keras.layers.AveragePooling2D(2, name="conv_1_pool")(b.conv(x, "conv_1", 6, "valid"))
        x = keras.layers.AveragePooling2D(2, name="conv_2_pool")(b.conv(x, "conv_2", 16, "valid"))
        x = keras.layers.Flatten(name="flatten")(b.conv(x, "conv_3", 120, "valid"))
        x = b.dropout(b.dense(x, "fc", 84, bn=False), "fc")  # the TF1 LeNet-5 has no batch norm here
    return keras.Model(inputs, b.output(x), name=spec.scope)


def tf1_names(model: keras.Model) -> dict:
    """``{TF1 variable name: (layer, weight)}`` for every weight of a model from :func:`keras_model`.

    ``conv_1/kernel`` is ``<scope>/conv_1/W``; ``conv_1_bn/moving_mean`` is the
    moving average ``<scope>/conv_1/<scope>/conv_1/moments/Squeeze/ExponentialMovingAverage``
    (``Squeeze_1`` for the variance), named as TensorFlow 1.2 and later name it.
    """
    scope, names = model.name, {}
    for layer in model.layers:
        for weight in layer.weights:
            leaf = weight.path.rsplit("/", 1)[1]
            base = layer.name[:-3] if layer.name.endswith("_bn") else layer.name
            if leaf in ("kernel", "bias"):
                name = f"{scope}/{base}/{'W' if leaf == 'kernel' else 'b'}"
            elif leaf in ("gamma", "beta"):
                name = f"{scope}/{base}/{leaf}"
            else:
                squeeze = "Squeeze" if leaf == "moving_mean" else "Squeeze_1"
                name = f"{scope}/{base}/{scope}/{base}/moments/{squeeze}/ExponentialMovingAverage"
            names[name] = (layer, weight)
    return names


def load_checkpoint(model: keras.Model, checkpoint: str) -> str:
    """Copies a checkpoint of the TF1 network into ``model`` (built by :func:`keras_model`).

    Every weight of the model must come from the checkpoint, and every model
    variable of the checkpoint must find its place (see
    :func:`dlfund.checkpoints.checkpoint_map`), so nothing loads in part; the
    step count is not needed.

    Returns:
        A note on the batch-norm naming read ("" for this code's own).

    Raises:
        CheckpointError: the checkpoint is missing or does not match the network.
    """
    if not checkpoints.checkpoint_exists(checkpoint):
        raise CheckpointError(f"{checkpoint}: no such checkpoint")
    targets = tf1_names(model)
    shapes = {name: list(weight.shape) for name, (_, weight) in targets.items()}
    shapes[f"{model.name}/global_step"] = []  # in every checkpoint; a Keras model does not count steps
    stored, note = checkpoints.checkpoint_map(checkpoint, shapes)
    reader = tf.train.load_checkpoint(checkpoint)
    for name, (_, weight) in targets.items():
        weight.assign(reader.get_tensor(stored[name]))
    return note


def probability_model(model: keras.Model) -> keras.Model:
    """``model`` followed by a softmax: x -> class probabilities [batch, 10] (what an export serves)."""
    probabilities = keras.layers.Softmax(name="probabilities")(model.output)
    return keras.Model(model.input, probabilities, name=model.name)


def as_numpy(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """The model's output for ``x`` in inference mode, as NumPy (batch norm uses its moving averages)."""
    return np.asarray(model(x, training=False))
