"""The networks in Keras 3 with a checkpoint's weights compute the TF1 graph's very logits."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dlfund import keras_models, training
from dlfund.errors import CheckpointError
from dlfund.graph import build_graph, model_variables
from dlfund.models import MODEL_NAMES, ModelOptions, get_model

v1 = tf.compat.v1
CASES = [(name, e1) for name in MODEL_NAMES for e1 in (False, True)]  # every network, and as printed (E1)


def _tf1_checkpoint(name, options, path, seed=0):
    """A TF1 network with random weights and batch-norm averages, saved; (its logits on a batch, the batch)."""
    spec = get_model(name)
    g = build_graph(spec, options, sparse_labels=name.startswith("cifar"), with_training=False, summary_images=False)
    rng = np.random.default_rng(seed)
    x = rng.random((8, *spec.input_shape), dtype=np.float32)
    sess = v1.Session(graph=g.graph)
    with g.graph.as_default():
        for v in model_variables(spec.scope):
            shape = v.shape.as_list()
            if v.dtype.base_dtype == tf.int32:
                v.load(7, sess)
            elif "Squeeze_1" in v.op.name:  # variances
                v.load(rng.uniform(0.5, 2.0, shape).astype(np.float32), sess)
            else:
                v.load((rng.standard_normal(shape) * 0.2).astype(np.float32), sess)
        g.saver.save(sess, path, write_meta_graph=False)
    logits = sess.run(g.output, {g.x: x})
    sess.close()
    return logits, x


@pytest.mark.parametrize("name, book_output_relu", CASES)
def test_keras_model_gives_the_tf1_logits(tmp_path, name, book_output_relu):
    options = ModelOptions(book_output_relu=book_output_relu)
    expected, x = _tf1_checkpoint(name, options, str(tmp_path / "model-checkpoint-7"))
    model = keras_models.keras_model(name, options)
    keras_models.load_checkpoint(model, str(tmp_path / "model-checkpoint-7"))
    got = keras_models.as_numpy(model, x)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    assert model.name == get_model(name).scope and model.get_layer("output").name == "output"
    probabilities = keras_models.as_numpy(keras_models.probability_model(model), x)
    np.testing.assert_allclose(probabilities.sum(1), 1, rtol=1e-5)
    assert (probabilities.argmax(1) == expected.argmax(1)).all()


def test_layer_names_follow_the_books_scopes():
    names = [layer.name for layer in keras_models.keras_model("cifar_conv_bn").layers if layer.weights]
    assert names == ["conv_1", "conv_1_bn", "conv_2", "conv_2_bn", "fc_1", "fc_1_bn", "fc_2", "fc_2_bn", "output"]
    bn = keras_models.keras_model("mnist_conv_bn").get_layer("fc_bn")
    assert bn.epsilon == 1e-3 and bn.momentum == 0.9
    assert [w.path for w in bn.weights] == ["fc_bn/gamma", "fc_bn/beta", "fc_bn/moving_mean", "fc_bn/moving_variance"]


def test_a_checkpoint_of_another_network_is_refused(tmp_path):
    _tf1_checkpoint("mlp", ModelOptions(), str(tmp_path / "model-checkpoint-7"))
    with pytest.raises(CheckpointError, match="mnist_conv_model/conv_1/W"):
        keras_models.load_checkpoint(keras_models.keras_model("mnist_conv"), str(tmp_path / "model-checkpoint-7"))
    assert isinstance(keras_models.keras_model("mlp"), keras.Model)


@pytest.mark.parametrize("name", ["mnist_conv", "lenet5_bn"])
def test_a_trained_network_gives_the_same_logits_in_keras_to_1e_5(tmp_path, name):
    """As keras_twin.ipynb shows: trained weights and batch norm's moving averages, not random ones."""
    spec = get_model(name)
    g = build_graph(spec, learning_rate=1e-3, seed=0, summary_images=False)
    rng = np.random.default_rng(1)
    x = rng.random((200, 784), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[(x[:, :392].sum(1) > x[:, 392:].sum(1)).astype(int) * 3]
    sess = v1.Session(graph=g.graph)
    with g.graph.as_default():
        sess.run(g.init_op)
        for step in range(12):
            batch = slice(step % 4 * 50, step % 4 * 50 + 50)
            sess.run(g.train_op, training.train_feed(g, x[batch], y[batch], keep_prob=0.5))
        path = g.saver.save(sess, str(tmp_path / "model-checkpoint"), global_step=12)
    expected = sess.run(g.output, {g.x: x})  # inference: no dropout, batch norm's moving averages
    sess.close()
    model = keras_models.keras_model(name)
    keras_models.load_checkpoint(model, path)
    got = keras_models.as_numpy(model, x)
    assert np.abs(expected).max() > 1  # trained away from the start, so the comparison means something
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
