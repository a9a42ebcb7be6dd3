"""Using a trained model: chapter5.evaluate, book-era checkpoints, chapter5.predict on image files."""

import json
import os
import re
import struct
import zlib

import numpy as np
import pytest
import tensorflow as tf
from conftest import run_program

from dlfund import digits
from dlfund.data import mnist
from dlfund.errors import DataError

v1 = tf.compat.v1


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    """The §5.8 convnet trained briefly on the bundled sample."""
    logs = tmp_path_factory.mktemp("logs")
    proc = run_program("train", "--flagfile=chapter5/flags/quickstart.cfg", f"--logdir={logs}",
                       "--training_epochs=2", "--progress=off", "--summary_images=false")
    assert proc.returncode == 0, proc.stderr
    accuracy = float(re.search(r"Test Accuracy: (\S+)", proc.stdout).group(1))
    return logs / "quickstart", accuracy


def test_evaluate_reports_the_same_accuracy_and_writes_eval_summaries(sample_run):
    run_dir, train_accuracy = sample_run
    proc = run_program("evaluate", f"--logdir={run_dir}", "--projector_examples=300")
    assert proc.returncode == 0, proc.stderr
    accuracy = float(re.search(r"^Test Accuracy: (\S+)$", proc.stdout, re.M).group(1))
    assert accuracy == pytest.approx(train_accuracy, abs=1e-6) and accuracy > 0.9
    # The graph's own cost, the same number training reported for the same checkpoint.
    results = json.loads((run_dir / "results.json").read_text())
    assert float(re.search(r"^Test Cost: (\S+)$", proc.stdout, re.M).group(1)) == pytest.approx(
        results["test_cost"], abs=1e-6)
    rows = [ln for ln in proc.stdout.splitlines() if re.match(r"^\s+\d ", ln)]
    assert len(rows) == 10 and sum(int(v) for r in rows for v in r.split()[1:11]) == 1000
    eval_dir = run_dir / "eval"
    assert (eval_dir / "sprite.png").exists() and (eval_dir / "embedding.tsv").exists()
    assert len((eval_dir / "metadata.tsv").read_text().splitlines()) == 301
    assert np.loadtxt(eval_dir / "embedding.tsv").shape == (300, 1024)
    config = (run_dir / "projector_config.pbtxt").read_text()
    assert "eval/embedding.tsv" in config and "eval/sprite.png" in config and "eval/metadata.tsv" in config
    from tensorflow.core.util import event_pb2
    tags = set()
    for name in os.listdir(eval_dir):
        if name.startswith("events.out"):
            for record in tf.data.TFRecordDataset(str(eval_dir / name)):
                tags.update(v.tag for v in event_pb2.Event.FromString(record.numpy()).summary.value)
    assert {"test accuracy", "confusion matrix", "activations/last_hidden_layer"} <= tags
    assert any(t.startswith("misclassified/") for t in tags)


def _book_mlp_checkpoint(directory):
    """Trains the chapter 3 MLP with code written like the book's own (not dlfund), saves it."""
    data = mnist.read_data_sets("", dataset="mnist_sample")
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(0)
        with v1.variable_scope("mlp_model"):
            x = v1.placeholder("float", [None, 784])
            y = v1.placeholder("float", [None, 10])

            def layer(inp, shape):
                weight_init = v1.random_normal_initializer(stddev=(2.0 / shape[0]) ** 0.5)
                W = v1.get_variable("W", shape, initializer=weight_init)
                b = v1.get_variable("b", shape[1:], initializer=v1.constant_initializer(value=0))
                return tf.nn.relu(tf.matmul(inp, W) + b)

            with v1.variable_scope("hidden_1"):
                h1 = layer(x, [784, 256])
            with v1.variable_scope("hidden_2"):
                h2 = layer(h1, [256, 256])
            with v1.variable_scope("output"):
                output = layer(h2, [256, 10])
            cost = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=output))
            global_step = v1.Variable(0, name="global_step", trainable=False)
            train_op = v1.train.GradientDescentOptimizer(0.05).minimize(cost, global_step=global_step)
            saver = v1.train.Saver()
        with v1.Session() as s:
            s.run(v1.global_variables_initializer())
            for _ in range(300):
                bx, by = data.train.next_batch(100)
                s.run(train_op, {x: bx, y: by})
            # The ReLU'd logits (errata E1) have ties at 0; tf.argmax does not promise which index
            # wins a tie, NumPy (as chapter5.evaluate uses) takes the first.
            logits = s.run(output, {x: data.test.images})
            acc = (logits.argmax(1) == data.test.label_ids).mean()
            path = saver.save(s, os.path.join(directory, "model-checkpoint"), global_step=global_step)
    return path, float(acc)


def test_a_book_era_checkpoint_restores_and_gives_its_accuracy(tmp_path):
    path, book_accuracy = _book_mlp_checkpoint(str(tmp_path))
    assert path.endswith("model-checkpoint-300")
    proc = run_program("evaluate", f"--checkpoint={path}", "--model=mlp", "--dataset=mnist_sample",
                       "--book_output_relu", "--projector_examples=0")
    assert proc.returncode == 0, proc.stderr
    assert float(re.search(r"Test Accuracy: (\S+)", proc.stdout).group(1)) == pytest.approx(book_accuracy, abs=1e-6)
    assert "global step 300" in proc.stdout
    assert (tmp_path / "eval").is_dir()  # without --logdir, eval/ goes beside the checkpoint
    wrong = run_program("evaluate", f"--checkpoint={path}", "--model=mnist_conv", "--dataset=mnist_sample")
    assert wrong.returncode == 1 and wrong.stderr.count("\n") == 1
    assert "mnist_conv_model/conv_1/W" in wrong.stderr and "mlp_model/hidden_1/W" in wrong.stderr
    wider = run_program("evaluate", f"--checkpoint={path}", "--model=mlp", "--hidden_units=300,256",
                        "--dataset=mnist_sample")
    assert wider.returncode == 1 and "wrong shape" in wider.stderr and "[784, 256]" in wider.stderr


def reference_mnist_like(gray):
    """The test's own NumPy version of the MNIST steps, for images whose ink box scales by an integer factor."""
    x = gray.astype(np.float64)
    if np.median(np.concatenate([x[0], x[-1], x[:, 0], x[:, -1]])) > 0.5:
        x = 1 - x
    r = np.flatnonzero((x > 0.2).any(1))
    c = np.flatnonzero((x > 0.2).any(0))
    x = x[r[0]:r[-1] + 1, c[0]:c[-1] + 1]
    f = max(x.shape) // 20
    assert max(x.shape) == 20 * f and x.shape[0] % f == 0 and x.shape[1] % f == 0
    small = x.reshape(x.shape[0] // f, f, x.shape[1] // f, f).mean(axis=(1, 3))
    ys, xs = np.indices(small.shape)
    cy, cx = (ys * small).sum() / small.sum(), (xs * small).sum() / small.sum()
    top, left = int(round(13.5 - cy)), int(round(13.5 - cx))
    out = np.zeros((28, 28))
    out[top:top + small.shape[0], left:left + small.shape[1]] = small
    return out


def _digit_like(h, w, rng):
    """A blob of ink h x w with uneven strokes (so the centre of mass is not the box centre)."""
    ink = np.zeros((h, w))
    ink[:, : max(1, w // 5)] = 1.0
    ink[: max(1, h // 6), :] = 1.0
    ink[h // 2:, w // 2:] = rng.uniform(0.5, 1.0, (h - h // 2, w - w // 2))
    return ink


@pytest.mark.parametrize("dark_on_light", [True, False])
@pytest.mark.parametrize("h, w, top, left, canvas", [(100, 60, 10, 70, (150, 180)), (40, 80, 90, 5, (160, 120)),
                                                     (60, 60, 3, 3, (70, 200))])
def test_preprocessing_matches_the_numpy_reference(dark_on_light, h, w, top, left, canvas):
    rng = np.random.default_rng(h + w)
    image = np.zeros(canvas)
    image[top:top + h, left:left + w] = _digit_like(h, w, rng)
    if dark_on_light:
        image = 1 - image
    got = digits.mnist_like(image.astype(np.float32))
    assert got.shape == (28, 28) and got.dtype == np.float32
    np.testing.assert_allclose(got, reference_mnist_like(image), atol=1e-5)
    ys, xs = np.indices(got.shape)
    assert abs((ys * got).sum() / got.sum() - 13.5) <= 0.5 and abs((xs * got).sum() / got.sum() - 13.5) <= 0.5


def test_blank_image_is_refused():
    with pytest.raises(DataError, match="blank"):
        digits.mnist_like(np.ones((50, 50), np.float32))


def _png(array_uint8):
    return tf.io.encode_png(array_uint8).numpy()


def _huge_png_header():
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 0, 0, 0, 0))


def test_predict_reads_a_drawn_digit_and_survives_bad_files(sample_run, tmp_path):
    run_dir, _ = sample_run
    data = mnist.read_data_sets("", dataset="mnist_sample")
    good = []
    for i in range(10):
        digit = data.test.images[i].reshape(28, 28, 1)
        big = tf.image.resize(digit, [200, 200]).numpy()
        paper = ((1 - np.clip(big, 0, 1)) * 255).round().astype(np.uint8)  # black ink on white paper
        path = tmp_path / f"digit_{i}.png"
        path.write_bytes(_png(paper))
        good.append((str(path), int(data.test.label_ids[i])))
    bad = {"missing.png": None, "empty.png": b"", "notes.png": b"not an image at all",
           "cut.png": (tmp_path / "digit_0.png").read_bytes()[:300], "huge.png": _huge_png_header()}
    for name, content in bad.items():
        if content is not None:
            (tmp_path / name).write_bytes(content)
    pre = tmp_path / "pre"
    proc = run_program("predict", f"--logdir={run_dir}", f"--save_preprocessed={pre}",
                       *[p for p, _ in good], *[str(tmp_path / n) for n in bad])
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == len(bad)
    for name, reason in [("missing.png", "not found"), ("empty.png", "empty"), ("notes.png", "not a PNG"),
                         ("cut.png", "cannot decode"), ("huge.png", "100000x100000")]:
        assert any(name in e and reason in e for e in errors), (name, errors)
    predicted = {m.group(1): m.group(2) for m in re.finditer(r"^(\S+): predicted (\d)", proc.stdout, re.M)}
    correct = sum(predicted[p] == str(label) for p, label in good)
    assert correct >= 9, proc.stdout
    assert sorted(os.listdir(pre)) == sorted(f"digit_{i}_28x28.png" for i in range(10))


def test_plot_needs_matplotlib_or_writes_the_figure(sample_run, tmp_path):
    run_dir, _ = sample_run
    image = np.full((60, 40, 1), 255, np.uint8)
    image[10:50, 18:22] = 0
    (tmp_path / "one.png").write_bytes(_png(image))
    figure = tmp_path / "fig.png"
    proc = run_program("predict", f"--logdir={run_dir}", f"--plot={figure}", str(tmp_path / "one.png"))
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert proc.returncode == 1 and 'pip install -e ".[plot]"' in proc.stderr and not figure.exists()
    else:
        assert proc.returncode == 0 and figure.stat().st_size > 1000


def test_evaluate_needs_a_run_or_a_checkpoint():
    proc = run_program("evaluate", "--model=mlp")
    assert proc.returncode == 1 and "give --logdir=RUN_DIR, or --checkpoint=PATH" in proc.stderr
