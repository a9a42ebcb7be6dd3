"""A damaged, missing or moved checkpoint never costs a run its progress (docs/reliability.md).

One short run is trained once (checkpoints at global steps 5 and 10); each case
copies its run directory, damages the copy as a disk, a cut-short copy or a
reader's hand would, and runs the programs on it in this process.
"""

import glob
import os
import shutil

import pytest
import tensorflow as tf
from conftest import run_args, run_program, write_mnist_format

from dlfund import checkpoints
from dlfund.errors import RunDirError
from dlfund.graph import build_graph
from dlfund.models import ModelOptions, get_model

V1 = tf.compat.v1


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    base = tmp_path_factory.mktemp("damage")
    data = write_mnist_format(str(base / "data"), n_train=300, n_test=60)
    args = [f"--data_dir={data}", "--dataset=mnist", "--model=mlp", "--hidden_units=32", "--batch_size=50",
            "--validation_size=50", f"--logdir={base / 'logs'}", "--run_name=r", "--progress=off",
            "--eval_batch_size=100"]
    ran = run_program("train", *args, "--training_epochs=2")
    assert ran.returncode == 0, ran.stderr
    return base / "logs" / "r", args


@pytest.fixture
def run_copy(trained, tmp_path):
    """A fresh copy of the trained run directory, at tmp_path/logs/r, and the flags that train it."""
    original, args = trained
    run_dir = tmp_path / "logs" / "r"
    shutil.copytree(original, run_dir)
    return run_dir, [a for a in args if not a.startswith("--logdir=")] + [f"--logdir={tmp_path / 'logs'}"]


def _files(run_dir, step):
    return sorted(glob.glob(str(run_dir / f"model-checkpoint-{step}.*")))


def _truncate(path):
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(size // 2)
    return size // 2


def _resume(args, *more):
    ran = run_program("train", *args, "--training_epochs=3", *more)
    assert "Traceback" not in ran.stderr
    return ran


def test_the_state_file_names_checkpoints_relative_to_the_run_directory(trained):
    run_dir, _ = trained
    state = (run_dir / "checkpoint").read_text()
    assert 'model_checkpoint_path: "model-checkpoint-10"' in state and str(run_dir) not in state


@pytest.mark.parametrize("damage", ["truncated data file", "truncated index", "missing files"])
def test_a_damaged_newest_checkpoint_is_skipped_and_the_intact_one_resumed(run_copy, damage):
    run_dir, args = run_copy
    data_file = str(run_dir / "model-checkpoint-10.data-00000-of-00001")
    index = str(run_dir / "model-checkpoint-10.index")
    if damage == "truncated data file":
        left = {data_file: _truncate(data_file)}
    elif damage == "truncated index":
        left = {index: _truncate(index)}
    else:
        for name in _files(run_dir, 10):
            os.remove(name)
        left = {}
    evaluated = run_program("evaluate", *run_args(run_dir), "--projector_examples=0")
    assert evaluated.returncode == 0, evaluated.stderr
    assert f"Skipped {run_dir}/model-checkpoint-10: " in evaluated.stderr
    assert f"Checkpoint: {run_dir}/model-checkpoint-5 (global step 5)" in evaluated.stdout
    ran = _resume(args, "--max_steps=7")
    assert ran.returncode == 0, ran.stderr
    skipped = next(line for line in ran.stdout.splitlines() if line.startswith("Skipped"))
    expected = {"truncated data file": "model-checkpoint-10.data-* is truncated or damaged (",
                "truncated index": "model-checkpoint-10.index is truncated or damaged (",
                "missing files": "its files are missing"}[damage]
    assert skipped.startswith(f"Skipped {run_dir}/model-checkpoint-10: {expected}")
    assert ("left in place" in skipped) == (damage != "missing files")
    assert f"Resuming from {run_dir}/model-checkpoint-5 (global step 5," in ran.stdout
    assert {path: os.path.getsize(path) for path in left} == left  # the damaged files are as they were
    assert checkpoints.latest_intact(str(run_dir)).endswith("model-checkpoint-7")
    assert checkpoints.find_checkpoints(str(run_dir)).intact == [str(run_dir / f"model-checkpoint-{s}")
                                                                 for s in (5, 7)]


def test_a_state_file_naming_a_checkpoint_that_does_not_exist(run_copy):
    run_dir, args = run_copy
    V1.train.update_checkpoint_state(str(run_dir), "model-checkpoint-999",
                                     ["model-checkpoint-5", "model-checkpoint-10", "model-checkpoint-999"])
    ran = _resume(args)
    assert ran.returncode == 0, ran.stderr
    assert f"Skipped {run_dir}/model-checkpoint-999: its files are missing" in ran.stdout
    assert f"Resuming from {run_dir}/model-checkpoint-10 (global step 10, 2 of 3 epochs done)" in ran.stdout
    assert checkpoints.checkpoint_step(checkpoints.latest_intact(str(run_dir))) == 15


def test_a_run_directory_whose_checkpoints_are_all_damaged_is_not_restarted(run_copy):
    run_dir, args = run_copy
    for step in (5, 10):
        _truncate(str(run_dir / f"model-checkpoint-{step}.data-00000-of-00001"))
    before = {p: open(p, "rb").read() for p in glob.glob(str(run_dir / "*")) if os.path.isfile(p)}
    ran = _resume(args)
    assert ran.returncode == 1 and ran.stderr.count("\n") == 1 and ran.stdout.count("Resuming") == 0
    assert ran.stderr.startswith(f"error: {run_dir} holds checkpoints but none is readable: model-checkpoint-10 "
                                 "(model-checkpoint-10.data-* is truncated or damaged")
    assert "model-checkpoint-5 (model-checkpoint-5.data-* is truncated or damaged" in ran.stderr
    assert f"python -m chapter5.train --flagfile={run_dir}/flags.cfg --run_name=r_new" in ran.stderr
    after = {p: open(p, "rb").read() for p in glob.glob(str(run_dir / "*")) if os.path.isfile(p)}
    assert after == before  # nothing written, nothing deleted, flags.cfg as it was
    evaluated = run_program("evaluate", *run_args(run_dir))
    assert evaluated.returncode == 1 and "none is readable" in evaluated.stderr


@pytest.mark.parametrize("how", ["moved", "copied"])
def test_a_run_directory_moved_or_copied_resumes_from_its_own_checkpoints(run_copy, tmp_path, how):
    run_dir, args = run_copy
    # As older code wrote it: the state file holds the original's absolute paths.
    V1.train.update_checkpoint_state(str(run_dir), str(run_dir / "model-checkpoint-10"),
                                     [str(run_dir / "model-checkpoint-5"), str(run_dir / "model-checkpoint-10")])
    elsewhere = tmp_path / "elsewhere" / "my runs" / "딥러닝"
    elsewhere.parent.mkdir(parents=True)
    (shutil.move if how == "moved" else shutil.copytree)(str(run_dir), str(elsewhere))
    if how == "copied":
        _truncate(str(run_dir / "model-checkpoint-10.data-00000-of-00001"))  # the original, not the copy
    ran = _resume([a for a in args if not a.startswith(("--logdir=", "--run_name="))],
                  f"--logdir={elsewhere.parent}", "--run_name=딥러닝")
    assert ran.returncode == 0, ran.stderr
    assert "Skipped" not in ran.stdout
    assert f"Resuming from {elsewhere}/model-checkpoint-10 (global step 10, 2 of 3 epochs done)" in ran.stdout
    assert checkpoints.latest_intact(str(elsewhere)).endswith("model-checkpoint-15")
    assert str(tmp_path) not in (elsewhere / "checkpoint").read_text()
    # The commands printed for the reader are quoted for the shell.
    info = (elsewhere / "run_info.txt").read_text()
    assert f"python -m chapter5.evaluate '--logdir={elsewhere.parent}' '--run_name=딥러닝'" in info


def test_a_checkpoint_counts_as_saved_only_once_it_reads_back(tmp_path):
    with tf.Graph().as_default():
        g = build_graph(get_model("mlp"), ModelOptions(hidden_units=(8,)))
    sess = V1.Session(graph=g.graph)
    sess.run(g.init_op)
    keeper = checkpoints.CheckpointKeeper(g.saver, str(tmp_path))
    keeper.save(sess, 1)

    class CutShortSaver:
        """Writes the checkpoint, then loses the end of its data file (a disk full for another program)."""
        saver_def = g.saver.saver_def

        def save(self, *a, **kw):
            path = g.saver.save(*a, **kw)
            _truncate(path + ".data-00000-of-00001")
            return path

    with pytest.raises(RunDirError, match=r"step 2 does not read back \(model-checkpoint-2.data"):
        checkpoints.CheckpointKeeper(CutShortSaver(), str(tmp_path), keeper.kept).save(sess, 2)
    assert tf.train.latest_checkpoint(str(tmp_path)) == str(tmp_path / "model-checkpoint-1")


def test_max_to_keep_holds_for_the_run_directory_across_resumes(run_copy):
    run_dir, args = run_copy
    for epochs in (4, 6):
        ran = run_program("train", *args, f"--training_epochs={epochs}", "--max_to_keep=3")
        assert ran.returncode == 0, ran.stderr
    steps = sorted(checkpoints.checkpoint_step(p[:-6]) for p in glob.glob(str(run_dir / "model-checkpoint-*.index")))
    assert steps == [20, 25, 30]
    assert tf.train.get_checkpoint_state(str(run_dir)).all_model_checkpoint_paths == [
        str(run_dir / f"model-checkpoint-{s}") for s in steps]
