"""Fault suite: interrupted runs, SIGKILL at random moments, locks, divergence, bad input and bad flags.

Every case must end in one clear message (no traceback), a non-zero exit, and an
intact latest checkpoint. Signals, kills and the lock need a real training
process; everything else runs the program in this process.
"""

import contextlib
import errno
import gzip
import importlib
import os
import pathlib
import random
import signal
import threading
import time
import types

import numpy as np
import pytest
import tensorflow as tf
from conftest import run_program, scenario, start_module, wait_for, write_mnist_format

from chapter5 import rundir
from dlfund import checkpoints
from dlfund.data import idx, mnist
from dlfund.errors import RunDirError


def _assert_loadable(run_dir):
    """The checkpoint the state file names is complete (every tensor reads back); returns the step of the
    newest complete checkpoint, the one a resume uses (it may be newer: killed after writing, before naming)."""
    path = tf.train.latest_checkpoint(str(run_dir))
    if path is None:
        return None
    reader = tf.train.load_checkpoint(path)
    for name in reader.get_variable_to_shape_map():
        reader.get_tensor(name)
    newest = checkpoints.latest_intact(str(run_dir))
    assert checkpoints.checkpoint_step(newest) >= checkpoints.checkpoint_step(path)
    return checkpoints.checkpoint_step(newest)


def _long_run(workdir):
    """A run that trains for minutes unless stopped: tiny MLP steps, a checkpoint every 7 steps."""
    data = write_mnist_format(str(workdir / "data"), n_train=330, n_test=40)
    args = [f"--data_dir={data}", "--dataset=mnist", "--model=mlp", "--validation_size=30", "--batch_size=10",
            "--training_epochs=400", "--save_every_steps=7", "--learning_rate=1e-3", f"--logdir={workdir / 'logs'}",
            "--run_name=r", "--progress=off", "--eval_batch_size=100"]
    return workdir / "logs" / "r", args


def _newest_step(run_dir):
    """The step of the newest checkpoint named in the state file (0 if none), without reading it."""
    path = tf.train.latest_checkpoint(str(run_dir))
    return checkpoints.checkpoint_step(path) if path else 0


def _once_saving(run_dir, args):
    """Starts a training process and returns it once it has saved a checkpoint past the newest one now."""
    before = _newest_step(run_dir)
    proc = start_module("chapter5.train", *args)
    wait_for(lambda: _newest_step(run_dir) > before, proc, "new checkpoint")
    return proc


@scenario
def killed_then_interrupted(workdir):
    """SIGKILL at a random moment of training; then a second run resumes from what the first left (taking
    over the dead run's lock), is killed in turn, and a third resumes, holds its directory's lock while it
    trains (a run started beside it is refused), and is stopped with Ctrl-C (SIGINT)."""
    run_dir, args = _long_run(workdir)
    rng = random.Random(1234)
    steps = []
    for _ in range(2):
        proc = _once_saving(run_dir, args)
        # Training, and saving every 7 steps: a random moment lands mid-step, mid-save or mid-summary.
        time.sleep(rng.uniform(0.0, 0.5))
        proc.kill()
        proc.communicate()
        steps.append(_assert_loadable(run_dir))
    proc = _once_saving(run_dir, args)
    try:
        rundir.RunDirLock(str(run_dir)).acquire()
        refused = None
    except RunDirError as e:
        refused = str(e)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    return run_dir, steps, proc.pid, refused, (proc.returncode, out, err)


@pytest.mark.background("killed_then_interrupted")
def test_sigkill_at_random_moments_always_leaves_a_loadable_checkpoint(background):
    run_dir, steps, _, _, (_, out, _) = background.result("killed_then_interrupted")
    assert all(s is not None for s in steps) and steps == sorted(steps)  # later kills never lose progress
    # The run after the last kill resumed from its latest checkpoint and took over its stale lock.
    assert f"Resuming from {run_dir / f'model-checkpoint-{steps[-1]}'} (global step {steps[-1]}," in out
    assert f"Took over {run_dir} from process " in out


def _interrupted_run(tmp_path, sig):
    """chapter5.train in this process, sent ``sig`` once it has saved a checkpoint of its own (a watcher thread
    sends it to this thread, as the kernel delivers a Ctrl-C to a program's main thread)."""
    run_dir, args = _long_run(tmp_path)
    main_thread, saved = threading.main_thread().ident, threading.Event()

    def watch():
        while not saved.wait(0.05):
            if _newest_step(run_dir):
                saved.set()
                signal.pthread_kill(main_thread, sig)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        ran = run_program("train", *args)
    finally:
        saved.set()
        watcher.join()
    return run_dir, (ran.returncode, ran.stdout, ran.stderr)


@pytest.mark.background("killed_then_interrupted")
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_saves_at_the_current_step_and_says_how_to_resume(background, sig, code, tmp_path):
    name = signal.Signals(sig).name
    if sig == signal.SIGINT:  # a real Ctrl-C to a real training process
        run_dir, _, _, _, (returncode, out, err) = background.result("killed_then_interrupted")
    else:
        run_dir, (returncode, out, err) = _interrupted_run(tmp_path, sig)
    assert returncode == code and err == "", err
    line = [ln for ln in out.splitlines() if ln.startswith(f"Interrupted by {name} at global step")][0]
    step = int(line.split("global step ")[1].split(";")[0])
    assert _assert_loadable(run_dir) == step
    assert f"Resume with: python -m chapter5.train --flagfile={run_dir / 'flags.cfg'}" in out
    assert not (run_dir / "run.lock").exists()


@pytest.mark.background("killed_then_interrupted")
def test_a_second_run_on_the_same_directory_is_refused(background):
    run_dir, _, pid, refused, _ = background.result("killed_then_interrupted")
    assert refused is not None and f"{run_dir} is in use by another training run (pid {pid}" in refused


def test_the_lock_message_of_a_second_run(tmp_path):
    run_dir = tmp_path / "logs" / "r"
    run_dir.mkdir(parents=True)
    (run_dir / "run.lock").write_text("1\n")  # pid 1 is always alive
    ran = run_program("train", "--dataset=mnist_sample", "--model=mlp", f"--logdir={tmp_path / 'logs'}",
                      "--run_name=r")
    assert ran.returncode == 1 and ran.stderr.count("\n") == 1
    assert f"error: {run_dir} is in use by another training run (pid 1, lock file" in ran.stderr
    assert (run_dir / "run.lock").read_text() == "1\n"


def _divergence_args(tmp_path, model):
    data = write_mnist_format(str(tmp_path / "data"), n_train=120, n_test=20)
    return [f"--data_dir={data}", "--dataset=mnist", f"--model={model}", "--validation_size=20", "--batch_size=10",
            f"--logdir={tmp_path / 'logs'}", "--run_name=d", "--progress=off", "--optimizer=sgd", "--keep_prob=1"]


def test_a_nan_cost_stops_with_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    base = _divergence_args(tmp_path, "mlp")
    assert run_program("train", *base, "--training_epochs=1", "--learning_rate=0.01").returncode == 0
    run_dir = tmp_path / "logs" / "d"
    before = sorted(f for f in os.listdir(run_dir) if "checkpoint" in f)
    bad = run_program("train", *base, "--training_epochs=3", "--learning_rate=1e30")
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1
    # Step 11's cost is computed before its update, the first at 1e30; step 12 sees the exploded weights.
    assert "the cost became nan at global step 12 (epoch 2). Training diverged: try a lower --learning_rate (now " \
        "1e+30)" in bad.stderr
    assert "last good checkpoint is kept: " + str(run_dir / "model-checkpoint-10") in bad.stderr
    assert _assert_loadable(run_dir) == 10
    assert sorted(f for f in os.listdir(run_dir) if "checkpoint" in f) == before


def test_non_finite_weights_with_a_finite_cost_stop_before_summaries_and_saves(tmp_path):
    """Adam with --epsilon=0 takes 0/0 for the first layer's weights of pixels blank in every digit (their gradient
    and both Adam slots are exactly 0): they become NaN in the update, after the step's cost was computed finite.
    The per-step save checks the variables first and stops; the NaN never reaches a cost, a summary or a file."""
    images = mnist.read_data_sets("", dataset="mnist_sample").train.images
    assert (images[:, 0] == 0).all()  # the top-left pixel is blank in every training digit
    base = ["--dataset=mnist_sample", "--model=mlp", "--batch_size=10", "--keep_prob=1", f"--logdir={tmp_path}",
            "--run_name=d", "--progress=off", "--learning_rate=0.01"]
    assert run_program("train", *base, "--max_steps=10").returncode == 0
    run_dir = tmp_path / "d"
    bad = run_program("train", *base, "--max_steps=20", "--epsilon=0", "--save_every_steps=1")
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    assert "the variables became non-finite (NaN or infinite) by global step 11: mlp_model/hidden_1/W" in bad.stderr
    assert "Adam with --epsilon=0" in bad.stderr and str(run_dir / "model-checkpoint-10") in bad.stderr
    assert _assert_loadable(run_dir) == 10  # the step-11 save found the weights non-finite and did not happen
    reader = tf.train.load_checkpoint(str(run_dir / "model-checkpoint-10"))
    assert all(np.isfinite(reader.get_tensor(n)).all() for n in reader.get_variable_to_shape_map()
               if reader.get_variable_to_dtype_map()[n].is_floating)


def _idx_cases(d):
    images = pathlib.Path(d) / mnist.TRAIN_IMAGES
    good = images.read_bytes()
    raw = gzip.decompress(good)
    return {
        "missing": (images.unlink, "The mnist files train-images-idx3-ubyte.gz are not in"),
        "empty": (lambda: images.write_bytes(b""), "too short for an IDX header"),
        "truncated": (lambda: images.write_bytes(gzip.compress(raw[:-100])), "does not match the header"),
        "wrong magic": (lambda: images.write_bytes(gzip.compress(b"\0\0\x08\x01" + raw[4:])),
                        "wrong magic number 2049"),
        "wrong size": (lambda: images.write_bytes(gzip.compress(raw + b"\0" * 784)), "does not match the header"),
        "corrupt gzip": (lambda: images.write_bytes(good[:len(good) // 3]), "corrupt gzip"),
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
    ran = run_program("train", "--dataset=mnist", f"--data_dir={d}", f"--logdir={tmp_path / 'logs'}",
                      "--progress=off", "--nodownload")
    assert ran.returncode == 1
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert "train-images-idx3-ubyte.gz" in lines[0]
    assert not os.path.exists(tmp_path / "logs")  # nothing written for a run that could not start


def test_unwritable_logdir(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    ran = run_program("train", "--dataset=mnist_sample", f"--logdir={blocker}", "--max_steps=1")
    assert ran.returncode == 1 and ran.stderr.count("\n") == 1
    assert str(blocker) in ran.stderr and "cannot create the run directory" in ran.stderr


def test_full_disk_while_saving_keeps_previous_checkpoints(tmp_path):
    class FullDiskSaver:
        saver_def = types.SimpleNamespace(max_to_keep=5)

        def save(self, *args, **kwargs):
            raise tf.errors.ResourceExhaustedError(None, None, "write failed: No space left on device")

    sess = types.SimpleNamespace(graph=tf.Graph())
    (tmp_path / "model-checkpoint-5.index").write_text("previous")
    with pytest.raises(RunDirError) as e:
        checkpoints.CheckpointKeeper(FullDiskSaver(), str(tmp_path)).save(sess, 10)
    assert "disk full" in str(e.value) and "step 10" in str(e.value) and "previous checkpoints are kept" in str(e.value)
    assert (tmp_path / "model-checkpoint-5.index").read_text() == "previous"

    class ReadOnlySaver(FullDiskSaver):
        def save(self, *args, **kwargs):
            raise OSError(errno.EROFS, "Read-only file system")

    with pytest.raises(RunDirError, match="Read-only"):
        checkpoints.CheckpointKeeper(ReadOnlySaver(), str(tmp_path)).save(sess, 11)


def test_run_dir_of_another_model_is_refused(tmp_path):
    logs = tmp_path / "logs"
    first = run_program("train", "--dataset=mnist_sample", "--model=mlp", f"--logdir={logs}", "--run_name=x",
                        "--max_steps=2", "--progress=off")
    assert first.returncode == 0, first.stderr
    other = run_program("train", "--dataset=mnist_sample", "--model=mnist_conv", f"--logdir={logs}",
                        "--run_name=x", "--max_steps=2")
    assert other.returncode == 1 and "was trained with --model=mlp; this command gives --model=mnist_conv" \
        in other.stderr
    assert _assert_loadable(logs / "x") == 2


def test_a_run_resumed_with_another_output_layer_is_refused_not_restored_in_part(tmp_path):
    args = ["--dataset=mnist_sample", "--model=mlp_bn", "--hidden_units=16", f"--logdir={tmp_path}", "--run_name=x",
            "--progress=off"]
    first = run_program("train", *args, "--book_output_relu", "--max_steps=2")
    assert first.returncode == 0, first.stderr
    # Without the flag the output layer has no batch norm: its beta, gamma and averages would go unused.
    other = run_program("train", *args, "--nobook_output_relu", "--max_steps=4")
    assert other.returncode == 1 and "Traceback" not in other.stderr
    assert "was trained with --book_output_relu; this command gives --nobook_output_relu" in other.stderr
    assert _assert_loadable(tmp_path / "x") == 2
    # Without its flags.cfg, the checkpoint itself says what does not fit; nothing is restored in part.
    os.rename(tmp_path / "x" / "flags.cfg", tmp_path / "x" / "flags.cfg.kept")
    other = run_program("train", *args, "--nobook_output_relu", "--max_steps=4")
    assert other.returncode == 1 and "Traceback" not in other.stderr
    assert "in the checkpoint but not in the model: mlp_bn_model/output/beta" in other.stderr
    assert "--book_output_relu" in other.stderr
    assert _assert_loadable(tmp_path / "x") == 2
    os.rename(tmp_path / "x" / "flags.cfg.kept", tmp_path / "x" / "flags.cfg")
    # The run's flags.cfg still describes the checkpoint: resuming with it works.
    assert "--book_output_relu\n" in (tmp_path / "x" / "flags.cfg").read_text()


def _a_dead_pid():
    """A process id no process has now (never our own, never running)."""
    with open("/proc/sys/kernel/pid_max") as f:
        pid_max = int(f.read())
    for pid in range(pid_max - 1, 1, -1):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            continue
    raise AssertionError("no free pid")


def test_stale_lock_is_taken_over_and_a_live_one_is_not(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    dead = _a_dead_pid()
    (run_dir / "run.lock").write_text(f"{dead}\n")
    with rundir.RunDirLock(str(run_dir)) as lock:
        assert lock.took_over_from == dead
        assert (run_dir / "run.lock").read_text().strip() == str(os.getpid())
    assert not (run_dir / "run.lock").exists()
    (run_dir / "run.lock").write_text("1\n")  # pid 1 is always alive
    with pytest.raises(RunDirError, match=r"in use by another training run \(pid 1,"):
        rundir.RunDirLock(str(run_dir)).acquire()


@scenario
def ctrl_c_while_loading(workdir):
    """Ctrl-C while the program imports TensorFlow."""
    proc = start_module("chapter5.train", "--flagfile=quickstart.cfg", f"--logdir={workdir}")
    # Once TensorFlow's library is mapped, the program is importing it. Wherever the signal lands from
    # then on (the import, loading data, training), the program must end with 130 and no traceback.
    wait_for(lambda: "libtensorflow" in _maps(proc.pid), proc, "TensorFlow being loaded")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


@pytest.mark.background("ctrl_c_while_loading")
def test_ctrl_c_while_tensorflow_loads_ends_with_one_line_and_exit_130(background):
    returncode, out, err = background.result("ctrl_c_while_loading")
    assert returncode == 130, err
    assert "Traceback" not in err and "Interrupted" in err + out


def _maps(pid):
    try:
        return pathlib.Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return ""


@pytest.fixture(autouse=True)
def _sigint_as_python_sets_it():
    """The tests below send SIGINT to this process and check the handlers: each starts from the handler Python
    installs, whatever the shell that started pytest did (``&`` in a script, ``nohup``: SIGINT ignored), and the
    handler pytest had is put back after it."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _held_back_sigint():
    """SIGINT held back (blocked) as a program's first line holds it, and one sent meanwhile; cleared after."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        # To this thread: TensorFlow's threads, started before this test, do not hold SIGINT back (a program's
        # do: they start after its first line has blocked it, and inherit that).
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
        assert signal.SIGINT in signal.sigpending()
        yield
    finally:
        signal.sigtimedwait({signal.SIGINT}, 0)  # consumed, so that unblocking delivers nothing
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


@pytest.mark.parametrize("program", ["train", "evaluate"])
def test_a_ctrl_c_held_back_while_starting_is_taken_at_one_point(tmp_path, program, capsys):
    """The race-free start-up: wherever a Ctrl-C lands while a program starts, it waits (blocked) and is taken at
    one point: train takes it where training starts, before writing anything; the others before main."""
    from absl import flags

    from chapter5 import _cli
    module = importlib.import_module(f"chapter5.{program}")
    fv = flags.FlagValues()
    module.define_flags(fv)
    fv([program, "--dataset=mnist_sample", f"--logdir={tmp_path}", "--run_name=r",
        *(["--max_steps=2", "--progress=off"] if program == "train" else [])])
    with _held_back_sigint():
        code = _cli.guarded(module.main, [program], fv, take_signals=program != "train")
    captured = capsys.readouterr()
    assert code == 130 and "Traceback" not in captured.err
    assert captured.err == "\nInterrupted while starting; nothing was being saved at that moment.\n"
    assert os.listdir(tmp_path) == []


def test_signals_during_training_stop_it_and_after_it_interrupt_at_once():
    """The handlers of a training run: a first signal asks for a stop (also one after the last step, which
    finish() reports), a second stops at once; once training is over, a signal interrupts at once."""
    from chapter5 import interrupts

    def ctrl_c():
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
        time.sleep(0.01)  # the handler runs in this thread at its next instruction; this gives it one

    with interrupts.stop_on_signals() as stop:
        ctrl_c()
        assert stop.reason == "SIGINT"
        with pytest.raises(interrupts.StoppedAtOnce):
            ctrl_c()
        assert stop.finish() == "SIGINT"  # came before training was over: the caller saves and says so
        with pytest.raises(KeyboardInterrupt) as e:
            ctrl_c()
        assert type(e.value) is KeyboardInterrupt
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
