"""Batch norm (Book §5.10) against NumPy: batch moments and the EMA rule in training, averages
untouched in inference (errata E2), and the averages surviving a Saver round trip."""

import numpy as np
import pytest
import tensorflow as tf

from dlfund.batch_norm import conv_batch_norm, layer_batch_norm

v1 = tf.compat.v1
EPS = 1e-3


def _build(fn, shape, book=False):
    graph = tf.Graph()
    with graph.as_default():
        x = v1.placeholder(tf.float32, shape)
        phase = v1.placeholder(tf.bool, [])
        with v1.variable_scope("model"), v1.variable_scope("layer"):
            out = fn(x, shape[-1], phase, update_averages_in_inference=book)
        averages = [v for v in v1.global_variables() if "ExponentialMovingAverage" in v.op.name]
        averages.sort(key=lambda v: v.op.name)  # Squeeze (mean), Squeeze_1 (variance)
        init = v1.global_variables_initializer()
        saver = v1.train.Saver()
    return graph, x, phase, out, averages, init, saver


@pytest.mark.parametrize("fn, shape, axes", [(conv_batch_norm, [8, 5, 5, 3], (0, 1, 2)),
                                             (layer_batch_norm, [16, 6], (0,))])
def test_training_uses_batch_moments_and_moves_the_averages_by_the_ema_rule(fn, shape, axes):
    graph, x, phase, out, (ema_mean, ema_var), init, _ = _build(fn, shape)
    rng = np.random.default_rng(0)
    batches = [rng.normal(3.0, 2.0, shape).astype(np.float32) for _ in range(3)]
    with v1.Session(graph=graph) as s:
        s.run(init)
        mean_avg, var_avg = np.zeros(shape[-1]), np.zeros(shape[-1])
        for batch in batches:
            got = s.run(out, {x: batch, phase: True})
            mu, var = batch.mean(axis=axes), batch.var(axis=axes)
            np.testing.assert_allclose(got, (batch - mu) / np.sqrt(var + EPS), rtol=1e-4, atol=1e-4)
            mean_avg = 0.9 * mean_avg + 0.1 * mu  # the EMA rule, decay 0.9, starting at 0
            var_avg = 0.9 * var_avg + 0.1 * var
            np.testing.assert_allclose(s.run(ema_mean), mean_avg, rtol=1e-5)
            np.testing.assert_allclose(s.run(ema_var), var_avg, rtol=1e-4)


@pytest.mark.parametrize("fn, shape", [(conv_batch_norm, [8, 5, 5, 3]), (layer_batch_norm, [16, 6])])
def test_inference_uses_the_averages_and_leaves_them_untouched(fn, shape):
    graph, x, phase, out, averages, init, _ = _build(fn, shape)
    rng = np.random.default_rng(1)
    with v1.Session(graph=graph) as s:
        s.run(init)
        for _ in range(5):
            s.run(out, {x: rng.normal(1.0, 3.0, shape).astype(np.float32), phase: True})
        mean_avg, var_avg = s.run(averages)
        test = rng.normal(-4.0, 0.5, shape).astype(np.float32)
        for _ in range(3):
            got = s.run(out, {x: test, phase: False})
        np.testing.assert_allclose(got, (test - mean_avg) / np.sqrt(var_avg + EPS), rtol=1e-4, atol=1e-4)
        after = s.run(averages)
    np.testing.assert_array_equal(after[0], mean_avg)
    np.testing.assert_array_equal(after[1], var_avg)


def test_the_books_printed_version_leaks_evaluation_statistics():
    graph, x, phase, out, averages, init, _ = _build(layer_batch_norm, [16, 6], book=True)
    with v1.Session(graph=graph) as s:
        s.run(init)
        s.run(out, {x: np.full([16, 6], 5.0, np.float32), phase: False})
        leaked_mean, _ = s.run(averages)
    np.testing.assert_allclose(leaked_mean, 0.5, rtol=1e-5)  # 0.1 * 5 after one *evaluation*


def test_averages_survive_a_save_restore_round_trip(tmp_path):
    graph, x, phase, out, averages, init, saver = _build(conv_batch_norm, [4, 3, 3, 2])
    batch = np.random.default_rng(2).normal(2.0, 1.0, [4, 3, 3, 2]).astype(np.float32)
    with v1.Session(graph=graph) as s:
        s.run(init)
        s.run(out, {x: batch, phase: True})
        saved = s.run(averages)
        expected = s.run(out, {x: batch, phase: False})
        path = saver.save(s, str(tmp_path / "model-checkpoint"), global_step=1)
    names = {n for n, _ in tf.train.list_variables(path)}
    assert "model/layer/model/layer/moments/Squeeze/ExponentialMovingAverage" in names
    graph2, x2, phase2, out2, averages2, _, saver2 = _build(conv_batch_norm, [4, 3, 3, 2])
    with v1.Session(graph=graph2) as s:
        saver2.restore(s, path)
        for a, b in zip(s.run(averages2), saved, strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(s.run(out2, {x2: batch, phase2: False}), expected, rtol=1e-6)
