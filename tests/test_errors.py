"""dlfund's errors carry their data and speak Python; the command line turns them into flag advice in one place."""

import ast
import inspect
import pathlib
import re

import pytest
from absl import flags
from conftest import REPO

from chapter5 import _cli, train
from dlfund import errors
from dlfund.data import cifar10, mnist

FLAG = re.compile(r"--[a-z][a-z_]+")


def _message_strings(tree):
    """Every string of a module but its docstrings (which may name the flag a name is known by)."""
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.body
                  and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    return [n.value for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings]


def test_no_message_the_library_makes_names_a_command_line_flag():
    """Raised or built for raising (the f-string parts included): the library speaks of Python arguments. On the
    code before, this found seven (--model, --hidden_units, --book_output_relu, --init_checkpoint, --logdir,
    --run_name in checkpoints.py; --dataset in mnist.py and cifar10.py)."""
    found = []
    for path in sorted(pathlib.Path(REPO, "dlfund").rglob("*.py")):
        strings = _message_strings(ast.parse(path.read_text(encoding="utf-8")))
        found += [f"{path.name}: {s!r}" for s in strings if FLAG.search(s)]
    assert found == []


def _train_flags(tmp_path):
    fv = flags.FlagValues()
    train.define_flags(fv)
    fv(["train", f"--logdir={tmp_path}", "--learning_rate=0.5"])
    return fv


#: Every error class of dlfund.errors with an instance, and what its line says on the command line (None: the
#: library's own message, which has no advice to translate).
CASES = {
    errors.DlfundError: (lambda: errors.DlfundError("a problem"), None),
    errors.DataError: (lambda: errors.DataError("x.gz: corrupt"), None),
    errors.DownloadError: (lambda: errors.DownloadError("x.gz: checksum mismatch"), None),
    errors.DataUnavailable: (lambda: mnist.unavailable(mnist.MNIST, "data/mnist", list(mnist.FILES), "offline"),
                             "Either copy the four files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
                             "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) into data/mnist (uncompressed or "
                             "gzipped IDX both work), or train offline on the bundled MNIST sample with "
                             "--dataset=mnist_sample."),
    errors.CheckpointError: (lambda: errors.CheckpointError("ckpt: not readable", path="ckpt"), None),
    errors.CheckpointMismatch: (lambda: errors.CheckpointMismatch("ckpt", ["m/a/W"], [], ["m/b/W"]),
                                "Check --model (and --hidden_units) against the run that wrote it."),
    errors.ForeignCheckpoint: (lambda: errors.ForeignCheckpoint("ckpt", "batch-norm averages named as by X"),
                               "Start a new run from it with --init_checkpoint=ckpt"),
    errors.NoReadableCheckpoint: (lambda: errors.NoReadableCheckpoint("{logdir}/r", [("{logdir}/r/model-checkpoint-5",
                                                                                      "its files are missing")]),
                                  "To start the run over in a new run directory: python -m chapter5.train "
                                  "--flagfile={logdir}/r/flags.cfg --run_name=r_new"),
    errors.RunDirError: (lambda: errors.RunDirError("logs/r: not writable", path="logs/r"), None),
    errors.TrainingDiverged: (lambda: errors.TrainingDiverged("the cost became nan at global step 12", 12),
                              "Training diverged: try a lower --learning_rate (now 0.5); the last good checkpoint "
                              "is kept: none was saved yet"),
}


def test_every_error_class_is_covered_here():
    defined = {c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, Exception)
               and c.__module__ == errors.__name__}
    assert defined == set(CASES)


@pytest.mark.parametrize("cls", list(CASES), ids=lambda c: c.__name__)
def test_the_library_advises_in_python_and_the_command_line_in_flags(cls, tmp_path):
    make, cli_advice = CASES[cls]
    e = make()
    if isinstance(e, errors.NoReadableCheckpoint):  # its run directory under this test's --logdir
        e = errors.NoReadableCheckpoint(e.run_dir.format(logdir=tmp_path),
                                        [(p.format(logdir=tmp_path), why) for p, why in e.damaged])
    assert isinstance(e, cls) and not FLAG.search(str(e))
    line = _cli.command_line_message(e, "train", _train_flags(tmp_path))
    if cli_advice is None:
        assert line == str(e)
    else:
        assert line == f"{e.problem}. {cli_advice.format(logdir=tmp_path)}"
        # The Python advice is gone: no argument spelling of the library survives into the line.
        assert e.advice and e.advice not in line


def test_errors_carry_their_data():
    mismatch = errors.CheckpointMismatch("ckpt", [], [("m/W", [784, 256], [784, 300])], [])
    assert mismatch.wrong_shape == [("m/W", [784, 256], [784, 300])] and mismatch.checkpoint == "ckpt"
    assert "wrong shape: m/W (checkpoint [784, 256], model [784, 300])" in str(mismatch)
    output_only = errors.CheckpointMismatch("ckpt", [], [], ["m/output/beta", "m/output/gamma"])
    assert output_only.output_batch_norm_only and "ModelOptions(book_output_relu=True)" in output_only.advice
    line = _cli.command_line_message(output_only, "evaluate", flags.FlagValues())
    assert line.endswith("(errata E1): pass --book_output_relu to build the network as printed.")
    cifar = cifar10.unavailable("data", None)
    assert (cifar.dataset, cifar.data_dir, cifar.reason) == ("cifar10", "data", None)
    assert cifar.missing == cifar10.TRAIN_FILES + cifar10.TEST_FILES
    unreadable = errors.NoReadableCheckpoint("logs/r", [("logs/r/model-checkpoint-5", "its files are missing")])
    # Evaluating has nothing to start over: the problem alone.
    assert _cli.command_line_message(unreadable, "evaluate", flags.FlagValues()) == unreadable.problem


def test_a_second_interrupt_during_training_ends_with_one_line_and_130(capsys):
    from chapter5 import interrupts

    def main(argv, fv):
        raise interrupts.StoppedAtOnce

    fv = flags.FlagValues()
    train.define_flags(fv)
    fv(["train"])
    assert _cli.guarded(main, ["train"], fv) == 130
    assert capsys.readouterr().err == ("\nStopped by a second interrupt without saving; the previous checkpoints are "
                                       "kept.\n")
