"""The benchmark runs at tiny size (so it never rots) and reports every figure of its table.

This is the program's one run as a reader runs it (its own process, started in the background at the
beginning of the session); its full-epoch figure starts a chapter5.train process of its own.
"""

import json

import pytest
from conftest import run_module, scenario


@scenario
def quick_benchmark(workdir):
    out = workdir / "bench.json"
    return out, run_module("chapter5.benchmark", "--quick", f"--json={out}", "--batch_sizes=100", cwd=str(workdir))


@pytest.mark.background("quick_benchmark")
def test_quick_benchmark_reports_every_figure(background):
    out, proc = background.result("quick_benchmark")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    results = json.loads(out.read_text())
    train = results["train"]["100"]
    for key in ("dlfund_images_per_s", "keras_images_per_s", "ratio_vs_keras", "fraction_of_roofline"):
        assert train[key] > 0, key
    assert results["roofline_gflops"] > 0 and results["eval_images_per_s"] > 0
    assert results["memory_bandwidth_gb_s"] > 0 and results["fast_matmul_grad_speedup"]["median"] > 0
    assert results["cifar_distorted_inputs_images_per_s"] > 0 and results["cifar_conv_train_images_per_s"] > 0
    epoch = results["epoch"]
    assert epoch["steps"] == 5 and 0 < epoch["startup_seconds"] < epoch["wall_seconds"]
    assert epoch["peak_rss_mb"] > 50 and epoch["overhead_ratio"] > 0
    # 2 * MACs: conv_1 1.25M + conv_2 20.1M + fc 6.4M + output 0.02M forward.
    assert results["flops_per_image"]["forward"] == 27_767_808
    assert "train batch 100: dlfund" in proc.stdout and "matmul roofline" in proc.stdout
    assert results["machine"]["instruction_set"] in proc.stdout.splitlines()[0]
    # The step's time breakdown from TF's trace: every op lands in a kind, the big ones are named.
    breakdown = train["breakdown"]
    kinds = breakdown["kinds_ms"]
    assert set(kinds) == {"conv and matmul", "optimizer update", "pooling", "element-wise and other"}
    assert all(ms > 0 for ms in kinds.values()), kinds
    assert abs(sum(kinds.values()) - breakdown["ops_ms"]) < 0.2 * breakdown["ops_ms"]
    assert any("conv_2" in name and "BackpropFilter" in name for name in breakdown["largest_ops_ms"])
    assert abs(sum(breakdown["kinds_share"].values()) - 1) < 0.05
    assert breakdown["ceiling_fraction_of_roofline"] > train["fraction_of_roofline"]
    assert "if only the convolutions and matrix products took time" in proc.stdout


def test_the_instruction_set_is_read_from_the_cpu_and_the_limits_from_the_environment(tmp_path, monkeypatch):
    from chapter5 import benchmark

    (tmp_path / "cpuinfo").write_text("processor : 0\nflags : fpu sse4_2 avx avx2 fma\n")
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    assert benchmark.instruction_set(str(tmp_path / "cpuinfo")) == "AVX2"
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_max_isa=AVX2")
    (tmp_path / "cpuinfo").write_text("flags : avx2 avx512f avx512bw\n")
    assert benchmark.instruction_set(str(tmp_path / "cpuinfo")) == \
        "AVX-512 (limited: ONEDNN_MAX_CPU_ISA=AVX2, --xla_cpu_max_isa=AVX2)"
