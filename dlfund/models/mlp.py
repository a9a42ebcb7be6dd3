"""The multilayer perceptron of Book chapter 3 (``multilayer_perceptron.py``), for experiments.

    x [batch, 784] -> hidden_1 (256) -> hidden_2 (256) -> output (10 logits)

Variables ``mlp_model/{hidden_1,hidden_2,output}/{W,b}`` as in the book (and in
the book's own chapter 4 checkpoint). ``ModelOptions.hidden_units`` sets the
hidden sizes (``(100,)`` gives a 784-100-10 network); with
``phase_train`` every hidden layer is batch-normalized (layer -> norm ->
activation, Book §5.10). The listing has no dropout; ``keep_prob`` below 1 adds
it after every hidden layer (``chapter5/flags/mlp.cfg`` keeps it at 1).
"""

from __future__ import annotations

import tensorflow as tf

from dlfund.layers import dropout, layer
from dlfund.models.common import ModelOptions, layer_args, output_layer

v1 = tf.compat.v1


def inference(x: tf.Tensor, keep_prob: tf.Tensor | None = None, phase_train: tf.Tensor | None = None,
              options: ModelOptions = ModelOptions()) -> tf.Tensor:
    """Builds the MLP.

    Args:
        x: float32 [batch, 784].
        keep_prob: optional float32 scalar; dropout after every hidden layer.
        phase_train: optional bool scalar; batch norm in every hidden layer.
        options: hidden sizes, activation, initializer; book defaults.

    Returns:
        float32 logits [batch, 10].
    """
    kw = layer_args(options)
    hidden, n_in = x, int(x.shape[-1])
    for i, units in enumerate(options.hidden_units, start=1):
        with v1.variable_scope(f"hidden_{i}"):
            hidden = layer(hidden, [n_in, units], [units], phase_train, **kw)
            if keep_prob is not None:
                hidden = dropout(hidden, keep_prob)
        n_in = units

    with v1.variable_scope("output"):
        output = output_layer(hidden, [n_in, 10], [10], phase_train, options)

    return output
