"""Builds a whole training/evaluation graph the way the book's ``__main__`` blocks do (Book §5.8).

    with tf.Graph().as_default():
        with tf.variable_scope("mnist_conv_model"):
            x, y, keep_prob = placeholders
            output = inference(x, keep_prob)
            cost = loss(output, y)
            global_step = tf.Variable(0, name='global_step', trainable=False)
            train_op = training(cost, global_step)
            eval_op = evaluate(output, y)
            saver = tf.train.Saver()

:func:`build_graph` does exactly this for any model in :mod:`dlfund.models`, in a
graph of its own, and returns the handles as a :class:`ModelGraph`.
"""

from __future__ import annotations

import contextlib
from typing import NamedTuple

import tensorflow as tf

from dlfund import checkpoints, summaries
from dlfund.fast_matmul_grad import batched_input_gradients
from dlfund.models import LAST_HIDDEN_LAYER, ModelOptions, ModelSpec
from dlfund.objectives import evaluate, loss, training

v1 = tf.compat.v1


class ModelGraph(NamedTuple):
    """Handles into a built graph.

    Attributes:
        graph: the ``tf.Graph`` everything lives in.
        x: float32 placeholder [None, *input_shape].
        y: labels placeholder: one-hot float32 [None, 10] or int32 [None].
        keep_prob: float32 scalar placeholder (default 1.0: no dropout).
        phase_train: bool scalar placeholder (default False) or None.
        output: float32 logits [None, 10].
        hidden: float32 [None, d], the last hidden layer (the output layer's input).
        probabilities: float32 softmax of ``output`` [None, 10].
        cost: float32 scalar, mean cross-entropy.
        train_op: one optimizer step (None if built without training).
        eval_op: float32 scalar, accuracy on the batch fed (the book's
            ``evaluate``; :func:`dlfund.training.evaluate_set` sums it over batches).
        global_step: int32 variable (as the book's) ``<scope>/global_step``.
        saver: Saver over all global variables (model, optimizer, moving averages).
        summary_op: merged histograms and images (None without training).
        init_op: initializer of all variables.
        variables_finite: bool [len(checked_variables)], whether each float
            variable holds only finite values (run before saving; None
            without training).
        checked_variables: names of the variables ``variables_finite`` checks.
        spec: the model's :class:`ModelSpec`.
    """
    graph: tf.Graph
    x: tf.Tensor
    y: tf.Tensor
    keep_prob: tf.Tensor
    phase_train: tf.Tensor | None
    output: tf.Tensor
    hidden: tf.Tensor
    probabilities: tf.Tensor
    cost: tf.Tensor
    train_op: tf.Operation | None
    eval_op: tf.Tensor
    global_step: tf.Variable
    saver: v1.train.Saver
    summary_op: tf.Tensor | None
    init_op: tf.Operation
    variables_finite: tf.Tensor | None
    checked_variables: tuple
    spec: ModelSpec


def model_variables(scope: str) -> list:
    """The variables a trained model needs: trainables, moving averages, global step.

    Optimizer slots (``.../W/Adam``, ``beta1_power``) are left out, so that a
    checkpoint written with any optimizer (or by the book's own code) restores.
    """
    return [v for v in v1.global_variables()
            if v.op.name.startswith(scope + "/") and not checkpoints.is_optimizer_state(v.op.name)]


def build_graph(spec: ModelSpec, options: ModelOptions = ModelOptions(), *, learning_rate: float = 1e-4,
                optimizer: str = "adam", optimizer_args: dict | None = None, sparse_labels: bool = False,
                seed: int | None = None, with_training: bool = True, summary_images: bool = True,
                max_to_keep: int = 5, fast_matmul_grad: bool = False, xla: bool = False) -> ModelGraph:
    """Builds placeholders, model, loss, training and evaluation in a new graph.

    Args:
        spec: the network, from :func:`dlfund.models.get_model`.
        options: architecture options.
        learning_rate: optimizer step size.
        optimizer: optimizer name (:data:`dlfund.objectives.OPTIMIZERS`).
        optimizer_args: extra keyword arguments of the optimizer.
        sparse_labels: labels as int32 class ids [None] (the CIFAR listings)
            instead of one-hot float32 [None, 10] (the MNIST listings).
        seed: graph-level random seed (initial weights, dropout masks); None
            leaves them random.
        with_training: build the optimizer (False for evaluation and prediction).
        summary_images: add image summaries (input digits, first-layer filters).
        max_to_keep: how many recent checkpoints the Saver keeps.
        fast_matmul_grad: wide fc layers' input gradient by :mod:`dlfund.fast_matmul_grad`
            (same values, another CPU kernel; off by default, docs/performance.md).
        xla: build the model, loss and training step inside XLA's ``jit_scope``
            (off by default: slower on the CPUs measured, docs/performance.md).

    Returns:
        A :class:`ModelGraph`.
    """
    graph = tf.Graph()
    with graph.as_default():
        if seed is not None:
            v1.set_random_seed(seed)
        with v1.variable_scope(spec.scope):
            x = v1.placeholder(tf.float32, [None, *spec.input_shape], name="x")
            y = v1.placeholder(tf.int32, [None], name="y") if sparse_labels else \
                v1.placeholder(tf.float32, [None, 10], name="y")
            # Defaults make evaluation and prediction feeds short: no dropout, inference mode.
            keep_prob = v1.placeholder_with_default(1.0, [], name="keep_prob")
            phase_train = v1.placeholder_with_default(False, [], name="phase_train") if spec.batch_norm else None

            with tf.xla.experimental.jit_scope() if xla else contextlib.nullcontext():
                with batched_input_gradients(graph) if fast_matmul_grad else contextlib.nullcontext():
                    output = spec.inference(x, keep_prob, phase_train, options)
                hidden = graph.get_collection(LAST_HIDDEN_LAYER)[-1]
                probabilities = tf.nn.softmax(output, name="probabilities")
                cost = loss(output, y)
                global_step = v1.Variable(0, name="global_step", trainable=False)
                train_op = training(cost, global_step, learning_rate, optimizer, add_summary=False,
                                    **(optimizer_args or {})) if with_training else None
            eval_op = evaluate(output, y, add_summary=False)

        # Summaries and the finiteness check serve training only.
        summary_op = _merged_summaries(graph, spec, x, summary_images) if with_training else None
        saver = v1.train.Saver(max_to_keep=max_to_keep)
        init_op = v1.global_variables_initializer()
        checked = [v for v in v1.global_variables() if v.dtype.base_dtype.is_floating] if with_training else []
        with tf.name_scope("variables_finite"):
            variables_finite = tf.stack([tf.reduce_all(tf.math.is_finite(v)) for v in checked]) if checked else None
    return ModelGraph(graph, x, y, keep_prob, phase_train, output, hidden, probabilities, cost, train_op, eval_op,
                      global_step, saver, summary_op, init_op, variables_finite,
                      tuple(v.op.name for v in checked), spec)


def _merged_summaries(graph: tf.Graph, spec: ModelSpec, x: tf.Tensor, images: bool) -> tf.Tensor | None:
    """Weight histograms, and with ``images`` the input images (the model added the filters).

    Additions: no listing writes histograms, and the MNIST listings write no
    images at all (docs/errata.md, "Additions"); the CIFAR listings' own images
    are ``distorted_images`` and ``filters``.
    """
    summaries.weight_histograms(v1.trainable_variables())
    if images:
        side = int(round(spec.input_shape[0] ** 0.5))
        summaries.input_images(x, (side, side, 1) if len(spec.input_shape) == 1 else spec.input_shape)
    else:
        col = graph.get_collection_ref(v1.GraphKeys.SUMMARIES)
        col[:] = [s for s in col if s.op.type != "ImageSummary"]
    return v1.summary.merge_all()
