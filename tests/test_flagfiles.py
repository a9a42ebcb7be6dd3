"""Flagfiles as readers' editors save them (chapter5.flagfiles): read the same in UTF-8 with or without a BOM,
UTF-16 with a BOM and with CRLF line ends; CP949, Latin-1 and binary files refused with one line naming the
file, on the command line, nested in another flagfile and as a run's flags.cfg, by every program."""

import shutil
import sys

import pytest
from absl import flags
from conftest import run_program

from chapter5 import _cli, flagfiles, train

TEXT = "# 딥러닝의 정석 5장: 다층 퍼셉트론\n--model=mlp\n--run_name=딥러닝_실행\n\n// a comment\n--training_epochs=2\n"
EXPECTED = ["--model=mlp", "--run_name=딥러닝_실행", "--training_epochs=2"]

SAVED_AS = {
    "utf8": TEXT.encode("utf-8"),
    "utf8_bom": TEXT.encode("utf-8-sig"),
    "utf16_bom": TEXT.encode("utf-16"),
    "utf16_be_bom": b"\xfe\xff" + TEXT.encode("utf-16-be"),
    "crlf": TEXT.replace("\n", "\r\n").encode("utf-8"),
}

NOT_TEXT = {
    "cp949": (TEXT.encode("cp949"), "not UTF-8 text (byte 0x"),
    "latin1": ("# Réglages de l'été\n--model=mlp\n".encode("latin-1"), "not UTF-8 text (byte 0xe9"),
    "binary": (b"--model=mlp\n\x00\x01\x02\xff\xfe\x00", "not a flagfile (it holds binary data"),
}

PROGRAMS = ["train", "evaluate", "predict", "export", "compare", "benchmark", "draw.__main__", "notebooks.__main__"]


@pytest.mark.parametrize("encoding", SAVED_AS)
def test_a_flagfile_reads_the_same_however_an_editor_saved_it(tmp_path, encoding):
    (tmp_path / "kr.cfg").write_bytes(SAVED_AS[encoding])
    assert flagfiles.expand([f"--flagfile={tmp_path / 'kr.cfg'}", "--seed=3"]) == [*EXPECTED, "--seed=3"]
    fv = flags.FlagValues()
    train.define_flags(fv)
    fv(["chapter5.train", *flagfiles.expand(["--flagfile", str(tmp_path / "kr.cfg")])])
    assert (fv.model, fv.run_name, fv.training_epochs) == ("mlp", "딥러닝_실행", 2)


@pytest.mark.parametrize("program", PROGRAMS)
@pytest.mark.parametrize("kind", NOT_TEXT)
def test_a_flagfile_that_is_not_text_is_one_line_naming_it_for_every_program(tmp_path, program, kind):
    data, problem = NOT_TEXT[kind]
    (tmp_path / "bad.cfg").write_bytes(data)
    ran = run_program(program, f"--flagfile={tmp_path / 'bad.cfg'}", f"--logdir={tmp_path / 'logs'}")
    assert ran.returncode == 1 and "Traceback" not in ran.stderr
    assert ran.stderr.startswith(f"error: {tmp_path / 'bad.cfg'}: {problem}") and ran.stderr.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.cfg"]  # nothing written


def test_a_bad_flagfile_nested_in_a_good_one_is_the_one_named(tmp_path):
    (tmp_path / "bad.cfg").write_bytes(NOT_TEXT["cp949"][0])
    (tmp_path / "good.cfg").write_text(f"--model=mlp\n--flagfile={tmp_path / 'bad.cfg'}\n", encoding="utf-8")
    ran = run_program("train", f"--flagfile={tmp_path / 'good.cfg'}", f"--logdir={tmp_path / 'logs'}")
    assert ran.returncode == 1 and ran.stderr.startswith(f"error: {tmp_path / 'bad.cfg'}: not UTF-8 text")
    (tmp_path / "loop.cfg").write_text(f"--flagfile={tmp_path / 'loop.cfg'}\n", encoding="utf-8")
    ran = run_program("train", f"--flagfile={tmp_path / 'loop.cfg'}")
    assert ran.returncode == 1 and "includes itself" in ran.stderr and ran.stderr.count("\n") == 1


def test_the_command_line_itself_gives_the_same_line(tmp_path, monkeypatch, capsys):
    """_cli.run, what `python -m chapter5.<program>` runs: the flagfile is read before absl parses."""
    from chapter5 import evaluate

    (tmp_path / "bad.cfg").write_bytes(NOT_TEXT["cp949"][0])
    monkeypatch.setattr(sys, "argv", ["chapter5/evaluate.py", f"--flagfile={tmp_path / 'bad.cfg'}"])
    monkeypatch.setattr(flags, "FLAGS", flags.FlagValues())  # the global flags, fresh for this test
    with pytest.raises(SystemExit) as ended:
        _cli.run(evaluate.define_flags, evaluate.main)
    assert ended.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path / 'bad.cfg'}: not UTF-8 text") and err.count("\n") == 1


@pytest.mark.parametrize("kind", ["cp949", "binary"])
def test_a_runs_own_flags_cfg_not_in_utf8_is_named_as_flagfile_and_as_run(sample_run, tmp_path, kind):
    run_dir, _ = sample_run
    copy = tmp_path / "logs" / "quickstart"  # the run's record only: the programs stop at its flags
    copy.mkdir(parents=True)
    shutil.copy(run_dir / "checkpoint", copy)
    (copy / "flags.cfg").write_bytes(NOT_TEXT[kind][0])
    before = sorted(p.name for p in copy.iterdir())
    for program, args in (("train", [f"--flagfile={copy / 'flags.cfg'}", f"--logdir={tmp_path / 'logs'}"]),
                          ("evaluate", [f"--logdir={tmp_path / 'logs'}", "--run_name=quickstart"]),
                          ("predict", [f"--logdir={tmp_path / 'logs'}", "--run_name=quickstart", "x.png"])):
        ran = run_program(program, *args)
        assert ran.returncode == 1 and "Traceback" not in ran.stderr and ran.stderr.count("\n") == 1, ran.stderr
        assert ran.stderr.startswith(f"error: {copy / 'flags.cfg'}: {NOT_TEXT[kind][1]}"), ran.stderr
    assert sorted(p.name for p in copy.iterdir()) == before
