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

from typing import NamedTuple, Optional

import tensorflow as tf

from dlfund import checkpoints, summaries
from dlfund.models import ModelOptions, ModelSpec
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
        probabilities: float32 softmax of ``output`` [None, 10].
        cost: float32 scalar, mean cross-entropy.
        train_op: one optimizer step (None if built without training).
        eval_op: float32 scalar, accuracy on the batch fed.
        correct: int32 scalar, number of correct predictions in the batch fed.
        global_step: int32 variable (as the book's) ``<scope>/global_step``.
        saver: Saver over all global variables (model, optimizer, moving averages).
        model_saver: Saver over the model's own variables only (weights,
            batch-norm averages, global step): restores book-era checkpoints.
        summary_op: merged histograms and images, or None.
        init_op: initializer of all variables.
        spec: the model's :class:`ModelSpec`.
    """
    graph: tf.Graph
    x: tf.Tensor
    y: tf.Tensor
    keep_prob: tf.Tensor
    phase_train: Optional[tf.Tensor]
    output: tf.Tensor
    probabilities: tf.Tensor
    cost: tf.Tensor
    train_op: Optional[tf.Operation]
    eval_op: tf.Tensor
    correct: tf.Tensor
    global_step: tf.Variable
    saver: v1.train.Saver
    model_saver: v1.train.Saver
    summary_op: Optional[tf.Tensor]
    init_op: tf.Operation
    spec: ModelSpec


def model_variables(scope: str) -> list:
    """The variables a trained model needs: trainables, moving averages, global step.

    Optimizer slots (``.../W/Adam``, ``beta1_power``) are left out, so that a
    checkpoint written with any optimizer (or by the book's own code) restores.
    """
    return [v for v in v1.global_variables()
            if v.op.name.startswith(scope + "/") and not checkpoints.is_optimizer_state(v.op.name)]


def build_graph(spec: ModelSpec, options: ModelOptions = ModelOptions(), *, learning_rate: float = 1e-4,
                optimizer: str = "adam", optimizer_args: Optional[dict] = None, sparse_labels: bool = False,
                seed: Optional[int] = None, with_training: bool = True, summary_images: bool = True,
                max_to_keep: int = 5) -> ModelGraph:
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

    Returns:
        A :class:`ModelGraph`.
    """
    graph = tf.Graph()
    with graph.as_default():
        if seed is not None:
            v1.set_random_seed(seed)
        with v1.variable_scope(spec.scope):
            x = v1.placeholder(tf.float32, [None, *spec.input_shape], name="x")
            if sparse_labels:
                y = v1.placeholder(tf.int32, [None], name="y")
            else:
                y = v1.placeholder(tf.float32, [None, 10], name="y")
            # Defaults make evaluation and prediction feeds short: no dropout, inference mode.
            keep_prob = v1.placeholder_with_default(1.0, [], name="keep_prob")
            phase_train = v1.placeholder_with_default(False, [], name="phase_train") if spec.batch_norm else None

            output = spec.build(x, keep_prob, phase_train, options)
            probabilities = tf.nn.softmax(output, name="probabilities")
            cost = loss(output, y)
            global_step = v1.Variable(0, name="global_step", trainable=False)
            train_op = None
            if with_training:
                train_op = training(cost, global_step, learning_rate, optimizer, add_summary=False,
                                    **(optimizer_args or {}))
            eval_op = evaluate(output, y, add_summary=False)
            truth = tf.cast(y, tf.int64) if sparse_labels else tf.argmax(y, 1)
            correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(output, 1), truth), tf.int32), name="correct")

        summaries.weight_histograms(v1.trainable_variables())
        if summary_images and len(spec.input_shape) == 1:
            side = int(round(spec.input_shape[0] ** 0.5))
            summaries.input_images(x, (side, side, 1))
        elif summary_images:
            summaries.input_images(x, spec.input_shape)
        if not summary_images:
            # filter_summary was added by the model; drop image summaries on request.
            col = graph.get_collection_ref(v1.GraphKeys.SUMMARIES)
            col[:] = [s for s in col if not s.op.type == "ImageSummary"]
        summary_op = v1.summary.merge_all()
        saver = v1.train.Saver(max_to_keep=max_to_keep)
        model_saver = v1.train.Saver(var_list=model_variables(spec.scope), max_to_keep=max_to_keep)
        init_op = v1.global_variables_initializer()
    return ModelGraph(graph, x, y, keep_prob, phase_train, output, probabilities, cost, train_op, eval_op,
                      correct, global_step, saver, model_saver, summary_op, init_op, spec)
