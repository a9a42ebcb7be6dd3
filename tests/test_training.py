"""dlfund.training as a library: the loop's order of events, its stops, the divergence checks, evaluation."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import write_mnist_format

from dlfund import checkpoints, hooks, training
from dlfund.data import mnist
from dlfund.errors import TrainingDiverged
from dlfund.graph import build_graph
from dlfund.models import ModelOptions, get_model

v1 = tf.compat.v1


class Recorder(training.Hook):
    def __init__(self):
        self.events, self.costs, self.displays = [], [], []

    def begin(self, state):
        self.events.append("begin")

    def begin_epoch(self, state, steps):
        self.events.append(f"epoch {state.epoch} ({steps} steps)")

    def after_step(self, state, cost):
        self.events.append(f"step {state.global_step}")
        self.costs.append(cost)

    def display(self, state, avg_cost, validation_error):
        self.events.append(f"display {state.epoch}")
        self.displays.append((avg_cost, validation_error))

    def end(self, state):
        self.events.append("end")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    directory = write_mnist_format(str(tmp_path_factory.mktemp("data")), n_train=70, n_test=20)
    data = mnist.read_data_sets(directory, validation_size=10)
    g = build_graph(get_model("mlp"), ModelOptions(hidden_units=(16,)), optimizer="sgd", learning_rate=0.1, seed=0)
    return data, g


def _session(g):
    sess = v1.Session(graph=g.graph)
    sess.run(g.init_op)
    return sess


def test_the_loop_runs_the_books_cycle_and_calls_hooks_in_order(tiny):
    data, g = tiny
    sess, recorder = _session(g), Recorder()
    config = training.TrainConfig(training_epochs=3, batch_size=20, display_step=2)
    state = training.train(sess, g, data, config, [recorder])
    # 60 training images / batch 20 = 3 steps per epoch; displays at epoch 0 (display_step) and the last.
    assert recorder.events == ["begin", "epoch 0 (3 steps)", "step 1", "step 2", "step 3", "display 0",
                               "epoch 1 (3 steps)", "step 4", "step 5", "step 6",
                               "epoch 2 (3 steps)", "step 7", "step 8", "step 9", "display 2", "end"]
    assert state.global_step == 9 == int(sess.run(g.global_step)) and state.stop_reason is None
    assert recorder.displays[0][0] == pytest.approx(np.mean(recorder.costs[:3]))  # the epoch's average cost
    accuracy = training.evaluate_set(sess, g, data.validation).accuracy
    assert recorder.displays[1][1] == pytest.approx(1 - accuracy)
    # Run again: it continues from the global step, nothing left to do.
    again = Recorder()
    training.train(sess, g, data, config, [again])
    assert again.events == ["begin", "end"]


def test_stops_at_a_step_or_on_request(tiny, tmp_path):
    data, g = tiny
    sess = _session(g)
    recorder = Recorder()
    state = training.train(sess, g, data, training.TrainConfig(training_epochs=5, batch_size=20),
                           [recorder, hooks.StopAtStep(4)])
    assert state.global_step == 4 and not state.interrupted
    assert recorder.events[-2:] == ["display 1", "end"]  # the partial epoch is displayed, as finished
    stop = hooks.StopOnRequest()
    saver = hooks.CheckpointSaver(checkpoints.CheckpointKeeper(g.saver, str(tmp_path)))
    stop.request("SIGINT")
    recorder = Recorder()
    state = training.train(sess, g, data, training.TrainConfig(training_epochs=5, batch_size=20),
                           [recorder, saver, stop])
    assert state.interrupted and state.stop_reason == "SIGINT" and state.global_step == 5
    assert not any(e.startswith("display") for e in recorder.events)
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("model-checkpoint-5")


def test_a_non_finite_variable_is_found_and_never_saved(tiny, tmp_path):
    data, g = tiny
    sess = _session(g)
    training.train(sess, g, data, training.TrainConfig(training_epochs=1, batch_size=20))
    bias = next(v for v in g.graph.get_collection("variables") if v.op.name.endswith("output/b"))
    with g.graph.as_default():
        bias.load(np.full(10, np.inf, np.float32), sess)  # as after a step with an infinite gradient
    saver = hooks.CheckpointSaver(checkpoints.CheckpointKeeper(g.saver, str(tmp_path)))
    # The one epoch is done: no step runs, and the final save finds the infinity first.
    with pytest.raises(TrainingDiverged, match=r"non-finite .* by global step 3: mlp_model/output/b") as e:
        training.train(sess, g, data, training.TrainConfig(training_epochs=1, batch_size=20), [saver])
    assert e.value.variables == ["mlp_model/output/b"] and e.value.global_step == 3
    assert "--" not in str(e.value) and "learning rate" in e.value.advice
    assert tf.train.latest_checkpoint(str(tmp_path)) is None


def test_evaluate_set_is_the_whole_sets_accuracy_and_mean_cost(tiny):
    data, g = tiny
    sess = _session(g)
    result = training.evaluate_set(sess, g, data.test, batch_size=7, fetches={"logits": g.output})
    logits = sess.run(g.output, {g.x: data.test.images})
    shifted = logits - logits.max(1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    truth = data.test.label_ids
    assert result.num_examples == 20 and result.outputs["logits"].shape == (20, 10)
    assert result.accuracy == pytest.approx((logits.argmax(1) == truth).mean())
    assert result.cost == pytest.approx(-log_probs[np.arange(20), truth].mean(), rel=1e-5)
    assert training.evaluate_set(sess, g, data.test, batch_size=7, limit=9).num_examples == 9


def test_a_nan_cost_stops_at_its_step(tiny):
    data, g = tiny
    sess = _session(g)
    variables = {v.op.name: v for v in g.graph.get_collection("variables")}
    with g.graph.as_default():
        variables["mlp_model/output/W"].load(np.full([16, 10], np.nan, np.float32), sess)
    with pytest.raises(TrainingDiverged, match=r"the cost became nan at global step 1 \(epoch 1\)"):
        training.train(sess, g, data, training.TrainConfig(training_epochs=1, batch_size=20),
                       [hooks.DivergenceCheck()])


def test_xla_compiles_the_model_and_its_training_step_and_trains_the_same_network(tiny):
    """``build_graph(..., xla=True)`` (``--xla``): the book's ops are marked for XLA and the step computes
    the same cost and the same updated weights, to float32 rounding."""
    data, _ = tiny
    images, labels = data.train.images[:50], data.train.labels[:50]
    results = {}
    for xla in (False, True):
        g = build_graph(get_model("mlp"), ModelOptions(hidden_units=(16,)), learning_rate=1e-3, seed=0, xla=xla)
        marked = [op.name for op in g.graph.get_operations() if "_XlaCompile" in op.node_def.attr]
        with v1.Session(graph=g.graph) as sess:
            sess.run(g.init_op)
            costs = [training.train_step(sess, g, images, labels, keep_prob=1.0) for _ in range(2)]
            results[xla] = marked, costs, sess.run(g.output, {g.x: images})
    assert results[False][0] == []
    marked = results[True][0]
    assert any(n.endswith("hidden_1/MatMul") for n in marked) and any("gradients" in n for n in marked)
    assert any("Adam" in n for n in marked)
    np.testing.assert_allclose(results[True][1], results[False][1], rtol=1e-4)
    np.testing.assert_allclose(results[True][2], results[False][2], rtol=1e-3, atol=1e-3)
