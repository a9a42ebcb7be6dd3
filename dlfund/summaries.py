"""TensorBoard summaries: the book's ``filter_summary``, histograms, images (Book §5.8-§5.12).

Graph summaries here go into the default ``SUMMARIES`` collection and are
merged by the driver, which runs them only at display steps (they cost time).
Scalars that the driver computes in Python (the epoch's average cost, the
validation error over the whole validation set) are written with
:func:`scalar_summary`, so TensorBoard shows exactly the numbers printed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np
import tensorflow as tf

v1 = tf.compat.v1


def filter_summary(V: tf.Tensor, weight_shape: Sequence[int], max_outputs: int = 64) -> tf.Tensor:
    """Image summary ``filters`` of a first convolution layer's kernels (Book §5.11).

    Each output channel becomes one image of size kh x kw with c_in channels
    (1 for MNIST, 3 for CIFAR-10), rescaled to [0, 1] per filter so that weak
    and strong filters are equally visible.

    Args:
        V: float32 weights [kh, kw, c_in, c_out], c_in in (1, 3).
        weight_shape: the same shape as a list (the book's argument).
        max_outputs: at most this many filters are shown (the book's 64).

    Returns:
        The summary op.
    """
    if weight_shape[2] not in (1, 3):
        raise ValueError(f"filters with {weight_shape[2]} input channels cannot be shown as images")
    V_T = tf.transpose(V, (3, 0, 1, 2))  # [c_out, kh, kw, c_in]
    lo = tf.reduce_min(V_T, axis=[1, 2, 3], keepdims=True)
    hi = tf.reduce_max(V_T, axis=[1, 2, 3], keepdims=True)
    scaled = (V_T - lo) / tf.maximum(hi - lo, 1e-8)
    return v1.summary.image("filters", scaled, max_outputs=max_outputs)


def weight_histograms(variables: Sequence[tf.Variable]) -> list:
    """One histogram per variable, tagged ``weights/<variable name>`` (``weights/mnist_conv_model/conv_1/W``).

    The tags get their own top-level scope: under the variable's own name the
    summary op would clash with the variable and be renamed ``W_1``.
    """
    with tf.name_scope("weights/"):
        return [v1.summary.histogram(v.op.name, v) for v in variables]


def input_images(x: tf.Tensor, image_shape: Sequence[int], max_outputs: int = 4) -> tf.Tensor:
    """Image summary ``input`` of the first examples fed to ``x``.

    Args:
        x: float32 [batch, D] or [batch, h, w, c].
        image_shape: (h, w, c) of one image.
        max_outputs: how many images.
    """
    images = tf.reshape(x, [-1] + list(image_shape))
    return v1.summary.image("input", images, max_outputs=max_outputs)


def scalar_summary(values: dict) -> v1.Summary:
    """A Summary proto of Python scalars, e.g. ``{"cost": 0.1, "validation error": 0.02}``."""
    return v1.Summary(value=[v1.Summary.Value(tag=tag, simple_value=float(value)) for tag, value in values.items()])


def image_summary(tag: str, images: np.ndarray, pngs: Sequence[bytes] | None = None) -> v1.Summary:
    """A Summary proto holding uint8 images [n, h, w, c] (c in 1, 3, 4) as PNGs.

    The PNGs are encoded eagerly, or taken from ``pngs`` (already encoded, e.g.
    by ``tf.io.encode_png`` in a graph, where eager ops cannot run).
    """
    images = np.asarray(images, dtype=np.uint8)
    if pngs is None:
        pngs = [tf.io.encode_png(image).numpy() for image in images]
    protos = []
    for i, (image, png) in enumerate(zip(images, pngs, strict=True)):
        protos.append(v1.Summary.Value(
            tag=f"{tag}/image/{i}" if len(images) > 1 else tag,
            image=v1.Summary.Image(height=image.shape[0], width=image.shape[1],
                                   colorspace=image.shape[2], encoded_image_string=png)))
    return v1.Summary(value=protos)


def histogram_summary(tag: str, values: np.ndarray, bins: int = 30) -> v1.Summary:
    """A Summary proto holding a histogram of NumPy values (e.g. activations computed in batches)."""
    values = np.asarray(values)
    counts, edges = np.histogram(values, bins=bins)
    hist = v1.HistogramProto(min=float(values.min()), max=float(values.max()), num=float(values.size),
                             sum=float(values.sum()), sum_squares=float((values.astype(np.float64) ** 2).sum()))
    hist.bucket_limit.extend(edges[1:].tolist())
    hist.bucket.extend(counts.tolist())
    return v1.Summary(value=[v1.Summary.Value(tag=tag, histo=hist)])


@contextlib.contextmanager
def file_writer(directory: str, graph: tf.Graph | None = None) -> Iterator[v1.summary.FileWriter]:
    """The book's ``summary_writer``: a TensorBoard ``FileWriter`` (with the graph, if given), closed at the end.

    The listings pass ``graph_def=sess.graph_def``; ``graph=`` is today's name.
    The writer is made in a graph of its own, as ``FileWriter`` needs graph mode.
    """
    with tf.Graph().as_default():
        writer = v1.summary.FileWriter(directory, graph=graph)
    try:
        yield writer
    finally:
        writer.close()
