"""Every file a run directory holds, damaged, read as it is: one line naming it and what to do, nothing else in
the directory changed; run names that stay inside --logdir (docs/reliability.md)."""

import hashlib
import os
import shutil

import pytest
from conftest import run_program

ARGS = ["--dataset=mnist_sample", "--model=mlp", "--hidden_units=16", "--progress=off", "--run_name=r"]
GARBAGE = bytes(range(128, 256)) * 3  # not UTF-8 text


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    logs = tmp_path_factory.mktemp("trained")
    ran = run_program("train", *ARGS, f"--logdir={logs}", "--max_steps=3")
    assert ran.returncode == 0, ran.stderr
    return logs / "r"


def _copy(trained, tmp_path):
    shutil.copytree(trained, tmp_path / "r")
    return tmp_path / "r"


def _digests(run_dir):
    return {name: hashlib.sha256((run_dir / name).read_bytes()).hexdigest() for name in sorted(os.listdir(run_dir))}


@pytest.mark.parametrize("damage", [GARBAGE, b"--model=mlp\n" + GARBAGE], ids=["binary", "text, then binary"])
def test_a_flags_cfg_that_is_not_text_is_named_and_nothing_changes(trained, tmp_path, damage):
    run_dir = _copy(trained, tmp_path)
    (run_dir / "flags.cfg").write_bytes(damage)
    before = _digests(run_dir)
    for program, args in (("train", [*ARGS, "--max_steps=6"]), ("evaluate", ["--run_name=r"])):
        ran = run_program(program, *args, f"--logdir={tmp_path}")
        assert ran.returncode == 1 and ran.stderr.count("\n") == 1 and "Traceback" not in ran.stderr, ran.stderr
        assert ran.stderr.startswith(f"error: {run_dir / 'flags.cfg'}: not UTF-8 text (byte 0x")
        assert "Restore it from a copy, or move it away and give the run's flags" in ran.stderr
        assert _digests(run_dir) == before


@pytest.mark.parametrize("damage", [b'{"epoch": [1, 2', GARBAGE, b"[1, 2, 3]"], ids=["cut short", "binary", "a list"])
def test_a_damaged_results_json_is_named_and_kept(trained, tmp_path, damage):
    run_dir = _copy(trained, tmp_path)
    (run_dir / "results.json").write_bytes(damage)
    before = _digests(run_dir)
    ran = run_program("train", *ARGS, f"--logdir={tmp_path}", "--max_steps=6")
    assert ran.returncode == 1 and ran.stderr.count("\n") == 1 and "Traceback" not in ran.stderr, ran.stderr
    assert f"{run_dir / 'results.json'} is damaged" in ran.stderr and "nothing was changed" in ran.stderr
    assert "move it away and train on" in ran.stderr
    assert _digests(run_dir) == before  # its history is not overwritten


def test_damaged_files_a_resume_can_do_without_are_named_and_it_goes_on(trained, tmp_path):
    run_dir = _copy(trained, tmp_path)
    for name in ("checkpoint", "model-checkpoint-3.progress.json", "run.lock", "run_info.txt"):
        (run_dir / name).write_bytes(GARBAGE)
    ran = run_program("train", *ARGS, f"--logdir={tmp_path}", "--max_steps=6")
    assert ran.returncode == 0 and "Traceback" not in ran.stderr, ran.stderr
    out = ran.stdout
    assert f"Took over {run_dir}: its lock file {run_dir / 'run.lock'} was damaged (it named no process)." in out
    assert f"Note: {run_dir / 'checkpoint'}, the checkpoint state file, is damaged (" in out
    assert f"Note: {run_dir / 'model-checkpoint-3.progress.json'} is damaged;" in out
    assert f"Resuming from {run_dir / 'model-checkpoint-3'} (global step 3," in out
    # Each is written anew: the state file names the new checkpoint, run_info.txt is text again.
    assert '"model-checkpoint-6"' in (run_dir / "checkpoint").read_text()
    assert "evaluate:" in (run_dir / "run_info.txt").read_text() and not (run_dir / "run.lock").exists()


@pytest.mark.parametrize("name", ["../escaped", "a/../../escaped", "ABSOLUTE", "."])
def test_a_run_name_that_leaves_the_logdir_is_refused(tmp_path, name):
    logs = tmp_path / "runs"
    name = str(tmp_path / "escaped") if name == "ABSOLUTE" else name
    for program in ("train", "evaluate"):
        ran = run_program(program, "--dataset=mnist_sample", f"--logdir={logs}", f"--run_name={name}")
        assert ran.returncode == 1 and ran.stderr.startswith("FATAL Flags parsing error: flag --run_name=")
        assert "--run_name must name a directory inside --logdir" in ran.stderr
    assert os.listdir(tmp_path) == []
