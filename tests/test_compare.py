"""chapter5.compare: the suites' definitions and tables in this process, real --quick runs of suites."""

import csv
import os
import shlex

from absl import flags
from conftest import run_program

from chapter5 import compare


def _fv(*args):
    fv = flags.FlagValues()
    compare.define_flags(fv)
    fv(["compare", *args])
    return fv


def test_every_suite_defines_distinct_runs_with_valid_train_flags():
    from chapter5 import train
    fv = _fv("--suite=all", "--quick", "--seeds=2")
    for suite in compare.SUITES:
        jobs = compare.suite_jobs(suite, fv)
        names = [run for _, _, run, _ in jobs]
        assert len(names) == len(set(names)) == 2 * len(compare.SUITES[suite][2])
        for _, seed, _, args in jobs:
            parsed = flags.FlagValues()
            train.define_flags(parsed)
            parsed(["train", *args])  # raises on a flag train does not know or a bad value
            assert parsed.seed == seed and parsed.max_steps == 3
    # The CIFAR suite runs the shipped flagfiles, wherever the command runs.
    cifar = compare.suite_jobs("cifar_batch_norm", fv)[0][3]
    assert os.path.isabs(cifar[1].split("=", 1)[1]) and os.path.exists(cifar[1].split("=", 1)[1])


def test_table_gives_mean_spread_and_failures(tmp_path):
    rows = [{"config": "a", "run": "a_seed0", "test_accuracy": 0.9, "test_cost": 0.3, "train_seconds": 2.0,
             "global_step": 3, "cost": [1.0, 0.5]},
            {"config": "a", "run": "a_seed1", "test_accuracy": 0.8, "test_cost": 0.5, "train_seconds": 4.0,
             "global_step": 3, "cost": [2.0, 1.5]},
            {"config": "b", "run": "b", "error": "it broke", "wall_seconds": 1.0}]
    table = compare.summarize("s", "A suite", [("a", ["--x=1"]), ("b", ["--x=2"])], rows, str(tmp_path), ["--y"])
    assert "| a | `--x=1` | 0.8500 ± 0.0707 | 0.4000 ± 0.1414 | 3.0 | 1.500 1.000 | 2 |" in table
    assert "| b | `--x=2` | failed: it broke |" in table and "smoke" not in table
    with open(tmp_path / "results.csv") as f:
        assert [r["run"] for r in csv.DictReader(f)] == ["a_seed0", "a_seed1", "b"]
    rows[1]["invocations"] = [{}, {}]  # a_seed1 was resumed
    assert "| a (resumed) | `--x=1` |" in compare.summarize("s", "A suite", [("a", ["--x=1"])], rows[:2],
                                                              str(tmp_path), [])


def test_a_suite_quick_in_process(tmp_path):
    ran = run_program("compare", "--suite=shuffle", "--quick", "--jobs=2", f"--logdir={tmp_path}")
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    _, _, configs = compare.SUITES["shuffle"]
    # Smoke runs have directories of their own, and their table says what it is.
    assert not (tmp_path / "shuffle").exists()
    table = (tmp_path / "shuffle_quick" / "results.md").read_text()
    assert table.startswith("# Suite `shuffle` (smoke run)") and compare.SMOKE_NOTE in table
    assert "failed" not in table and all(f"| {name} |" in table for name, _ in configs)
    with open(tmp_path / "shuffle_quick" / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["config"] for r in rows] == [name for name, _ in configs]
    assert all(0.0 <= float(r["test_accuracy"]) <= 1.0 and r["global_step"] == "3" for r in rows)
    assert "--sort_by_label" in (tmp_path / "shuffle_quick" / "sorted_by_label" / "flags.cfg").read_text()
    # Each run records the command that reproduces it: its own flags, not the command that started compare.
    info = (tmp_path / "shuffle_quick" / "sorted_by_label" / "run_info.txt").read_text()
    command = shlex.split(next(line for line in info.splitlines() if line.startswith("command: "))[9:])
    assert command[:3] == ["python", "-m", "chapter5.train"]
    again = compare.train_flags(command[3:])
    assert again.sort_by_label and again.max_steps == 3 and again.model == "mlp" and again.learning_rate == 0.05
    assert (again.logdir, again.run_name) == (str(tmp_path / "shuffle_quick"), "sorted_by_label")


def test_a_failing_run_is_reported_in_the_table(tmp_path):
    ran = run_program("compare", "--suite=lenet5_bn", "--quick", f"--logdir={tmp_path}",
                      "--extra=--batch_size=100000")
    assert ran.returncode == 1
    table = (tmp_path / "lenet5_bn_quick" / "results.md").read_text()
    assert table.count("failed: --batch_size=100000 is larger than the training set") == 2


def test_a_suite_whose_data_is_missing_stops_before_any_run_with_one_message(tmp_path):
    ran = run_program("compare", "--suite=cifar_batch_norm", "--quick", f"--data_dir={tmp_path / 'none'}",
                      f"--logdir={tmp_path / 'logs'}", "--extra=--nodownload")
    assert ran.returncode == 1 and ran.stderr.count("\n") == 1, ran.stderr
    assert ran.stderr.startswith(f"error: CIFAR-10 is not in {tmp_path / 'none'}")
    assert not (tmp_path / "logs" / "cifar_batch_norm_quick").exists()
