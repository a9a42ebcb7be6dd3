"""Why a trained network says what it says: one unit's arithmetic, and which pixels made the answer (Book §5.12).

Two questions a reader asks of a restored ``tf.compat.v1`` graph
(:func:`dlfund.graph.build_graph` plus a Saver checkpoint), in inference mode
(dropout off, batch norm with its moving averages):

* *How did this number come to be?* :func:`unit_parts` spells out one unit of
  one layer: for a convolution the input patch, the kernel slice, their
  element-wise products and sums per input channel (ranked by how much each
  gave), then ``+ b``, batch norm with the moving mean and variance it used, the
  activation; for a pooled unit the window and which value won (or their
  average); for a fully connected layer the largest products ``w_i x_i`` and
  what the rest add up to. Every number is read from the graph (its input, its
  variables, the tensors batch norm used), so the parts add up to the value
  the graph computed, to float32 rounding.
* *Why this answer?* :func:`attributions` gives a map over the input by one of
  :data:`METHODS`, all from ``tf.gradients`` on the restored graph
  (:class:`Explainer` adds those ops once), for a class or for the difference
  of two classes' logits ("why 3 and not 8").

The layers are found by the book's variable scopes (``conv_1``, ``conv_1/pool``,
``fc``, ``output``: :func:`dlfund.analysis.layer_tensors`), so every network of
:mod:`dlfund.models` is explained by the same code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from dlfund.analysis import ACTIVATION_OPS, POOL_OPS, layer_tensors
from dlfund.batch_norm import EPSILON

v1 = tf.compat.v1

#: The attribution methods of :func:`attributions`.
METHODS = ("saliency", "gradient_x_input", "integrated_gradients", "smoothgrad", "grad_cam", "occlusion")

#: How many inputs of a sum :func:`unit_parts` shows one by one: input channels of a convolution, products of a
#: fully connected unit. The rest are summed.
SHOWN_CHANNELS = 4
SHOWN_INPUTS = 10


class ExplainError(ValueError):
    """A layer, unit, method or class that the network does not have; the message says what it has."""


class Layer(NamedTuple):
    """The tensors of one layer of a built graph that :func:`unit_parts` reads.

    Attributes:
        name: the book's scope name (``conv_2``, ``conv_2/pool``, ``fc``, ``output``).
        kind: ``conv``, ``pool`` or ``dense``.
        output: the layer's value, float32 [n, h, w, c] or [n, units].
        input: what the layer computes from: the convolution's or matmul's data
            input, or for a pool the activation it pools.
        weights: ``W`` as the convolution or matmul reads it (None for a pool).
        bias: ``b`` as it is added (None for a pool).
        pre_activation: ``input * W + b`` (None for a pool).
        batch_norm: {"mean", "variance", "gamma", "beta"}: the tensors the
            graph's batch norm used, or None without batch norm.
        normalized: the batch norm's output (None without).
        activation: the activation's op type (``Relu``, ``Tanh``, ...), or None.
        op: for a pool its op (ksize, strides, padding); for a convolution the Conv2D.
    """
    name: str
    kind: str
    output: tf.Tensor
    input: tf.Tensor
    weights: tf.Tensor | None
    bias: tf.Tensor | None
    pre_activation: tf.Tensor | None
    batch_norm: dict | None
    normalized: tf.Tensor | None
    activation: str | None
    op: tf.Operation | None


def model_layers(g) -> dict:
    """Every layer of a built :class:`dlfund.graph.ModelGraph` that :func:`unit_parts` explains, in order.

    Returns:
        {name: :class:`Layer`}, the names of :func:`dlfund.analysis.layer_tensors`.
    """
    graph, prefix = g.graph, g.spec.scope + "/"
    ops = {o.name for o in graph.get_operations()}  # once: a layer's Conv2D or MatMul is then looked up by name
    layers = {}
    for name, tensor in layer_tensors(g).items():
        op = tensor.op
        if op.type in POOL_OPS:
            layers[name] = Layer(name, "pool", tensor, op.inputs[0], None, None, None, None, None, None, op)
            continue
        scope = prefix + name + "/"
        linear = next((graph.get_operation_by_name(scope + t) for t in ("Conv2D", "MatMul") if scope + t in ops), None)
        if linear is None:
            continue
        pre = next(c for c in linear.outputs[0].consumers() if c.type in ("BiasAdd", "AddV2", "Add")).outputs[0]
        activation = op.type if op.type in ACTIVATION_OPS else None
        before_activation = op.inputs[0] if activation else tensor
        bn, normalized = None, None
        if before_activation is not pre:  # batch norm between them (dlfund.batch_norm)
            bn = {"mean": graph.get_operation_by_name(scope + "batchnorm/mul_2").inputs[0],
                  "variance": graph.get_operation_by_name(scope + "batchnorm/add").inputs[0],
                  "gamma": graph.get_operation_by_name(scope + "batchnorm/mul").inputs[1],
                  "beta": graph.get_operation_by_name(scope + "batchnorm/sub").inputs[0]}
            normalized = before_activation
        layers[name] = Layer(name, "conv" if linear.type == "Conv2D" else "dense", tensor, linear.inputs[0],
                             linear.inputs[1], pre.op.inputs[1], pre, bn, normalized, activation,
                             linear if linear.type == "Conv2D" else None)
    return layers


def _window(op: tf.Operation, in_size: int, out_size: int, axis: int) -> tuple[int, int, int]:
    """(stride, kernel size, padding before) of a convolution or pool along one spatial axis."""
    strides = op.get_attr("strides")
    stride = strides[axis]
    k = int(op.inputs[1].shape[axis - 1]) if op.type == "Conv2D" else op.get_attr("ksize")[axis]
    padding = op.get_attr("padding")
    padding = padding.decode() if isinstance(padding, bytes) else padding
    before = max((out_size - 1) * stride + k - in_size, 0) // 2 if padding == "SAME" else 0
    return stride, k, before


def receptive_field(tensor: tf.Tensor, row: int, col: int, input_side: Sequence[int]) -> list:
    """The input pixels one spatial unit of ``tensor`` depends on, as [top, left, bottom, right] (inclusive).

    Walks from the tensor back to the network's input through the
    convolutions, pools and paddings, each widening the window by its kernel;
    element-wise ops (bias, batch norm, activations) keep it. Clipped to the
    input (a SAME convolution at the border reads zeros outside).

    Args:
        tensor: a layer's output [n, h, w, c].
        row, col: the unit's position.
        input_side: the network input's (height, width), e.g. (28, 28).
    """
    top, bottom, left, right = row, row, col, col
    t = tensor
    while True:
        op = t.op
        if op.type in ("Conv2D", *POOL_OPS):
            source = op.inputs[0]
            spans = []
            for axis, (a, b) in ((1, (top, bottom)), (2, (left, right))):
                s, k, before = _window(op, int(source.shape[axis]), int(op.outputs[0].shape[axis]), axis)
                spans.append((a * s - before, b * s - before + k - 1))
            (top, bottom), (left, right) = spans
            t = source
        elif op.type == "Pad":
            pads = tf.get_static_value(op.inputs[1])
            top, bottom, left, right = top - pads[1][0], bottom - pads[1][0], left - pads[2][0], right - pads[2][0]
            t = op.inputs[0]
        elif op.type in ("Placeholder", "PlaceholderWithDefault", "Reshape") or not op.inputs:
            break  # the input (MNIST's reshape of x to 28x28 is the last step back)
        else:
            t = op.inputs[0]
    h, w = input_side
    return [int(max(top, 0)), int(max(left, 0)), int(min(bottom, h - 1)), int(min(right, w - 1))]


def _activation(kind: str | None, z: float, op: tf.Operation | None = None) -> float:
    """The activation of :data:`dlfund.analysis.ACTIVATION_OPS` on one number, in float64."""
    if kind is None:
        return z
    if kind == "Relu":
        return max(z, 0.0)
    if kind == "Tanh":
        return float(np.tanh(z))
    if kind == "Sigmoid":
        return float(1 / (1 + np.exp(-z)))
    if kind == "Elu":
        return z if z > 0 else float(np.expm1(z))
    if kind == "Selu":
        return 1.0507009873554805 * (z if z > 0 else 1.6732632423543772 * float(np.expm1(z)))
    if kind == "LeakyRelu":
        return z if z > 0 else op.get_attr("alpha") * z
    raise ExplainError(f"activation {kind} is not one the inspector knows")


def _check_unit(layer: Layer, unit: Sequence[int]) -> tuple:
    shape = [int(d) for d in layer.output.shape[1:]]
    if len(unit) != len(shape) or any(not 0 <= u < d for u, d in zip(unit, shape, strict=False)):
        form = "row,column,channel" if len(shape) == 3 else "one index"
        raise ExplainError(f"unit={','.join(map(str, unit))} is not a unit of {layer.name}, whose output is "
                           f"{'x'.join(map(str, shape))}: give {form}, each from 0")
    return tuple(int(u) for u in unit)


def unit_parts(sess: v1.Session, g, layers: dict, layer: str, unit: Sequence[int], image: np.ndarray) -> dict:
    """How one unit's value was computed for one input, in the steps the graph took (Book §5.8, §5.10, §5.12).

    Args:
        sess: a session of ``g.graph`` holding the trained weights.
        g: the :class:`dlfund.graph.ModelGraph`.
        layers: :func:`model_layers` of ``g``.
        layer: a layer's name (``conv_2``, ``conv_1/pool``, ``fc``, ``output``).
        unit: (row, column, channel) of a map, or (index,) of a fully connected layer.
        image: the network input for one example, float32 [*g.spec.input_shape].

    Returns:
        ``{"layer", "kind", "unit", "value", "receptive_field", "parts"}``: ``value``
        is the graph's own value for the unit; ``receptive_field`` [top, left,
        bottom, right] on the input; ``parts`` the steps in order, each a dict
        with ``step`` (``channels``, ``inputs``, ``bias``, ``batch_norm``,
        ``activation``, ``pool``) and ``value`` (the running value after it,
        computed in float64 from the numbers the step shows). For a max-pooled
        unit the winner's own steps come first, then the pool.

    Raises:
        ExplainError: no such layer or unit.
    """
    if layer not in layers:
        raise ExplainError(f"layer={layer!r} is not a layer of {g.spec.name}: it has {', '.join(layers)}")
    spec_layer = layers[layer]
    unit = _check_unit(spec_layer, unit)
    feed = {g.x: np.asarray(image, np.float32).reshape(1, *g.spec.input_shape)}
    side = _input_side(g)
    if spec_layer.kind == "pool":
        return _pool_parts(sess, g, layers, spec_layer, unit, feed, side)
    fetches = {"input": spec_layer.input, "W": spec_layer.weights, "b": spec_layer.bias,
               "pre": spec_layer.pre_activation, "output": spec_layer.output}
    if spec_layer.batch_norm:
        fetches.update(spec_layer.batch_norm, normalized=spec_layer.normalized)
    v = sess.run(fetches, feed)
    channel = unit[-1]
    parts = []
    if spec_layer.kind == "conv":
        parts.append(_conv_channels(spec_layer, v["input"][0], v["W"], unit))
        rf = receptive_field(spec_layer.output, unit[0], unit[1], side)
    else:
        parts.append(_dense_inputs(spec_layer, v["input"][0], v["W"], channel))
        rf = [0, 0, side[0] - 1, side[1] - 1]
    total = parts[-1]["value"]
    b = float(v["b"][channel])
    total += b
    parts.append({"step": "bias", "b": b, "value": total, "graph": float(v["pre"][(0, *unit)])})
    if spec_layer.batch_norm:
        mean, variance = float(v["mean"][channel]), float(v["variance"][channel])
        gamma, beta = float(v["gamma"][channel]), float(v["beta"][channel])
        total = gamma * (total - mean) / np.sqrt(variance + EPSILON) + beta
        parts.append({"step": "batch_norm", "mean": mean, "variance": variance, "gamma": gamma, "beta": beta,
                      "epsilon": EPSILON, "value": float(total), "graph": float(v["normalized"][(0, *unit)])})
    if spec_layer.activation:
        total = _activation(spec_layer.activation, float(total), spec_layer.output.op)
        parts.append({"step": "activation", "function": spec_layer.activation.lower(), "value": float(total)})
    return {"layer": layer, "kind": spec_layer.kind, "unit": list(unit), "value": float(v["output"][(0, *unit)]),
            "receptive_field": rf, "parts": parts}


def _input_side(g) -> tuple[int, int]:
    shape = g.spec.input_shape
    if len(shape) == 1:
        side = int(round(shape[0] ** 0.5))
        return side, side
    return int(shape[0]), int(shape[1])


def _conv_channels(layer: Layer, x: np.ndarray, w: np.ndarray, unit: tuple) -> dict:
    """The ``channels`` step: patch x kernel per input channel, ranked by |sum|, the first ones in full."""
    row, col, out = unit
    op = layer.op
    (s_r, k_r, before_r), (s_c, k_c, before_c) = (
        _window(op, x.shape[0], int(op.outputs[0].shape[1]), 1),
        _window(op, x.shape[1], int(op.outputs[0].shape[2]), 2))
    top, left = row * s_r - before_r, col * s_c - before_c
    padded = np.zeros((k_r, k_c, x.shape[2]), np.float64)
    rows = slice(max(top, 0), min(top + k_r, x.shape[0]))
    cols = slice(max(left, 0), min(left + k_c, x.shape[1]))
    padded[rows.start - top:rows.stop - top, cols.start - left:cols.stop - left] = x[rows, cols]
    kernel = w[:, :, :, out].astype(np.float64)
    products = padded * kernel
    sums = products.sum(axis=(0, 1))
    order = np.argsort(-np.abs(sums), kind="stable")
    shown = [{"channel": int(c), "patch": padded[:, :, c].tolist(), "kernel": kernel[:, :, c].tolist(),
              "products": products[:, :, c].tolist(), "sum": float(sums[c])} for c in order[:SHOWN_CHANNELS]]
    rest = order[SHOWN_CHANNELS:]
    total = float(sum(s["sum"] for s in shown) + sums[rest].sum())
    return {"step": "channels", "position": [int(top), int(left)], "shown": shown,
            "rest": {"count": int(len(rest)), "sum": float(sums[rest].sum())},
            "ranking": [[int(c), float(sums[c])] for c in order], "value": total}


def _dense_inputs(layer: Layer, x: np.ndarray, w: np.ndarray, unit: int) -> dict:
    """The ``inputs`` step: the largest products w_i x_i of a fully connected unit, and the rest summed."""
    x = x.reshape(-1).astype(np.float64)
    weights = w[:, unit].astype(np.float64)
    products = x * weights
    order = np.argsort(-np.abs(products), kind="stable")
    source = layer.input.op.inputs[0] if layer.input.op.type == "Reshape" else None
    source_shape = [int(d) for d in source.shape[1:]] if source is not None and source.shape.rank == 4 else None
    shown = []
    for i in order[:SHOWN_INPUTS]:
        item = {"index": int(i), "x": float(x[i]), "w": float(weights[i]), "product": float(products[i])}
        if source_shape:  # a flattened map: where the input sits in it
            item["position"] = [int(p) for p in np.unravel_index(i, source_shape)]
        shown.append(item)
    rest = order[SHOWN_INPUTS:]
    return {"step": "inputs", "count": int(len(x)), "shown": shown,
            "rest": {"count": int(len(rest)), "sum": float(products[rest].sum())},
            "value": float(sum(s["product"] for s in shown) + products[rest].sum())}


def _pool_parts(sess, g, layers: dict, layer: Layer, unit: tuple, feed: dict, side: tuple) -> dict:
    """A pooled unit: the window it pools, which value won (max) or their average, after the winner's steps."""
    row, col, channel = unit
    op = layer.op
    source, pooled = sess.run((layer.input, layer.output), feed)
    spans = []
    for axis, p in ((1, row), (2, col)):
        s, k, before = _window(op, source.shape[axis], pooled.shape[axis], axis)
        spans.append((p * s - before, k))
    (top, k_r), (left, k_c) = spans
    window = np.full((k_r, k_c), np.nan)
    r0, c0 = max(top, 0), max(left, 0)
    r1, c1 = min(top + k_r, source.shape[1]), min(left + k_c, source.shape[2])
    window[r0 - top:r1 - top, c0 - left:c1 - left] = source[0, r0:r1, c0:c1, channel]
    inside = ~np.isnan(window)
    source_name = layer.name.rsplit("/", 1)[0]
    parts: list = []
    if op.type == "MaxPool":
        at = np.unravel_index(np.nanargmax(window), window.shape)
        winner = [int(top + at[0]), int(left + at[1])]
        if source_name in layers:
            parts = unit_parts(sess, g, layers, source_name, (*winner, channel), feed[g.x][0])["parts"]
        value, function = float(np.nanmax(window)), "max"
        step = {"step": "pool", "function": function, "source": source_name, "position": [int(top), int(left)],
                "window": np.where(inside, window, None).tolist(), "winner": winner, "value": value}
    else:  # AvgPool: TensorFlow averages over the window's cells inside the input
        value, function = float(window[inside].mean()), "average"
        step = {"step": "pool", "function": function, "source": source_name, "position": [int(top), int(left)],
                "window": np.where(inside, window, None).tolist(), "value": value}
    parts.append(step)
    return {"layer": layer.name, "kind": "pool", "unit": list(unit), "value": float(pooled[0, row, col, channel]),
            "receptive_field": receptive_field(layer.output, row, col, side), "parts": parts}


# --- attributions ---------------------------------------------------------------------------------------------


class Explainer:
    """The gradient ops the attribution methods need, added once to a restored graph.

    Build it before the graph is shared between threads (a graph must not
    change while another thread runs it); afterwards it only runs.

    Args:
        g: the :class:`dlfund.graph.ModelGraph` (inference: ``with_training=False``).

    Attributes:
        g: the graph's handles.
        layers: :func:`model_layers` of ``g``.
        cam_layer: the layer Grad-CAM weighs: the last convolution whose maps
            are larger than 1x1 (``conv_2``; ``lenet5``'s ``conv_2``, as its
            ``conv_3`` is 1x1), or None for a network without one (the MLP).
    """

    def __init__(self, g) -> None:
        self.g = g
        self.layers = model_layers(g)
        convs = [layer for layer in self.layers.values()
                 if layer.kind == "conv" and int(layer.output.shape[1]) * int(layer.output.shape[2]) > 1]
        self.cam_layer = convs[-1].name if convs else None
        n_classes = int(g.output.shape[-1])
        with g.graph.as_default(), tf.name_scope("explain"):
            # score = output . weights: a class's logit (one-hot), or two classes' difference (+1, -1).
            self.class_weights = v1.placeholder(tf.float32, [n_classes], name="class_weights")
            self.score = tf.reduce_sum(g.output * self.class_weights, axis=1)
            total = tf.reduce_sum(self.score)
            self.input_gradient = tf.gradients(total, g.x)[0]
            self.cam_maps = self.layers[self.cam_layer].output if self.cam_layer else None
            self.cam_gradient = tf.gradients(total, self.cam_maps)[0] if self.cam_layer else None


def class_weights(target: int, contrast: int | None, n_classes: int = 10) -> np.ndarray:
    """float32 [n_classes]: +1 at ``target``, -1 at ``contrast`` (the logit difference "target and not contrast")."""
    weights = np.zeros(n_classes, np.float32)
    weights[target] = 1.0
    if contrast is not None:
        weights[contrast] -= 1.0
    return weights


def attributions(sess: v1.Session, explainer: Explainer, image: np.ndarray, method: str, target: int,
                 contrast: int | None = None, *, steps: int = 32, samples: int = 32, noise: float = 0.15,
                 patch: int = 4, stride: int = 2, seed: int = 0) -> dict:
    """Which input pixels made the answer ``target`` (or ``target`` rather than ``contrast``), by ``method``.

    The score is the logit of ``target`` (minus that of ``contrast``, when
    given). Methods (:data:`METHODS`):

    * ``saliency``: |d score / d x|;
    * ``gradient_x_input``: d score / d x times x;
    * ``integrated_gradients``: x times the mean gradient along the straight
      path from the blank input (all zeros) to x, ``steps`` midpoints; the map
      sums to score(x) - score(blank) up to the path's discretization
      (completeness; ``baseline_logits`` lets anyone check it);
    * ``smoothgrad``: |mean gradient| over ``samples`` copies of x with Gaussian
      noise of ``noise`` times the input's range (seeded by ``seed``);
    * ``grad_cam``: the ReLU of the last convolution's maps weighted by their
      mean gradient (``layer_map``, at the maps' size), stretched over the input;
    * ``occlusion``: how much the answer's probability (with ``contrast``: the
      probability of ``target`` minus that of ``contrast``) drops when a
      ``patch`` x ``patch`` square, every ``stride`` pixels, is set to 0; each
      pixel gets the mean drop of the squares covering it. One batch.

    A colour input's map is summed over its channels.

    Args:
        sess: a session of the explainer's graph with the trained weights.
        explainer: the :class:`Explainer` of that graph.
        image: one network input, float32 [*input_shape].
        method: one of :data:`METHODS`.
        target: the class explained.
        contrast: another class, or None.

    Returns:
        ``{"method", "target", "contrast", "logits": [n_classes], "map": [[h x w]]}``;
        ``integrated_gradients`` adds ``baseline_logits``, ``grad_cam`` adds
        ``layer`` and ``layer_map``.

    Raises:
        ExplainError: an unknown method or class, or Grad-CAM on a network without convolutions.
    """
    g = explainer.g
    n_classes = int(g.output.shape[-1])
    _check_request(method, target, contrast, n_classes)
    x = np.asarray(image, np.float32).reshape(1, *g.spec.input_shape)
    weights = class_weights(target, contrast, n_classes)
    side = _input_side(g)
    result = {"method": method, "target": int(target), "contrast": None if contrast is None else int(contrast)}
    if method == "grad_cam":
        return {**result, **_grad_cam(sess, explainer, x, weights, side)}
    if method == "occlusion":
        return {**result, **_occlusion(sess, g, x, target, contrast, side, patch, stride)}
    return {**result, **_gradient_map(sess, explainer, x, weights, method, side, steps, samples, noise, seed)}


def _check_request(method: str, target: int, contrast: int | None, n_classes: int) -> None:
    """Raises ExplainError for a method or class :func:`attributions` does not have."""
    if method not in METHODS:
        raise ExplainError(f"method={method!r} is not one of {', '.join(METHODS)}")
    for name, c in (("target", target), ("contrast", contrast)):
        if c is not None and not 0 <= c < n_classes:
            raise ExplainError(f"{name}={c} is not a class: give 0 to {n_classes - 1}")
    if contrast is not None and contrast == target:
        raise ExplainError(f"contrast={contrast} is the target itself: give another class, or none")


def _grad_cam(sess: v1.Session, explainer: Explainer, x: np.ndarray, weights: np.ndarray, side: tuple) -> dict:
    """Grad-CAM of :func:`attributions`: the cam layer's maps weighted by their mean gradient, then ReLU."""
    g = explainer.g
    if explainer.cam_layer is None:
        raise ExplainError(f"grad_cam weighs a convolution's maps: {g.spec.name} has none")
    maps, grad, logits = sess.run((explainer.cam_maps, explainer.cam_gradient, g.output),
                                  {g.x: x, explainer.class_weights: weights})
    alpha = grad[0].mean(axis=(0, 1))  # one weight per channel
    cam = np.maximum((maps[0] * alpha).sum(axis=-1), 0.0)
    from scipy import ndimage

    stretched = ndimage.zoom(cam, (side[0] / cam.shape[0], side[1] / cam.shape[1]), order=1)
    return {"logits": logits[0].tolist(), "map": _plain(stretched), "layer": explainer.cam_layer,
            "layer_map": _plain(cam)}


def _gradient_map(sess: v1.Session, explainer: Explainer, x: np.ndarray, weights: np.ndarray, method: str,
                  side: tuple, steps: int, samples: int, noise: float, seed: int) -> dict:
    """The methods of :func:`attributions` made of input gradients, each in one run whose last row is ``x``
    itself (its logits)."""
    g = explainer.g
    extra = {}
    if method == "integrated_gradients":
        alphas = (np.arange(steps, dtype=np.float32) + 0.5) / steps
        baseline = np.zeros_like(x)
        batch = np.concatenate([baseline + alphas.reshape(-1, *[1] * (x.ndim - 1)) * (x - baseline), baseline, x])
    elif method == "smoothgrad":
        scale = noise * float(x.max() - x.min() or 1.0)
        noisy = x + np.random.default_rng(seed).normal(0.0, scale, (samples, *x.shape[1:])).astype(np.float32)
        batch = np.concatenate([noisy, x])
    else:
        batch = x
    grad, logits = sess.run((explainer.input_gradient, g.output), {g.x: batch, explainer.class_weights: weights})
    if method == "saliency":
        values = np.abs(grad[0])
    elif method == "gradient_x_input":
        values = grad[0] * x[0]
    elif method == "integrated_gradients":
        values = (x[0] - baseline[0]) * grad[:steps].mean(axis=0)
        extra["baseline_logits"] = logits[steps].tolist()
    else:  # smoothgrad
        values = np.abs(grad[:samples].mean(axis=0))
    return {"logits": logits[-1].tolist(), "map": _plain(_to_map(values, side)), **extra}


def _to_map(values: np.ndarray, side: tuple) -> np.ndarray:
    """An input-shaped array as [h, w]: a flat MNIST input reshaped, a colour input summed over channels."""
    values = np.asarray(values, np.float64).reshape(side[0], side[1], -1)
    return values.sum(axis=-1)


def _plain(values: np.ndarray) -> list:
    """Nested lists of float32-rounded numbers (what JSON carries)."""
    return np.asarray(values, np.float32).astype(np.float64).round(8).tolist()


def _occlusion(sess, g, x: np.ndarray, target: int, contrast: int | None, side: tuple, patch: int,
               stride: int) -> dict:
    h, w = side
    image = x.reshape(h, w, -1)
    corners = [(r, c) for r in range(0, max(h - patch, 0) + 1, stride) for c in range(0, max(w - patch, 0) + 1, stride)]
    batch = np.repeat(image[None], len(corners) + 1, axis=0)
    for i, (r, c) in enumerate(corners, start=1):
        batch[i, r:r + patch, c:c + patch] = 0.0
    probabilities, logits = sess.run((g.probabilities, g.output), {g.x: batch.reshape(len(batch), *g.spec.input_shape)})
    score = probabilities[:, target] - (probabilities[:, contrast] if contrast is not None else 0.0)
    drops = score[0] - score[1:]
    total, count = np.zeros((h, w)), np.zeros((h, w))
    for drop, (r, c) in zip(drops, corners, strict=True):
        total[r:r + patch, c:c + patch] += drop
        count[r:r + patch, c:c + patch] += 1
    return {"logits": logits[0].tolist(), "map": _plain(total / np.maximum(count, 1)), "patch": patch,
            "stride": stride}
