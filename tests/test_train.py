"""chapter5.train on tiny data, in this process: the book's lines, TensorBoard tags, checkpoints, resume,
flags; and one run of the real command in a new process."""

import glob
import json
import os
import re

import pytest
import tensorflow as tf
from conftest import run_program, write_mnist_format
from tensorflow.core.util import event_pb2

from chapter5 import flagfiles, rundir


def event_tags(run_dir):
    tags = set()
    for path in glob.glob(os.path.join(run_dir, "events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(path):
            event = event_pb2.Event.FromString(record.numpy())
            if event.HasField("graph_def"):
                tags.add("<graph>")
            for value in event.summary.value:
                tags.add(value.tag)
    return tags


def checkpoint_steps(run_dir):
    return sorted(int(p.rsplit("-", 1)[1].split(".")[0])
                  for p in glob.glob(os.path.join(run_dir, "model-checkpoint-*.index")))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    base = tmp_path_factory.mktemp("train")
    data = write_mnist_format(str(base / "data"), n_train=300, n_test=100)
    args = [f"--data_dir={data}", "--dataset=mnist", "--model=mnist_conv", "--batch_size=50",
            "--validation_size=50", f"--logdir={base / 'logs'}", "--run_name=smoke", "--learning_rate=1e-3",
            "--progress=off", "--seed=1"]
    first = run_program("train", *args, "--training_epochs=2")
    second = run_program("train", *args, "--training_epochs=3")
    return base, args, first, second


def test_prints_the_book_lines(trained):
    _, _, first, _ = trained
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert re.search(r"^Epoch: 0001 cost = \d+\.\d{9}$", out, re.M)
    assert re.search(r"^Epoch: 0002 cost = \d+\.\d{9}$", out, re.M)
    assert len(re.findall(r"^Validation Error: 0\.\d{6}$", out, re.M)) == 2
    assert "Optimization Finished!" in out
    accuracy = float(re.search(r"^Test Accuracy: (\d\.\d+)$", out, re.M).group(1))
    assert 0.0 <= accuracy <= 1.0
    assert first.stderr == ""


def test_tensorboard_tags_checkpoints_and_run_files(trained):
    base, _, _, _ = trained
    run_dir = base / "logs" / "smoke"
    tags = event_tags(str(run_dir))
    for tag in ("<graph>", "cost", "validation error", "test accuracy", "weights/mnist_conv_model/conv_1/W",
                "weights/mnist_conv_model/fc/W"):
        assert tag in tags, tag
    assert any(t.startswith("input") for t in tags) and any("filters" in t for t in tags)
    assert (run_dir / "flags.cfg").read_text().count("--model=mnist_conv") == 1
    info = (run_dir / "run_info.txt").read_text()
    assert "python -m chapter5.evaluate --logdir=" in info and f"TensorFlow {tf.__version__}" in info
    assert not (run_dir / "run.lock").exists()
    results = json.loads((run_dir / "results.json").read_text())
    assert results["global_step"] == 15 and results["startup_seconds"] > 0
    # The run's whole history, across the resume: three epochs, two invocations.
    assert results["epoch"] == [1, 2, 3] and len(results["cost"]) == len(results["validation_error"]) == 3
    assert [(i["from_step"], i["to_step"], i["ended"]) for i in results["invocations"]] == [(0, 10, "finished"),
                                                                                         (10, 15, "finished")]
    assert list(results["epoch_seconds"]) == ["1", "2", "3"]
    assert results["train_seconds"] == pytest.approx(sum(results["epoch_seconds"].values()), abs=0.01)


def test_rerun_resumes_and_continues_the_global_step(trained):
    base, _, _, second = trained
    assert second.returncode == 0, second.stderr
    # 250 training images / batch 50 = 5 steps per epoch.
    assert "Resuming from" in second.stdout and "global step 10, 2 of 3 epochs done" in second.stdout
    assert "Epoch: 0003" in second.stdout and "Epoch: 0001" not in second.stdout
    assert checkpoint_steps(str(base / "logs" / "smoke")) == [5, 10, 15]


def test_saved_flagfile_is_read_back_by_absl_and_repeats_the_run(trained):
    base, args, _, _ = trained
    run_dir = base / "logs" / "smoke"
    saved = rundir.read_flags(str(run_dir / "flags.cfg"))
    assert (saved.model, saved.batch_size, saved.learning_rate, saved.seed) == ("mnist_conv", 50, 1e-3, 1)
    assert not any(line.startswith(("--progress", "--max_steps", "--verbose"))
                   for line in (run_dir / "flags.cfg").read_text().splitlines())
    again = run_program("train", f"--flagfile={run_dir / 'flags.cfg'}", "--progress=off")
    assert again.returncode == 0, again.stderr
    assert "3 of 3 epochs done" in again.stdout and "Test Accuracy:" in again.stdout


def test_max_steps_stops_inside_an_epoch_and_still_tests(tmp_path):
    data = write_mnist_format(str(tmp_path / "data"), n_train=300, n_test=50)
    ran = run_program("train", f"--data_dir={data}", "--dataset=mnist", "--model=mlp", "--batch_size=50",
                      "--validation_size=50", f"--logdir={tmp_path}", "--max_steps=3", "--progress=off")
    assert ran.returncode == 0, ran.stderr
    assert "Epoch: 0001 cost" in ran.stdout and "Test Accuracy:" in ran.stdout
    assert checkpoint_steps(str(tmp_path / "mlp_mnist")) == [3]


def test_learns_the_tiny_task(tmp_path):
    data = write_mnist_format(str(tmp_path / "data"), n_train=600, n_test=200)
    ran = run_program("train", f"--data_dir={data}", "--dataset=mnist", "--batch_size=50", "--validation_size=100",
                      f"--logdir={tmp_path}", "--learning_rate=1e-3", "--training_epochs=3", "--progress=off",
                      "--model=mlp")
    assert ran.returncode == 0, ran.stderr
    assert float(re.search(r"Test Accuracy: (\S+)", ran.stdout).group(1)) > 0.9


@pytest.mark.parametrize("flag, needle", [
    ("--batch_size=0", "batch_size"),
    ("--keep_prob=1.5", "keep_prob"),
    ("--model=resnet", "model"),
    ("--learning_rate=0", "learning_rate"),
    ("--model=cifar_conv", "--dataset"),
    ("--no_such_flag=1", "no_such_flag"),
    ("--flagfile=/nonexistent/flags.cfg", "/nonexistent/flags.cfg"),
    ("--hidden_units=12,x", "hidden_units"),
])
def test_bad_flags_are_refused_before_any_work(tmp_path, flag, needle):
    ran = run_program("train", "--dataset=mnist_sample", f"--logdir={tmp_path}", flag)
    assert ran.returncode == 1
    # absl's words for a flag it refuses; chapter5.flagfiles' for a flagfile it cannot read.
    assert ran.stderr.startswith("error: " if "flagfile" in flag else "FATAL Flags parsing error:")
    assert needle in ran.stderr and "Traceback" not in ran.stderr
    assert not os.listdir(tmp_path)


def test_unexpected_arguments_and_a_batch_larger_than_the_data(tmp_path):
    ran = run_program("train", "--dataset=mnist_sample", f"--logdir={tmp_path}", "stray")
    assert ran.returncode == 1 and "unexpected arguments ['stray']" in ran.stderr
    ran = run_program("train", "--dataset=mnist_sample", f"--logdir={tmp_path}", "--batch_size=5000")
    assert ran.returncode == 1 and "--batch_size=5000 is larger than the training set (3500" in ran.stderr
    assert not os.listdir(tmp_path)


def test_missing_data_gives_one_clear_message(tmp_path):
    d = write_mnist_format(str(tmp_path / "data"), n_train=60, n_test=10)
    with open(os.path.join(d, "t10k-labels-idx1-ubyte.gz"), "wb") as f:
        f.write(b"\x1f\x8b garbage")
    ran = run_program("train", "--dataset=mnist", f"--data_dir={d}", f"--logdir={tmp_path / 'logs'}")
    assert ran.returncode == 1
    assert ran.stderr.count("\n") == 1 and ran.stderr.startswith("error: ")
    assert "t10k-labels-idx1-ubyte.gz" in ran.stderr and "corrupt gzip" in ran.stderr


def test_deterministic_runs_with_the_same_seed_agree_exactly(tmp_path):
    data = write_mnist_format(str(tmp_path / "data"), n_train=100, n_test=20)
    results = []
    for run in ("a", "b"):
        ran = run_program("train", f"--data_dir={data}", "--dataset=mnist", "--model=mnist_conv", "--batch_size=20",
                          "--validation_size=20", "--training_epochs=2", "--seed=3", "--deterministic",
                          f"--logdir={tmp_path}", f"--run_name={run}", "--progress=off")
        assert ran.returncode == 0, ran.stderr
        results.append(json.loads((tmp_path / run / "results.json").read_text()))
    a, b = results
    for key in ("cost", "test_cost", "validation_error"):
        assert a[key] == b[key], key


@pytest.mark.parametrize("flagfile, expected", [
    ("mnist_conv.cfg", dict(model="mnist_conv", optimizer="adam", learning_rate=1e-4, batch_size=100, keep_prob=0.5)),
    ("cifar_conv.cfg", dict(model="cifar_conv", optimizer="adam", learning_rate=1e-3, batch_size=128, keep_prob=0.5)),
    ("cifar_conv_bn.cfg", dict(model="cifar_conv_bn", optimizer="adam", learning_rate=1e-2, batch_size=128,
                               keep_prob=1.0)),
    ("mlp.cfg", dict(model="mlp", optimizer="sgd", learning_rate=0.01, batch_size=100, keep_prob=1.0,
                     hidden_units=["256", "256"])),
])
def test_each_listing_has_a_flagfile_with_its_hyperparameters(flagfile, expected):
    fv = rundir.read_flags(os.path.join(flagfiles.FLAGFILE_DIR, flagfile))
    assert {name: fv[name].value for name in expected} == expected
    assert not fv.book_output_relu and not fv.book_bn_update  # defects fixed


def test_the_mlp_flagfile_trains_chapter_3s_network(tmp_path):
    ran = run_program("train", "--flagfile=chapter5/flags/mlp.cfg", "--dataset=mnist_sample", f"--logdir={tmp_path}",
                      "--max_steps=3", "--progress=off")
    assert ran.returncode == 0, ran.stderr
    names = dict(tf.train.list_variables(str(tmp_path / "mlp_mnist_sample" / "model-checkpoint-3")))
    assert names["mlp_model/hidden_1/W"] == [784, 256] and names["mlp_model/hidden_2/W"] == [256, 256]
    assert names["mlp_model/output/W"] == [256, 10]
    assert not any("Adam" in n or "Momentum" in n for n in names)  # plain SGD: no optimizer state


@pytest.mark.parametrize("args, expected", [
    (["--model=mlp"], (1.0, 100)),  # multilayer_perceptron.py: no dropout
    (["--model=cifar_conv", "--dataset=cifar10"], (0.5, 128)),  # convnet_cifar.py: keep_prob 0.5, batch 128
    (["--model=cifar_conv_bn", "--dataset=cifar10"], (1.0, 128)),  # convnet_cifar_bn.py feeds keep_prob 1
    (["--model=mnist_conv"], (0.5, 100)),  # convnet_mnist.py
    (["--model=mlp", "--keep_prob=0.8", "--batch_size=50"], (0.8, 50)),  # given flags win
])
def test_without_a_flagfile_a_model_trains_with_its_listings_dropout_and_batch(args, expected):
    from absl import flags

    from chapter5 import from_flags, train
    fv = flags.FlagValues()
    train.define_flags(fv)
    fv(["train", *args])
    from_flags.resolve_listing_defaults(fv)
    assert (fv.keep_prob, fv.batch_size) == expected
