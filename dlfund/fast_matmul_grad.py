"""A faster CPU gradient for the wide fully connected layers, kept apart from the book's ``layer``.

``layer`` computes ``tf.matmul(input, W) + b`` exactly as printed. Its backward
pass needs ``dx = dy @ W^T``; on CPU, oneDNN's ``MatMul`` with a transposed ``W``
of shape [3136, 1024] (the MNIST convnet's fc layer) is slow, while the same
product asked as a one-item ``BatchMatMulV2`` runs much faster. The gradient
here computes ``dx`` that way for matrix products with at least
:data:`MIN_OUTPUTS` outputs (narrower ones are no faster) and is otherwise the
usual ``MatMul`` gradient: the same values, only another kernel.

It is attached without touching the model code, through TensorFlow's gradient
override map::

    with batched_input_gradients(graph):
        output = inference(x, keep_prob)   # MatMul ops made here use it

``dlfund.graph.build_graph(..., fast_matmul_grad=True)`` does this; the measured
effect on the whole training step is in docs/performance.md.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import tensorflow as tf

#: Name under which the gradient is registered with TensorFlow.
GRADIENT_NAME = "DlfundBatchedInputGradMatMul"

#: Products with at least this many outputs take the batched input gradient.
MIN_OUTPUTS = 512


@tf.RegisterGradient(GRADIENT_NAME)
def _matmul_grad(op: tf.Operation, grad: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Gradients of ``x @ W`` (no transposes, as ``layer`` builds it) for x [batch, n_in], W [n_in, n_out]."""
    x, W = op.inputs
    if op.get_attr("transpose_a") or op.get_attr("transpose_b"):
        raise ValueError(f"{op.name}: {GRADIENT_NAME} handles x @ W only (no transposes)")
    if (W.shape[1] or 0) >= MIN_OUTPUTS:
        dx = tf.linalg.matmul(grad[tf.newaxis], W[tf.newaxis], transpose_b=True)[0]
    else:
        dx = tf.matmul(grad, W, transpose_b=True)
    dW = tf.matmul(x, grad, transpose_a=True)
    return dx, dW


@contextlib.contextmanager
def batched_input_gradients(graph: tf.Graph) -> Iterator[None]:
    """Within this context, ``MatMul`` ops created in ``graph`` get :func:`_matmul_grad`."""
    with graph.gradient_override_map({"MatMul": GRADIENT_NAME}):
        yield
