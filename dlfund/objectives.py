"""The book's ``loss``, ``training`` and ``evaluate`` (Book §3, §5.8).

The pipeline of every network here is ``inference -> loss -> training``, with
``evaluate`` beside it:

    output = model.inference(x, keep_prob)      # logits [batch, 10]
    cost = loss(output, y)                      # scalar
    train_op = training(cost, global_step, ...) # one optimizer step
    eval_op = evaluate(output, y)               # accuracy on the batch fed

Labels may be one-hot float rows (the MNIST listings) or integer class ids (the
CIFAR listings); both functions accept either.
"""

from __future__ import annotations

import tensorflow as tf

v1 = tf.compat.v1

#: Optimizers of chapter 4, by flag name.
OPTIMIZERS = ("sgd", "momentum", "adagrad", "rmsprop", "adam")


def _is_sparse(y: tf.Tensor) -> bool:
    return y.dtype.is_integer and y.shape.rank == 1


def loss(output: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    """Mean softmax cross-entropy (Book §5.8).

    No softmax in ``inference``: the loss takes unscaled logits, which is both
    cheaper and numerically safer. Arguments are passed by keyword: TF 2.x
    silently reads the book's positional ``(output, y)`` as ``(labels, logits)``.

    Args:
        output: float32 logits [batch, num_classes].
        y: one-hot float32 [batch, num_classes] or int class ids [batch].

    Returns:
        float32 scalar.
    """
    if _is_sparse(y):
        xentropy = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.cast(y, tf.int64), logits=output)
    else:
        xentropy = tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=output)
    return tf.reduce_mean(xentropy)


def make_optimizer(name: str, learning_rate: float, *, momentum: float = 0.9, nesterov: bool = False,
                   beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8,
                   rmsprop_decay: float = 0.9, adagrad_initial: float = 0.1) -> v1.train.Optimizer:
    """Returns one of chapter 4's optimizers (``tf.compat.v1.train``).

    Args:
        name: one of :data:`OPTIMIZERS`.
        learning_rate: step size.
        momentum: momentum coefficient (``momentum``; also RMSProp's momentum
            when ``name`` is ``rmsprop``, where 0 gives plain RMSProp).
        nesterov: Nesterov momentum (``momentum`` only).
        beta1, beta2, epsilon: Adam's moment decays and epsilon.
        rmsprop_decay: decay of RMSProp's squared-gradient average.
        adagrad_initial: Adagrad's initial accumulator value.

    Returns:
        An optimizer instance.
    """
    if name == "sgd":
        return v1.train.GradientDescentOptimizer(learning_rate)
    if name == "momentum":
        return v1.train.MomentumOptimizer(learning_rate, momentum, use_nesterov=nesterov)
    if name == "adagrad":
        return v1.train.AdagradOptimizer(learning_rate, initial_accumulator_value=adagrad_initial)
    if name == "rmsprop":
        return v1.train.RMSPropOptimizer(learning_rate, decay=rmsprop_decay, momentum=momentum)
    if name == "adam":
        return v1.train.AdamOptimizer(learning_rate, beta1=beta1, beta2=beta2, epsilon=epsilon)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")


def training(cost: tf.Tensor, global_step: tf.Variable, learning_rate: float = 1e-4,
             optimizer: str = "adam", add_summary: bool = True, **optimizer_args) -> tf.Operation:
    """One optimizer step on ``cost`` that increments ``global_step`` (Book §5.8).

    Args:
        cost: float32 scalar to minimize.
        global_step: int variable, incremented by every step.
        learning_rate: step size (the MNIST convnet listing: Adam 1e-4).
        optimizer: one of :data:`OPTIMIZERS` (the book uses ``adam`` here and
            ``sgd`` in chapter 3).
        add_summary: add the book's ``cost`` scalar summary of ``cost``.
        **optimizer_args: passed to :func:`make_optimizer`.

    Returns:
        The training op.
    """
    if add_summary:
        v1.summary.scalar("cost", cost)
    opt = make_optimizer(optimizer, learning_rate, **optimizer_args)
    return opt.minimize(cost, global_step=global_step)


def evaluate(output: tf.Tensor, y: tf.Tensor, add_summary: bool = True) -> tf.Tensor:
    """Fraction of the batch classified correctly (Book §5.8).

    Args:
        output: float32 logits [batch, num_classes].
        y: one-hot float32 [batch, num_classes] or int class ids [batch].
        add_summary: add the book's ``validation error`` scalar (1 - accuracy).

    Returns:
        float32 scalar in [0, 1].
    """
    predicted = tf.argmax(output, 1)
    truth = tf.cast(y, tf.int64) if _is_sparse(y) else tf.argmax(y, 1)
    accuracy = tf.reduce_mean(tf.cast(tf.equal(predicted, truth), tf.float32))
    if add_summary:
        v1.summary.scalar("validation error", (1.0 - accuracy))
    return accuracy
