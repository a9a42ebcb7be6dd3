"""Each program run once as a reader runs it: its own process, started outside the repository, the shipped
flagfiles found by name, nothing of TensorFlow's start-up noise in the output.

Everything else about the programs is tested in this process (test_train.py, test_use_model.py,
test_compare.py, test_benchmark.py); these runs are only what needs the real command line.
"""

import collections
import importlib
import json
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from absl import flags
from conftest import REPO, finish, scenario, start_module, write_cifar
from test_train import event_tags

from chapter5 import _cli


def _finish(proc: subprocess.Popen):
    return finish(proc, " ".join(proc.args[3:5]))


@scenario
def reader_session(workdir):
    """The quickstart's first epoch, then evaluated and used on an image, as README.md shows (its command, in a
    new directory; the progress bar shown, which goes to stderr). All ten epochs would add 20 s to the suite."""
    runs = {}
    runs["train"] = _finish(start_module("chapter5.train", "--flagfile=chapter5/flags/quickstart.cfg",
                                         "--training_epochs=1", "--progress=on", cwd=str(workdir)))
    image = np.full((60, 40, 1), 255, np.uint8)
    image[10:50, 18:22] = 0
    (workdir / "one.png").write_bytes(tf.io.encode_png(image).numpy())
    evaluate = start_module("chapter5.evaluate", "--logdir=logs", "--run_name=quickstart", "--projector_examples=50",
                            cwd=str(workdir))
    predict = start_module("chapter5.predict", "--logdir=logs", "--run_name=quickstart", "one.png", cwd=str(workdir))
    export = start_module("chapter5.export", "--logdir=logs", "--run_name=quickstart", "--format=tflite",
                          "--output=q.tflite", cwd=str(workdir))
    runs["evaluate"], runs["predict"], runs["export"] = _finish(evaluate), _finish(predict), _finish(export)
    runs["draw"] = _serve_and_stop(workdir)
    return workdir, runs


def _serve_and_stop(workdir):
    """``python -m chapter5.draw --logdir=logs`` as README.md shows it (on a free port): its first line, the page,
    the runs and one answer over HTTP, then Ctrl-C."""
    import signal
    import urllib.request

    proc = start_module("chapter5.draw", "--logdir=logs", "--port=0", cwd=str(workdir))
    try:
        first = proc.stdout.readline()
        url = re.search(r"at (http://\S+/)", first).group(1)
        page = urllib.request.urlopen(url, timeout=60).read().decode()
        runs = json.loads(urllib.request.urlopen(url + "api/runs", timeout=60).read())
        request = urllib.request.Request(url + "api/read?run=quickstart", data=(workdir / "one.png").read_bytes())
        answer = json.loads(urllib.request.urlopen(request, timeout=60).read())
    finally:
        proc.send_signal(signal.SIGINT)  # its SIGINT handler is Python's, whatever pytest's is (conftest.Children)
        code, out, err = finish(proc, "python -m chapter5.draw after Ctrl-C", timeout=300)
    return code, first + out, err, page, runs, answer


@pytest.mark.background("reader_session")
def test_train_command(background):
    workdir, runs = background.result("reader_session")
    code, out, err = runs["train"]
    assert code == 0, err
    # The README's sample output is what the command prints: its first epoch's lines in form, their numbers as
    # the README gives them up to the CPU's rounding (oneDNN's kernels differ between CPUs: one CPU prints the
    # cost 1.088558870 where another prints 1.088580891); its last lines in form, their accuracy being the one
    # the README's and docs/performance.md's tables give.
    readme = (pathlib.Path(REPO) / "README.md").read_text(encoding="utf-8")
    sample = re.search(r"prints the book's lines:\n\n```\n(.*?)```", readme, re.S).group(1).splitlines()
    head, tail = sample[:sample.index("...")], sample[sample.index("...") + 1:]
    lines = out.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("Epoch: 0001"))
    printed = lines[first:first + len(head)]

    def form(sample_lines):
        return [re.sub(r"\d", "0", line) for line in sample_lines]

    assert form(printed) == form(head), out
    number = re.compile(r"\d+\.\d+")
    cost, error = (float(number.search(line).group()) for line in printed)
    book_cost, book_error = (float(number.search(line).group()) for line in head)
    assert abs(cost - book_cost) < 1e-4, out
    assert abs(error - book_error) <= 2 / 500 + 1e-9, out  # two of the 500 validation images
    assert form(lines[-len(tail):]) == form(tail)
    accuracy = tail[-1].split(": ")[1][:5]
    performance = (pathlib.Path(REPO) / "docs" / "performance.md").read_text(encoding="utf-8")
    assert f"| `quickstart.cfg` | bundled sample (1,000 test digits) | {accuracy} |" in readme
    assert re.search(rf"^\| `quickstart.cfg`.*\| {accuracy} \|", performance, re.M)
    assert "steps" in err and "img/s" in err  # the progress bar, asked for
    noise = [line for line in err.replace("\r", "\n").splitlines() if line.strip() and "steps" not in line]
    assert noise == [], noise
    assert (workdir / "logs" / "quickstart" / "model-checkpoint-35.index").exists()


@pytest.mark.background("reader_session")
def test_evaluate_command_reports_what_training_reported(background):
    _, runs = background.result("reader_session")
    code, out, err = runs["evaluate"]
    assert code == 0 and err == "", err
    trained = re.search(r"^Test Accuracy: (\S+)$", runs["train"][1], re.M).group(1)
    assert f"Test Accuracy: {trained}" in out and "projector of 50 test images" in out


@pytest.mark.background("reader_session")
def test_predict_command(background):
    _, runs = background.result("reader_session")
    code, out, err = runs["predict"]
    assert code == 0 and err == "", err
    assert re.search(r"^one\.png: predicted \d \(probability \d\.\d{3}\)$", out, re.M)


@pytest.mark.background("reader_session")
def test_draw_command_serves_the_page_and_stops_on_ctrl_c(background):
    _, runs = background.result("reader_session")
    code, out, err, page, listed, answer = runs["draw"]
    assert out.startswith("Serving the runs in logs at http://127.0.0.1:") and "(Ctrl-C to stop)" in out
    assert '<canvas id="canvas"' in page and [r["name"] for r in listed["runs"]] == ["quickstart"]
    assert answer["answer"] == 1 and answer["checkpoint"] == listed["runs"][0]["checkpoints"][-1]
    assert code == 130 and err.strip() == "Interrupted; nothing was being saved at that moment."


@pytest.mark.background("reader_session")
def test_export_command(background):
    workdir, runs = background.result("reader_session")
    code, out, err = runs["export"]
    assert code == 0 and err == "", err
    assert "Wrote q.tflite (tflite): mnist_conv from logs/quickstart/model-checkpoint-35." in out
    assert "Input x: float32 [None, 784]; output: probabilities float32 [None, 10]." in out
    assert (workdir / "q.tflite").stat().st_size > 1_000_000


@scenario
def cifar_suite_from_elsewhere(workdir):
    write_cifar(str(workdir / "cifar"), per_file=40, test=50)
    return workdir, _finish(start_module("chapter5.compare", "--suite=cifar_batch_norm", "--quick",
                                         "--data_dir=cifar", "--logdir=logs", "--extra=--batch_size=20",
                                         cwd=str(workdir)))


@pytest.mark.background("cifar_suite_from_elsewhere")
def test_compare_command_trains_both_cifar_listings_from_another_directory(background):
    """The suite's shipped flagfiles are found; each CIFAR-10 listing trains, validates on held-out training
    records, tests, and shows its augmented images in TensorBoard."""
    workdir, (code, out, err) = background.result("cifar_suite_from_elsewhere")
    assert code == 0 and err == "", out[-2000:] + err[-2000:]
    suite = workdir / "logs" / "cifar_batch_norm_quick"
    table = (suite / "results.md").read_text()
    assert "| cifar_conv |" in table and "| cifar_conv_bn |" in table and "failed" not in table
    for model in ("cifar_conv", "cifar_conv_bn"):
        results = json.loads((suite / model / "results.json").read_text())
        assert results["model"] == model and results["global_step"] == 3 and len(results["validation_error"]) == 1
        assert (suite / model / "model-checkpoint-3.index").exists()
        tags = event_tags(str(suite / model))
        for tag in ("original_images", "augmented_images", "distorted_images", "filters"):
            assert any(tag in t for t in tags), tag


def test_every_program_imports_into_one_process_and_defines_its_flags_only_when_asked():
    programs = [importlib.import_module(f"chapter5.{name}")
                for name in ("train", "evaluate", "predict", "compare", "benchmark", "draw.__main__")]
    for program in programs:
        fv = flags.FlagValues()
        program.define_flags(fv)
        assert "verbose" in fv and "debug" in fv
    # Nothing was defined on absl's global flags by importing them.
    assert not {"model", "logdir", "suite", "quick", "verbose"} & set(flags.FLAGS)


def test_every_flag_is_defined_once_and_the_argument_check_written_once():
    definitions, checks = collections.Counter(), 0
    for path in pathlib.Path(REPO, "chapter5").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        definitions.update(re.findall(r'DEFINE_\w+\(\s*"(\w+)"', text))
        checks += text.count("unexpected arguments")
    assert definitions and [name for name, n in definitions.items() if n > 1] == []
    assert checks == 1


@pytest.mark.parametrize("name", ["train", "evaluate", "predict", "export", "compare", "benchmark", "draw.__main__"])
def test_helpshort_lists_every_flag_of_the_program_truthfully(name, monkeypatch, capsys):
    program = importlib.import_module(f"chapter5.{name}")
    monkeypatch.setattr(sys, "argv", [f"chapter5/{name}.py", "--helpshort"])
    with pytest.raises(SystemExit) as ended:
        _cli.run(program.define_flags, program.main)
    assert ended.value.code == 0
    text = capsys.readouterr().out
    fv = flags.FlagValues()
    program.define_flags(fv)
    listed = re.findall(r"^  --(?:\[no\])?(\w+)$", text, re.M)
    assert listed == sorted(fv) and "/" not in text.split("Flags of", 1)[1].splitlines()[0]
    words = set(re.findall(r"\w+", text))
    for flag in fv:  # every choice of an enum flag is written whole, never wrapped inside
        for value in getattr(fv[flag].parser, "enum_values", None) or []:
            assert value in words or not value, (flag, value)
    if name in ("evaluate", "predict", "export"):
        assert not {"augment", "validation_size", "book_validation_on_test", "learning_rate"} & set(listed)
        assert "to train" not in text and "Default: the run's own" in text
    if name == "predict":
        assert not {"download", "data_dir"} & set(listed)
