"""dlfund.explain: one unit's arithmetic adds up to the graph's value in every layer of every network, and the
attribution methods pass checks that can fail (completeness, finite differences, occlusion of nothing, shapes);
the page's /api/explain and /api/attribution answer the same through werkzeug's test client."""

import numpy as np
import pytest
import tensorflow as tf

from dlfund import explain
from dlfund.data import mnist
from dlfund.graph import build_graph
from dlfund.models import MODEL_NAMES, get_model

v1 = tf.compat.v1

ACTIVATIONS = {"relu": lambda z: max(z, 0.0), "tanh": np.tanh, "sigmoid": lambda z: 1 / (1 + np.exp(-z))}


def network(model: str, seed: int = 3):
    """A network of ``model`` with random weights and random batch-norm moving averages (so that using the
    batch's own moments instead would show), its session and explainer."""
    g = build_graph(get_model(model), with_training=False, seed=seed)
    sess = v1.Session(graph=g.graph)
    sess.run(g.init_op)
    rng = np.random.default_rng(seed)
    with g.graph.as_default():
        for v in v1.global_variables():
            if "ExponentialMovingAverage" in v.op.name:
                shape = v.shape.as_list()
                value = rng.uniform(0.5, 2.0, shape) if "Squeeze_1" in v.op.name else rng.normal(0, 0.3, shape)
                v.load(value.astype(np.float32), sess)
    return g, sess, explain.Explainer(g)


@pytest.fixture(scope="module")
def sample_digits():
    return mnist.read_data_sets("", dataset="mnist_sample", one_hot=False).test


def recompute(answer: dict) -> tuple[float, float]:
    """The unit's value from the numbers the parts show, step by step as the page adds them, and the scale of
    the terms summed (for a relative tolerance)."""
    total, scale = 0.0, 1e-12
    for part in answer["parts"]:
        step = part["step"]
        if step == "channels":
            for shown in part["shown"]:
                products = np.asarray(shown["patch"]) * np.asarray(shown["kernel"])
                assert np.allclose(products, shown["products"]) and np.isclose(products.sum(), shown["sum"])
            total = sum(np.sum(s["products"]) for s in part["shown"]) + part["rest"]["sum"]
            scale = sum(abs(s) for _, s in part["ranking"])
            assert len(part["ranking"]) == len(part["shown"]) + part["rest"]["count"]
        elif step == "inputs":
            total = sum(s["x"] * s["w"] for s in part["shown"]) + part["rest"]["sum"]
            scale = sum(abs(s["product"]) for s in part["shown"]) + abs(part["rest"]["sum"])
        elif step == "bias":
            total += part["b"]
            scale += abs(part["b"])
            assert abs(total - part["graph"]) <= 1e-4 * scale  # the graph's own pre-activation
        elif step == "batch_norm":
            total = part["gamma"] * (total - part["mean"]) / np.sqrt(part["variance"] + part["epsilon"]) + part["beta"]
            scale = abs(part["gamma"]) * (scale + abs(part["mean"])) / np.sqrt(part["variance"]) + abs(part["beta"])
        elif step == "activation":
            total = ACTIVATIONS[part["function"]](total)
        elif step == "pool":
            window = np.array(part["window"], dtype=float)
            total = np.nanmax(window) if part["function"] == "max" else np.nanmean(window)
            scale = max(abs(total), 1e-12)
    return float(total), scale


def units_to_check(layer: explain.Layer) -> list:
    """A unit in the middle and one at the corner (where SAME padding reads zeros) of a map; two of a vector."""
    shape = [int(d) for d in layer.output.shape[1:]]
    if len(shape) == 3:
        return [(shape[0] // 2, shape[1] // 2, shape[2] - 1), (0, 0, 0)]
    return [(shape[0] // 2,), (0,)]


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_the_parts_of_a_unit_add_up_to_the_graphs_value_in_every_layer(model, sample_digits):
    g, sess, explainer = network(model)
    spec = g.spec
    if spec.input_shape == (784,):
        image = sample_digits.images[0]
    else:
        image = np.random.default_rng(0).normal(0, 1, spec.input_shape).astype(np.float32)
    values = sess.run({n: layer.output for n, layer in explainer.layers.items()}, {g.x: image[None]})
    assert set(explainer.layers) >= {"output"} and len(explainer.layers) >= 3
    for name, layer in explainer.layers.items():
        for unit in units_to_check(layer):
            answer = explain.unit_parts(sess, g, explainer.layers, name, unit, image)
            assert answer["value"] == pytest.approx(float(values[name][(0, *unit)]), abs=1e-6)
            total, scale = recompute(answer)
            assert abs(total - answer["value"]) <= 1e-4 * max(scale, abs(answer["value"])), (name, unit, answer)
            top, left, bottom, right = answer["receptive_field"]
            assert 0 <= top <= bottom and 0 <= left <= right
    sess.close()


def test_a_pooled_unit_names_the_winner_and_its_receptive_field_grows_layer_by_layer(sample_digits):
    g, sess, explainer = network("mnist_conv")
    image = sample_digits.images[0]
    pooled = explain.unit_parts(sess, g, explainer.layers, "conv_2/pool", (3, 3, 5), image)
    pool = pooled["parts"][-1]
    assert pool["function"] == "max" and pooled["parts"][0]["step"] == "channels"
    winner = explain.unit_parts(sess, g, explainer.layers, "conv_2", (*pool["winner"], 5), image)
    assert winner["value"] == pooled["value"]
    # conv_1 sees 5x5 pixels; its pool 6x6; conv_2 (5x5 over the pooled maps) 14x14; its pool 16x16.
    units = {"conv_1": (10, 10, 0), "conv_1/pool": (5, 5, 0), "conv_2": (5, 5, 0), "conv_2/pool": (3, 3, 0)}
    sides = {name: explain.unit_parts(sess, g, explainer.layers, name, unit, image)["receptive_field"]
             for name, unit in units.items()}
    assert {n: (r[2] - r[0] + 1, r[3] - r[1] + 1) for n, r in sides.items()} == {
        "conv_1": (5, 5), "conv_1/pool": (6, 6), "conv_2": (14, 14), "conv_2/pool": (16, 16)}
    with pytest.raises(explain.ExplainError, match="conv_2"):
        explain.unit_parts(sess, g, explainer.layers, "conv_2", (14, 0, 0), image)
    with pytest.raises(explain.ExplainError, match="conv_1, conv_1/pool"):
        explain.unit_parts(sess, g, explainer.layers, "conv_9", (0, 0, 0), image)
    sess.close()


@pytest.fixture(scope="module")
def trained(sample_run):
    """The briefly trained §5.8 convnet of the suite's sample run."""
    from chapter5 import rundir
    from chapter5.from_flags import build_and_restore

    fv = rundir.read_flags(rundir.flagfile(str(sample_run[0])))
    path = rundir.checkpoint_to_use(str(sample_run[0]), "")
    g, sess, _ = build_and_restore(fv, path)
    yield g, sess, explain.Explainer(g)
    sess.close()


def test_integrated_gradients_add_up_to_the_logit_difference_from_the_blank_input(trained, sample_digits):
    g, sess, explainer = trained
    for index, contrast in ((0, None), (1, 8)):
        image = sample_digits.images[index]
        answer = explain.attributions(sess, explainer, image, "integrated_gradients", int(sample_digits.labels[index]),
                                      contrast)
        weights = explain.class_weights(answer["target"], contrast)
        gained = float(np.dot(answer["logits"], weights) - np.dot(answer["baseline_logits"], weights))
        assert abs(np.sum(answer["map"]) - gained) <= 0.02 * abs(gained), (np.sum(answer["map"]), gained)


def test_saliency_is_the_gradient_a_finite_difference_measures(trained, sample_digits):
    g, sess, explainer = trained
    image = sample_digits.images[2].astype(np.float64)
    target = int(sample_digits.labels[2])
    grad = np.array(explain.attributions(sess, explainer, image, "gradient_x_input", target)["map"]).ravel()
    saliency = np.array(explain.attributions(sess, explainer, image, "saliency", target)["map"]).ravel()
    inked = np.flatnonzero(image > 0.3)
    pixels = inked[:: max(len(inked) // 4, 1)][:4]
    h = 2e-3  # small enough to cross few ReLU kinks; float32 logits then still resolve the difference
    for p in pixels:
        up, down = image.copy(), image.copy()
        up[p] += h
        down[p] -= h
        logits = sess.run(g.output, {g.x: np.stack([up, down]).astype(np.float32)})
        measured = (logits[0, target] - logits[1, target]) / (2 * h)
        assert saliency[p] == pytest.approx(abs(measured), rel=0.05, abs=3e-3)
        assert grad[p] == pytest.approx(measured * image[p], rel=0.05, abs=3e-3)


def test_occluding_a_blank_region_changes_nothing_and_grad_cam_has_conv_2s_shape(trained, sample_digits):
    g, sess, explainer = trained
    image = sample_digits.images[3]
    target = int(sample_digits.labels[3])
    occlusion = np.array(explain.attributions(sess, explainer, image, "occlusion", target)["map"])
    assert occlusion.shape == (28, 28)
    assert np.all(occlusion[:4, :4] == 0) and np.all(occlusion[-4:, -4:] == 0)  # MNIST's corners are blank
    assert np.abs(occlusion).max() > 0  # covering the strokes does change it
    cam = explain.attributions(sess, explainer, image, "grad_cam", target)
    assert cam["layer"] == "conv_2" and np.array(cam["layer_map"]).shape == (14, 14)
    assert np.array(cam["map"]).shape == (28, 28) and np.min(cam["map"]) >= -1e-6
    smooth = explain.attributions(sess, explainer, image, "smoothgrad", target)
    assert smooth == explain.attributions(sess, explainer, image, "smoothgrad", target)  # seeded: the same twice
    with pytest.raises(explain.ExplainError, match="method="):
        explain.attributions(sess, explainer, image, "lime", target)
    with pytest.raises(explain.ExplainError, match="target=10"):
        explain.attributions(sess, explainer, image, "saliency", 10)


def test_grad_cam_on_a_network_without_convolutions_is_refused(sample_digits):
    g, sess, explainer = network("mlp")
    with pytest.raises(explain.ExplainError, match="mlp has none"):
        explain.attributions(sess, explainer, sample_digits.images[0], "grad_cam", 1)
    sess.close()
