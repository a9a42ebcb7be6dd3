"""Checkpoints of the book's own code, from every TensorFlow it ran on (0.7 to 1.1, and TF 1.2+ as today).

The batch-norm listing's moving averages are named after internal ops of ``tf.nn.moments``, which changed
between versions; each checkpoint here is written in the test with one version's names and file format
(V1: TF 0.11 and older, a single file; V2 from 0.12) and must restore to the very logits of the network
that wrote it, in evaluation, prediction and as the start of a training run.
"""

import os
import re

import numpy as np
import pytest
import tensorflow as tf
from absl import flags
from conftest import run_program, write_cifar

from chapter5 import _cli, train
from dlfund import checkpoints
from dlfund.errors import CheckpointMismatch, ForeignCheckpoint
from dlfund.graph import build_graph, model_variables
from dlfund.models import ModelOptions, get_model
from dlfund.training import evaluate_set, restore_model

v1 = tf.compat.v1
V1, V2 = v1.train.SaverDef.V1, v1.train.SaverDef.V2
MODEL, SCOPE = "cifar_conv_bn", "cifar_conv_bn_model"
CONV_LAYERS = ("conv_1", "conv_2")

# Each row of the README's table: the mean's and the variance's name for a layer scope P, and the format.
ROWS = {
    "tf0.7": (lambda p, conv: f"{p}/{p}/moments/{'Squeeze_3' if conv else 'Squeeze_1'}",
              lambda p, conv: f"{p}/{p}/moments/variance", V1),
    "tf0.8-0.11": (lambda p, conv: f"{p}/{p}/moments/moments_1/mean",
                   lambda p, conv: f"{p}/{p}/moments/moments_1/variance", V1),
    "tf0.12": (lambda p, conv: f"{p}/{p}/moments/moments_1/mean",
               lambda p, conv: f"{p}/{p}/moments/moments_1/variance", V2),
    "tf1.0-1.1": (lambda p, conv: f"{p}/{p}/moments/moments_1/mean",
                  lambda p, conv: f"{p}/{p}/moments/moments_1/variance", V2),
    "tf1.2+": (lambda p, conv: f"{p}/{p}/moments/Squeeze",
               lambda p, conv: f"{p}/{p}/moments/Squeeze_1", V2),
}
EMA = "/ExponentialMovingAverage"


def _book_network(seed):
    """The listing's network (batch norm and ReLU on the logits, errata E1), with random weights and averages."""
    g = build_graph(get_model(MODEL), ModelOptions(book_output_relu=True), sparse_labels=True, with_training=False,
                    summary_images=False)
    sess = v1.Session(graph=g.graph)
    rng = np.random.default_rng(seed)
    with g.graph.as_default():
        for v in model_variables(g.spec.scope):
            shape = v.shape.as_list()
            if v.dtype.base_dtype == tf.int32:
                value = np.int32(4321)
            elif "Squeeze_1" in v.op.name:  # variances: positive
                value = rng.uniform(0.5, 2.0, shape).astype(np.float32)
            else:
                value = (rng.standard_normal(shape) * 0.1).astype(np.float32)
            v.load(value, sess)
    return g, sess


def _write_book_checkpoint(g, sess, row, path):
    """Saves the network's model variables under the names and format of one TensorFlow version."""
    mean_name, var_name, version = ROWS[row]
    names = {}
    with g.graph.as_default():
        for v in model_variables(g.spec.scope):
            name = v.op.name
            match = re.fullmatch(r"(.+?)/(\1)/moments/(Squeeze|Squeeze_1)" + EMA, name)
            if match:
                scope = match.group(1)
                conv = scope.rsplit("/", 1)[1] in CONV_LAYERS
                name = (mean_name if match.group(3) == "Squeeze" else var_name)(scope, conv) + EMA
            names[name] = v
        extra = []
        if row == "tf0.12":  # the zero-debias bookkeeping 0.12 wrote beside each average
            for name in list(names):
                if name.endswith(EMA):
                    scope = name.split("/moments/")[0].rsplit("/", 2)[0]
                    stat = "mean" if "/mean" in name else "variance"
                    for part, dtype in (("biased", tf.float32), ("local_step", tf.int64)):
                        extra_var = v1.Variable(tf.zeros(names[name].shape if part == "biased" else [], dtype))
                        extra.append(extra_var)
                        names[f"{scope}/{scope}/{scope}/moments/moments_1/{stat}{EMA}/{part}"] = extra_var
        # Optimizer state, as a trained checkpoint holds it: never restored into the model.
        slot = v1.Variable(tf.zeros([5, 5, 3, 64]))
        names[f"{g.spec.scope}/conv_1/W/Adam"] = slot
        sess.run(v1.variables_initializer(extra + [slot]))
        saver = v1.train.Saver(var_list=names, write_version=version)
        return saver.save(sess, path, write_meta_graph=False)


def _logits(g, sess, images):
    return sess.run(g.output, {g.x: images})


@pytest.fixture(scope="module")
def cifar_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cifar")
    write_cifar(str(d), per_file=20, test=40)
    return d


@pytest.fixture(scope="module")
def book_checkpoints(tmp_path_factory, cifar_dir):
    """One network of the listing, saved as every TensorFlow version would have saved it; its logits on a
    batch, and its accuracy and cost on the CIFAR-format test set."""
    from dlfund.data import cifar10
    directory = tmp_path_factory.mktemp("book")
    images = np.random.default_rng(7).standard_normal((16, 24, 24, 3)).astype(np.float32)
    g, sess = _book_network(seed=1)
    expected = _logits(g, sess, images)
    tested = evaluate_set(sess, g, cifar10.read_data_sets(str(cifar_dir)).test, batch_size=25)
    paths = {row: _write_book_checkpoint(g, sess, row, str(directory / row / "model-checkpoint-4321"))
             for row in ROWS if (directory / row).mkdir() is None}
    sess.close()
    return paths, images, expected, tested


@pytest.fixture(scope="module")
def fresh_network():
    g = build_graph(get_model(MODEL), ModelOptions(book_output_relu=True), sparse_labels=True,
                    with_training=False, summary_images=False)
    sess = v1.Session(graph=g.graph)  # not "with": that would leave this graph the default for later tests
    yield g, sess
    sess.close()


@pytest.mark.parametrize("row", list(ROWS))
def test_each_versions_checkpoint_restores_to_identical_logits(book_checkpoints, fresh_network, row):
    paths, images, expected, _ = book_checkpoints
    path = paths[row]
    if ROWS[row][2] == V1:
        assert not os.path.exists(path + ".index") and os.path.isfile(path)  # one file, as TF 0.11 wrote
    names = dict(tf.train.list_variables(path))
    old_names = row in ("tf0.8-0.11", "tf0.12", "tf1.0-1.1")
    assert (f"{SCOPE}/conv_1/{SCOPE}/conv_1/moments/moments_1/mean{EMA}" in names) == old_names
    g, sess = fresh_network
    sess.run(g.init_op)  # nothing left over from the row restored before
    note = restore_model(sess, g, path)
    np.testing.assert_array_equal(_logits(g, sess, images), expected)
    assert int(sess.run(g.global_step)) == 4321
    assert (row != "tf1.2+") == bool(note)


def test_a_checkpoint_is_not_restored_in_part(book_checkpoints):
    path = book_checkpoints[0]["tf0.8-0.11"]
    plain = build_graph(get_model(MODEL), sparse_labels=True, with_training=False, summary_images=False)
    with v1.Session(graph=plain.graph) as s, pytest.raises(CheckpointMismatch) as e:
        restore_model(s, plain, path)
    message = str(e.value)
    unused = message.split("in the checkpoint but not in the model: ")[1]
    assert f"{SCOPE}/output/{SCOPE}/output/moments/moments_1/mean{EMA}" in unused
    assert f"{SCOPE}/output/beta" in unused and f"{SCOPE}/output/gamma" in unused
    assert "W/Adam" not in message and "biased" not in message
    # The error carries the names, and its advice is the Python argument that builds the listing's output layer.
    assert e.value.output_batch_norm_only and not e.value.missing and f"{SCOPE}/output/beta" in e.value.unused
    assert "ModelOptions(book_output_relu=True)" in message and "--" not in message


def test_a_book_checkpoint_is_not_resumed_as_this_codes_own(book_checkpoints, fresh_network):
    """A run resumes by this code's own names; a book-era checkpoint copied into a run directory is refused with
    the way to start from it, while one of TF 1.2+ (this code's names) passes."""
    g, _ = fresh_network
    with g.graph.as_default():
        var_list = model_variables(g.spec.scope)
    path = book_checkpoints[0]["tf1.0-1.1"]
    with pytest.raises(ForeignCheckpoint, match="named as by TensorFlow 0.8-1.1, not this code's. Start a new run "
                                                "from it: restore_or_initialize") as e:
        checkpoints.check_compatible(path, var_list)
    assert e.value.checkpoint == path and e.value.note == "batch-norm averages named as by TensorFlow 0.8-1.1"
    # The command line gives the same advice as its flag.
    fv = flags.FlagValues()
    train.define_flags(fv)
    assert _cli.command_line_message(e.value, "train", fv).endswith(f"not this code's. Start a new run from it with "
                                                                    f"--init_checkpoint={path}")
    checkpoints.check_compatible(book_checkpoints[0]["tf1.2+"], var_list)


@pytest.mark.parametrize("row", list(ROWS))
def test_evaluate_gives_the_writers_test_cost(book_checkpoints, cifar_dir, row, tmp_path):
    paths, _, _, expected = book_checkpoints
    ran = run_program("evaluate", f"--checkpoint={paths[row]}", f"--model={MODEL}", "--book_output_relu",
                      "--dataset=cifar10", f"--data_dir={cifar_dir}", "--projector_examples=0",
                      f"--logdir={tmp_path}")
    assert ran.returncode == 0, ran.stderr
    assert f"Test Cost: {expected.cost:.6f}" in ran.stdout and f"Test Accuracy: {expected.accuracy:.6f}" in ran.stdout
    assert "global step 4321" in ran.stdout and ("TensorFlow 0.7" in ran.stdout) == (row == "tf0.7")
    # CIFAR-10's confusion matrix: separated, readable column names; rows by full name.
    header = next(line for line in ran.stdout.splitlines() if "predicted" in line and "accuracy" in line)
    assert header.split()[3:] == ["plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
                                  "accuracy"]
    assert re.search(r"^\s+automobile(\s+\d+){10}\s+\d\.\d{4}$", ran.stdout, re.M)


def test_training_continues_from_a_book_checkpoint_and_needs_the_printed_output_layer(book_checkpoints,
                                                                                       cifar_dir, tmp_path):
    path = book_checkpoints[0]["tf0.7"]
    trained = run_program("train", f"--init_checkpoint={path}", f"--model={MODEL}", "--book_output_relu",
                          "--dataset=cifar10", f"--data_dir={cifar_dir}", f"--logdir={tmp_path / 'logs'}",
                          "--batch_size=30", "--max_steps=4323", "--training_epochs=2000", "--progress=off")
    assert trained.returncode == 0, trained.stderr
    assert f"Starting from {path} (global step 4321); batch-norm averages named as by TensorFlow 0.7" \
        in trained.stdout
    assert checkpoints.latest_intact(str(tmp_path / "logs" / f"{MODEL}_cifar10")).endswith("-4323")
    # Without the flag that builds the book's output layer, the checkpoint is refused, not half restored.
    refused = run_program("train", f"--init_checkpoint={path}", f"--model={MODEL}", "--dataset=cifar10",
                          f"--data_dir={cifar_dir}", f"--logdir={tmp_path / 'other'}", "--batch_size=30",
                          "--progress=off")
    assert refused.returncode == 1 and "--book_output_relu" in refused.stderr
    assert checkpoints.latest_intact(str(tmp_path / "other" / f"{MODEL}_cifar10")) is None


@pytest.mark.parametrize("row", ["tf0.7", "tf0.12"])
def test_a_book_era_checkpoint_loads_into_the_keras_model(book_checkpoints, row):
    from dlfund import keras_models
    paths, images, expected, _ = book_checkpoints
    options = ModelOptions(book_output_relu=True)
    model = keras_models.keras_model(MODEL, options)
    assert "TensorFlow" in keras_models.load_checkpoint(model, paths[row])
    np.testing.assert_allclose(keras_models.as_numpy(model, images), expected, rtol=1e-4, atol=1e-4)
