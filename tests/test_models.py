"""Every network: the book's scopes and variable names, layer shapes, logits shape."""

import numpy as np
import pytest
import tensorflow as tf

from dlfund.graph import build_graph, model_variables
from dlfund.models import MODEL_NAMES, ModelOptions, get_model

v1 = tf.compat.v1

EXPECTED = {
    "mlp": {"hidden_1/W": [784, 256], "hidden_2/W": [256, 256], "output/W": [256, 10]},
    "lenet5": {"conv_1/W": [5, 5, 1, 6], "conv_2/W": [5, 5, 6, 16], "conv_3/W": [5, 5, 16, 120],
               "fc/W": [120, 84], "output/W": [84, 10]},
    "cifar_conv": {"conv_1/W": [5, 5, 3, 64], "conv_2/W": [5, 5, 64, 64], "fc_1/W": [2304, 384],
                   "fc_2/W": [384, 192], "output/W": [192, 10]},
    "mnist_conv": {"conv_1/W": [5, 5, 1, 32], "conv_2/W": [5, 5, 32, 64], "fc/W": [3136, 1024],
                   "output/W": [1024, 10]},
}


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_scopes_names_and_logits(name):
    spec = get_model(name)
    g = build_graph(spec, sparse_labels=name.startswith("cifar"), seed=0, with_training=False)
    with g.graph.as_default():
        variables = {v.op.name: v.shape.as_list() for v in model_variables(spec.scope)}
    base = name[:-3] if name.endswith("_bn") else name
    for short, shape in EXPECTED[base].items():
        assert variables[f"{spec.scope}/{short}"] == shape
        bias = f"{spec.scope}/{short[:-2]}/b"
        assert variables[bias] == [shape[-1]]
    assert variables[f"{spec.scope}/global_step"] == []
    bn_vars = [n for n in variables if n.endswith(("/beta", "/gamma")) or "ExponentialMovingAverage" in n]
    assert bool(bn_vars) == spec.batch_norm
    if spec.batch_norm:
        # Every batch-normalized layer has beta, gamma and two moving averages, named as in the book.
        layers = {n.split("/")[1] for n in bn_vars}
        for layer in layers:
            assert f"{spec.scope}/{layer}/{spec.scope}/{layer}/moments/Squeeze/ExponentialMovingAverage" in variables
    batch = np.random.default_rng(0).random((3, *spec.input_shape), dtype=np.float32)
    with v1.Session(graph=g.graph) as s:
        s.run(g.init_op)
        out = s.run(g.output, {g.x: batch})
    assert out.shape == (3, 10) and np.isfinite(out).all()


def test_lenet5_layer_shapes_follow_the_paper():
    g = build_graph(get_model("lenet5"), with_training=False)

    def shape(name):
        return g.graph.get_tensor_by_name(name).shape.as_list()

    assert shape("lenet5_model/Pad:0") == [None, 32, 32, 1]
    assert shape("lenet5_model/conv_1/Tanh:0") == [None, 28, 28, 6]
    assert shape("lenet5_model/conv_1/AvgPool2D:0") == [None, 14, 14, 6]
    assert shape("lenet5_model/conv_2/AvgPool2D:0") == [None, 5, 5, 16]
    assert shape("lenet5_model/conv_3/Tanh:0") == [None, 1, 1, 120]
    assert shape("lenet5_model/fc/Tanh:0") == [None, 84]


def test_mlp_hidden_units_and_activation_options():
    g = build_graph(get_model("mlp"), ModelOptions(hidden_units=(100,), activation="elu"), with_training=False)
    with g.graph.as_default():
        names = {v.op.name: v.shape.as_list() for v in model_variables("mlp_model")}
    assert names["mlp_model/hidden_1/W"] == [784, 100] and names["mlp_model/output/W"] == [100, 10]
    assert "mlp_model/hidden_2/W" not in names
    assert any(op.type == "Elu" for op in g.graph.get_operations())
