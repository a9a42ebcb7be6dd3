"""chapter5.train end to end on tiny data: the book's lines, TensorBoard tags, checkpoints, resume."""

import glob
import os
import re

import pytest
import tensorflow as tf
from tensorflow.core.util import event_pb2

from conftest import run_module, write_mnist_format


def _event_tags(run_dir):
    tags = set()
    for path in glob.glob(os.path.join(run_dir, "events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(path):
            event = event_pb2.Event.FromString(record.numpy())
            if event.HasField("graph_def"):
                tags.add("<graph>")
            for value in event.summary.value:
                tags.add(value.tag)
    return tags


def _steps(run_dir):
    return sorted(int(p.rsplit("-", 1)[1].split(".")[0])
                  for p in glob.glob(os.path.join(run_dir, "model-checkpoint-*.index")))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    base = tmp_path_factory.mktemp("smoke")
    data = write_mnist_format(str(base / "data"), n_train=300, n_test=100)
    args = [f"--data_dir={data}", "--dataset=mnist", "--model=mnist_conv", "--batch_size=50",
            "--validation_size=50", f"--logdir={base / 'logs'}", "--run_name=smoke", "--learning_rate=1e-3",
            "--progress=off", "--seed=1"]
    first = run_module("chapter5.train", *args, "--training_epochs=2")
    second = run_module("chapter5.train", *args, "--training_epochs=3")
    return base, args, first, second


def test_prints_the_book_lines_and_nothing_noisy(trained):
    _, _, first, _ = trained
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert re.search(r"^Epoch: 0001 cost = \d+\.\d{9}$", out, re.M)
    assert re.search(r"^Epoch: 0002 cost = \d+\.\d{9}$", out, re.M)
    assert len(re.findall(r"^Validation Error: 0\.\d{6}$", out, re.M)) == 2
    assert "Optimization Finished!" in out
    accuracy = float(re.search(r"^Test Accuracy: (\d\.\d+)$", out, re.M).group(1))
    assert 0.0 <= accuracy <= 1.0
    assert "Traceback" not in first.stderr and "I0000" not in first.stderr and "WARNING" not in first.stderr


def test_tensorboard_tags_checkpoints_and_run_files(trained):
    base, _, first, _ = trained
    run_dir = base / "logs" / "smoke"
    tags = _event_tags(str(run_dir))
    for tag in ("<graph>", "cost", "validation error", "test accuracy", "weights/mnist_conv_model/conv_1/W",
                "weights/mnist_conv_model/fc/W"):
        assert tag in tags, tag
    assert any(t.startswith("input") for t in tags) and any("filters" in t for t in tags)
    assert (run_dir / "flags.cfg").read_text().count("--model=mnist_conv") == 1
    info = (run_dir / "run_info.txt").read_text()
    assert "python -m chapter5.evaluate --logdir=" in info and f"TensorFlow {tf.__version__}" in info
    assert not (run_dir / "run.lock").exists()


def test_rerun_resumes_and_continues_the_global_step(trained):
    base, _, first, second = trained
    assert second.returncode == 0, second.stderr
    # 250 training images / batch 50 = 5 steps per epoch.
    assert "Resuming from" in second.stdout and "global step 10, 2 of 3 epochs done" in second.stdout
    assert "Epoch: 0003" in second.stdout and "Epoch: 0001" not in second.stdout
    assert _steps(str(base / "logs" / "smoke")) == [5, 10, 15]


def test_saved_flagfile_repeats_the_run(trained):
    base, _, _, _ = trained
    run_dir = base / "logs" / "smoke"
    again = run_module("chapter5.train", f"--flagfile={run_dir / 'flags.cfg'}", "--progress=off")
    assert again.returncode == 0, again.stderr
    assert "3 of 3 epochs done" in again.stdout and "Test Accuracy:" in again.stdout


def test_learns_the_tiny_task(tmp_path):
    data = write_mnist_format(str(tmp_path / "data"), n_train=600, n_test=200)
    proc = run_module("chapter5.train", f"--data_dir={data}", "--dataset=mnist", "--batch_size=50",
                      "--validation_size=100", f"--logdir={tmp_path}", "--learning_rate=1e-3",
                      "--training_epochs=3", "--progress=off", "--model=mlp")
    assert proc.returncode == 0, proc.stderr
    assert float(re.search(r"Test Accuracy: (\S+)", proc.stdout).group(1)) > 0.9


@pytest.mark.parametrize("flag, needle", [
    ("--batch_size=0", "batch_size"),
    ("--keep_prob=1.5", "keep_prob"),
    ("--model=resnet", "model"),
    ("--learning_rate=0", "learning_rate"),
    ("--model=cifar_conv", "--dataset"),
    ("--no_such_flag=1", "no_such_flag"),
    ("--flagfile=/nonexistent/flags.cfg", "/nonexistent/flags.cfg"),
])
def test_bad_flags_are_refused_before_any_work(tmp_path, flag, needle):
    proc = run_module("chapter5.train", "--dataset=mnist_sample", f"--logdir={tmp_path}", flag)
    assert proc.returncode != 0
    assert needle in proc.stderr and "Traceback" not in proc.stderr
    assert not os.listdir(tmp_path)


def test_missing_data_gives_one_clear_message(tmp_path):
    d = write_mnist_format(str(tmp_path / "data"), n_train=60, n_test=10)
    os.remove(os.path.join(d, "t10k-labels-idx1-ubyte.gz"))
    with open(os.path.join(d, "t10k-labels-idx1-ubyte.gz"), "wb") as f:
        f.write(b"\x1f\x8b garbage")
    proc = run_module("chapter5.train", "--dataset=mnist", f"--data_dir={d}", f"--logdir={tmp_path / 'logs'}")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "t10k-labels-idx1-ubyte.gz" in proc.stderr and "corrupt gzip" in proc.stderr


def test_deterministic_runs_with_the_same_seed_agree_exactly(tmp_path):
    import json
    data = write_mnist_format(str(tmp_path / "data"), n_train=200, n_test=50)
    results = []
    for run in ("a", "b"):
        proc = run_module("chapter5.train", f"--data_dir={data}", "--dataset=mnist", "--model=mnist_conv",
                          "--batch_size=20", "--validation_size=40", "--training_epochs=2", "--seed=3",
                          "--deterministic", f"--logdir={tmp_path}", f"--run_name={run}", "--progress=off")
        assert proc.returncode == 0, proc.stderr
        results.append(json.loads((tmp_path / run / "results.json").read_text()))
    a, b = results
    assert a["cost"] == b["cost"] and a["test_cost"] == b["test_cost"] and a["validation_error"] == b["validation_error"]
