"""Fault suite: interrupted runs, SIGKILL at random moments, locks, divergence, bad input and bad flags.

Every case must end in one clear message (no traceback), a non-zero exit, and an
intact latest checkpoint.
"""

import errno
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from conftest import REPO, run_module, write_mnist_format
from dlfund import checkpoints
from dlfund.data import idx, mnist
from dlfund.errors import RunDirError


def _start(args, cwd=REPO):
    return subprocess.Popen([sys.executable, "-m", "chapter5.train", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ))


def _wait_for(predicate, timeout=60.0):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _assert_loadable(run_dir):
    """The newest checkpoint named in the state file is complete: every tensor reads back."""
    path = tf.train.latest_checkpoint(str(run_dir))
    if path is None:
        return None
    reader = tf.train.load_checkpoint(path)
    for name in reader.get_variable_to_shape_map():
        reader.get_tensor(name)
    return checkpoints.checkpoint_step(path)


@pytest.fixture
def long_run(tmp_path):
    data = write_mnist_format(str(tmp_path / "data"), n_train=330, n_test=40)
    args = [f"--data_dir={data}", "--dataset=mnist", "--model=mlp", "--validation_size=30", "--batch_size=10",
            "--training_epochs=400", "--save_every_steps=7", "--learning_rate=1e-3", f"--logdir={tmp_path / 'logs'}",
            "--run_name=r", "--progress=off", "--eval_batch_size=100"]
    return tmp_path / "logs" / "r", args


def test_sigkill_at_random_moments_always_leaves_a_loadable_checkpoint(long_run):
    run_dir, args = long_run
    rng = random.Random(1234)
    steps = []
    for attempt in range(4):
        proc = _start(args)
        # Kill anywhere from start-up to mid-training (start-up takes about 3-4 s).
        time.sleep(rng.uniform(3.0, 7.0))
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        steps.append(_assert_loadable(run_dir))
    saved = [s for s in steps if s is not None]
    assert saved and saved == sorted(saved)  # later kills never lose earlier progress
    # The last resume continues from the latest checkpoint and takes over the dead run's lock.
    final = run_module("chapter5.train", *args, "--training_epochs=1")
    assert final.returncode == 0, final.stderr
    if steps[-1] is not None:
        assert f"global step {steps[-1]}" in final.stdout
    assert "Took over" in final.stdout  # run.lock of the killed process was stale


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_saves_at_the_current_step_and_says_how_to_resume(long_run, sig, code):
    run_dir, args = long_run
    proc = _start(args)
    assert _wait_for(lambda: _assert_loadable(run_dir) is not None), "no checkpoint appeared"
    time.sleep(0.3)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    name = signal.Signals(sig).name
    line = [l for l in out.splitlines() if l.startswith(f"Interrupted by {name} at global step")][0]
    step = int(line.split("global step ")[1].split(";")[0])
    assert _assert_loadable(run_dir) == step
    assert "Resume with: python -m chapter5.train --flagfile=" in out
    assert not (run_dir / "run.lock").exists()


def test_a_second_run_on_the_same_directory_is_refused(long_run):
    run_dir, args = long_run
    first = _start(args)
    try:
        assert _wait_for(lambda: (run_dir / "run.lock").exists())
        second = run_module("chapter5.train", *args)
        assert second.returncode == 1 and "Traceback" not in second.stderr
        assert f"in use by another training run (pid {first.pid}" in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)


def test_divergence_stops_with_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    data = write_mnist_format(str(tmp_path / "data"), n_train=120, n_test=20)
    base = [f"--data_dir={data}", "--dataset=mnist", "--model=mlp", "--validation_size=20", "--batch_size=10",
            f"--logdir={tmp_path / 'logs'}", "--run_name=d", "--progress=off", "--optimizer=sgd", "--keep_prob=1"]
    ok = run_module("chapter5.train", *base, "--training_epochs=1", "--learning_rate=0.01")
    assert ok.returncode == 0
    run_dir = tmp_path / "logs" / "d"
    before = sorted(os.listdir(run_dir))
    bad = run_module("chapter5.train", *base, "--training_epochs=3", "--learning_rate=1e30")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "diverged" in bad.stderr and "global step 1" in bad.stderr and "lower --learning_rate" in bad.stderr
    assert _assert_loadable(run_dir) == 10
    assert [f for f in sorted(os.listdir(run_dir)) if "checkpoint" in f] == [f for f in before if "checkpoint" in f]


def _idx_cases(d):
    images = os.path.join(d, mnist.TRAIN_IMAGES)
    good = open(images, "rb").read()
    import gzip
    raw = gzip.decompress(good)
    return {
        "missing": (lambda: os.remove(images), "missing train-images-idx3-ubyte.gz"),
        "empty": (lambda: open(images, "wb").close(), "too short for an IDX header"),
        "truncated": (lambda: open(images, "wb").write(gzip.compress(raw[:-100])), "does not match the header"),
        "wrong magic": (lambda: open(images, "wb").write(gzip.compress(b"\0\0\x08\x01" + raw[4:])),
                        "wrong magic number 2049"),
        "wrong size": (lambda: open(images, "wb").write(gzip.compress(raw + b"\0" * 784)), "does not match the header"),
        "corrupt gzip": (lambda: open(images, "wb").write(good[:len(good) // 3]), "corrupt gzip"),
        "count mismatch": (lambda: idx.write_idx_labels(os.path.join(d, mnist.TRAIN_LABELS), np.zeros(59, np.uint8)),
                           "has 60 images but"),
    }


@pytest.mark.parametrize("case", ["missing", "empty", "truncated", "wrong magic", "wrong size", "corrupt gzip",
                                  "count mismatch"])
def test_bad_idx_files_get_one_clear_message(tmp_path, case):
    d = write_mnist_format(str(tmp_path / "data"), n_train=60, n_test=10)
    breaker, message = _idx_cases(d)[case]
    breaker()
    # --nodownload: a missing file must not send the test to the internet.
    proc = run_module("chapter5.train", "--dataset=mnist", f"--data_dir={d}", f"--logdir={tmp_path / 'logs'}",
                      "--progress=off", "--nodownload")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert "train-images-idx3-ubyte.gz" in lines[0]
    assert not os.path.exists(tmp_path / "logs")  # nothing written for a run that could not start


def test_unwritable_logdir(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    proc = run_module("chapter5.train", "--dataset=mnist_sample", f"--logdir={blocker}", "--max_steps=1")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert str(blocker) in proc.stderr and "cannot create the run directory" in proc.stderr


def test_full_disk_while_saving_keeps_previous_checkpoints(tmp_path):
    class FullDiskSaver:
        def save(self, *args, **kwargs):
            raise tf.errors.ResourceExhaustedError(None, None, "write failed: No space left on device")

    (tmp_path / "model-checkpoint-5.index").write_text("previous")
    with pytest.raises(RunDirError) as e:
        checkpoints.save(None, FullDiskSaver(), str(tmp_path), 10)
    assert "disk full" in str(e.value) and "step 10" in str(e.value) and "previous checkpoints are kept" in str(e.value)
    assert (tmp_path / "model-checkpoint-5.index").read_text() == "previous"

    class ReadOnlySaver:
        def save(self, *args, **kwargs):
            raise OSError(errno.EROFS, "Read-only file system")

    with pytest.raises(RunDirError, match="Read-only"):
        checkpoints.save(None, ReadOnlySaver(), str(tmp_path), 11)


def test_run_dir_of_another_model_is_refused(tmp_path):
    logs = tmp_path / "logs"
    first = run_module("chapter5.train", "--dataset=mnist_sample", "--model=mlp", f"--logdir={logs}", "--run_name=x",
                       "--max_steps=2", "--progress=off")
    assert first.returncode == 0, first.stderr
    other = run_module("chapter5.train", "--dataset=mnist_sample", "--model=mnist_conv", f"--logdir={logs}",
                       "--run_name=x", "--max_steps=2")
    assert other.returncode == 1 and "Traceback" not in other.stderr
    assert "holds a --model=mlp run" in other.stderr
    assert _assert_loadable(logs / "x") == 2


def test_stale_lock_is_taken_over(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (run_dir / "run.lock").write_text(f"{dead.pid}\n")
    with checkpoints.RunDirLock(str(run_dir)) as lock:
        assert lock.took_over_from == dead.pid
        assert (run_dir / "run.lock").read_text().strip() == str(os.getpid())
    assert not (run_dir / "run.lock").exists()
