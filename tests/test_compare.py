"""Every comparison suite runs at smoke size (--quick) offline and writes its results table."""

import csv

from conftest import run_module
from chapter5.compare import OFFLINE_SUITES, SUITES


def test_all_suites_quick(tmp_path):
    proc = run_module("chapter5.compare", "--suite=all", "--quick", "--jobs=2", f"--logdir={tmp_path}",
                      timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for suite in OFFLINE_SUITES:
        _, _, configs = SUITES[suite]
        table = (tmp_path / suite / "results.md").read_text()
        for name, _ in configs:
            assert f"| {name} |" in table
        assert "failed" not in table
        with open(tmp_path / suite / "results.csv") as f:
            rows = list(csv.DictReader(f))
        assert [r["config"] for r in rows] == [name for name, _ in configs]
        assert all(0.0 <= float(r["test_accuracy"]) <= 1.0 and r["global_step"] == "3" for r in rows)


def test_seeds_give_mean_and_spread(tmp_path):
    proc = run_module("chapter5.compare", "--suite=lenet5_bn", "--quick", "--seeds=2", "--jobs=2", f"--logdir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    table = (tmp_path / "lenet5_bn" / "results.md").read_text()
    assert table.count("±") >= 4 and "| 2 |" in table
    assert (tmp_path / "lenet5_bn" / "lenet5_seed1" / "results.json").exists()


def test_cifar_batch_norm_suite_on_cifar_format_files(tmp_path):
    from test_cifar10 import write_cifar
    write_cifar(str(tmp_path / "cifar"), per_file=40, test=50)
    proc = run_module("chapter5.compare", "--suite=cifar_batch_norm", "--quick", "--jobs=2",
                      f"--data_dir={tmp_path / 'cifar'}", f"--logdir={tmp_path / 'logs'}")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    table = (tmp_path / "logs" / "cifar_batch_norm" / "results.md").read_text()
    assert "| cifar_conv |" in table and "| cifar_conv_bn |" in table and "failed" not in table
    assert (tmp_path / "logs" / "cifar_batch_norm" / "cifar_conv_bn" / "results.json").exists()
