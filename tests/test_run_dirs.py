"""Run directories a reader can trust: what a resume checks, epochs across interruptions, results.json's history.

Every program runs in this process on tiny generated data (docs/reliability.md).
"""

import json
import re
import shutil

import pytest
from conftest import run_program, write_mnist_format


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_mnist_format(str(tmp_path_factory.mktemp("rundirs") / "data"), n_train=300, n_test=60)


def _args(data_dir, logdir, *more):
    return [f"--data_dir={data_dir}", "--dataset=mnist", "--model=mlp", "--hidden_units=32", "--batch_size=50",
            "--validation_size=50", f"--logdir={logdir}", "--run_name=r", "--progress=off", "--seed=3",
            "--eval_batch_size=100", "--keep_prob=1", *more]


def _epoch_costs(out):
    return re.findall(r"^Epoch: (\d{4}) cost = (\d+\.\d{9})(.*)$", out, re.M)


@pytest.fixture(scope="module")
def one_epoch(data_dir, tmp_path_factory):
    logs = tmp_path_factory.mktemp("one_epoch")
    assert run_program("train", *_args(data_dir, logs, "--training_epochs=1")).returncode == 0
    return logs / "r"


def test_rerunning_a_finished_run_keeps_its_numbers(data_dir, one_epoch, tmp_path):
    shutil.copytree(one_epoch, tmp_path / "r")
    before = json.loads((tmp_path / "r" / "results.json").read_text())
    again = run_program("train", *_args(data_dir, tmp_path, "--training_epochs=1"))
    assert again.returncode == 0 and "1 of 1 epochs done" in again.stdout
    after = json.loads((tmp_path / "r" / "results.json").read_text())
    for key in ("epoch", "cost", "validation_error", "epoch_seconds", "train_seconds", "test_accuracy"):
        assert after[key] == before[key], key
    assert before["train_seconds"] > 0 and len(after["invocations"]) == 2


def test_an_epoch_cut_short_says_so_and_a_resumed_epoch_averages_all_its_steps(data_dir, tmp_path):
    whole = run_program("train", *_args(data_dir, tmp_path / "whole", "--training_epochs=1"))
    assert whole.returncode == 0, whole.stderr
    [(_, whole_cost, mark)] = _epoch_costs(whole.stdout)
    assert mark == ""  # the book's line, as printed, for a whole epoch
    cut = run_program("train", *_args(data_dir, tmp_path / "cut", "--training_epochs=1", "--max_steps=3"))
    assert cut.returncode == 0, cut.stderr
    [(epoch, cut_cost, mark)] = _epoch_costs(cut.stdout)
    assert epoch == "0001" and mark == " (3 of 5 steps: stopped at --max_steps=3)"
    resumed = run_program("train", *_args(data_dir, tmp_path / "cut", "--training_epochs=1"))
    assert resumed.returncode == 0, resumed.stderr
    [(epoch, resumed_cost, mark)] = _epoch_costs(resumed.stdout)
    # The resumed epoch's cost covers its 3 + 2 steps: the same as the epoch trained in one go.
    assert epoch == "0001" and mark == "" and float(resumed_cost) == pytest.approx(float(whole_cost), rel=1e-5)
    results = json.loads((tmp_path / "cut" / "r" / "results.json").read_text())
    assert results["epoch"] == [1] and results["cost"] == [pytest.approx(float(resumed_cost), abs=1e-9)]
    assert [(i["from_step"], i["to_step"]) for i in results["invocations"]] == [(0, 3), (3, 5)]


@pytest.mark.parametrize("changed", ["--dataset=mnist_sample", "--batch_size=25", "--hidden_units=64",
                                     "--validation_size=100", "--optimizer=sgd", "--weight_init=he_normal"])
def test_a_resume_that_would_change_what_the_run_is_is_refused(data_dir, one_epoch, tmp_path, changed):
    shutil.copytree(one_epoch, tmp_path / "r")
    args = _args(data_dir, tmp_path, "--training_epochs=2")
    saved = (tmp_path / "r" / "flags.cfg").read_text()
    ran = run_program("train", *args, changed)
    assert ran.returncode == 1 and ran.stderr.count("\n") == 1 and "Resuming" not in ran.stdout
    name, value = changed[2:].split("=")
    assert re.search(rf"{tmp_path}/r was trained with .*--{name}=\S+; this command gives .*--{name}={value}",
                     ran.stderr), ran.stderr
    assert "choose another --run_name" in ran.stderr
    assert (tmp_path / "r" / "flags.cfg").read_text() == saved  # no history that did not happen
    if changed == "--hidden_units=64":  # other weights: only a new run is offered
        assert "--init_checkpoint" not in ran.stderr
        return
    assert f"--init_checkpoint={tmp_path}/r/model-checkpoint-5" in ran.stderr
    if changed == "--dataset=mnist_sample":
        # What the message offers works: a new run from these weights, on purpose.
        new = run_program("train", *args, changed, "--max_steps=6", "--run_name=r2",
                          f"--init_checkpoint={tmp_path}/r/model-checkpoint-5")
        assert new.returncode == 0 and "Starting from" in new.stdout, new.stderr


def test_flags_that_do_not_define_the_run_may_change_on_resume(data_dir, one_epoch, tmp_path):
    shutil.copytree(one_epoch, tmp_path / "r")
    ran = run_program("train", *_args(data_dir, tmp_path), "--training_epochs=2", "--learning_rate=3e-4",
                      "--keep_prob=0.8", "--data_dir=" + data_dir + "/")
    assert ran.returncode == 0, ran.stderr
    assert "Resuming from" in ran.stdout and "--learning_rate=0.0003" in (tmp_path / "r" / "flags.cfg").read_text()
