"""The READMEs hold the commands a reader runs: the Korean one shows exactly the English one's."""

import os
import re

from conftest import REPO


def commands(name):
    """The command lines inside the file's code blocks, in order, without trailing comments."""
    with open(os.path.join(REPO, name), encoding="utf-8") as f:
        blocks = re.findall(r"^```[^\n]*\n(.*?)^```", f.read(), re.M | re.S)
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if re.match(r"(pip|python|tensorboard) ", line)]


def test_the_korean_readme_shows_the_same_commands():
    english, korean = commands("README.md"), commands("README.ko.md")
    assert len(english) >= 10
    assert korean == english


def test_the_readme_starts_with_the_three_commands_that_ci_runs():
    assert commands("README.md")[:3] == ['pip install -e ".[test]"',
                                         "python -m chapter5.train --flagfile=chapter5/flags/quickstart.cfg",
                                         "python -m pytest"]
    with open(os.path.join(REPO, ".ci", "run")) as f:
        ci = f.read()
    assert 'pip install -e ".[test]"' in ci and "python -m pytest" in ci
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        assert "(README.ko.md)" in f.read(600)


def test_every_flag_the_errata_name_exists():
    """docs/errata.md gives, per erratum, the flag that brings the printed behaviour back: each must be real."""
    from absl import flags

    from chapter5 import compare, train
    fv = flags.FlagValues()
    train.define_flags(fv)
    known = set(fv) | set(compare_flags(compare))
    with open(os.path.join(REPO, "docs", "errata.md"), encoding="utf-8") as f:
        named = set(re.findall(r"`--(?:no)?([a-z_]+)", f.read()))
    assert {"book_output_relu", "book_bn_update", "book_validation_on_test", "book_data_order"} <= named
    assert sorted(n for n in named if n not in known and n.removeprefix("no") not in known) == []


def compare_flags(compare):
    from absl import flags
    fv = flags.FlagValues()
    compare.define_flags(fv)
    return list(fv)
