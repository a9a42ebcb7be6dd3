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
