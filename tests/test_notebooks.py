"""The committed notebooks hold the outputs of one clean run each, top to bottom; the runner stops at a broken cell;
each Korean twin (ko/) is its English notebook: the same code, comments aside, the same outputs, Korean text.

Executing the notebooks themselves is CI's own step (``python -m chapter5.notebooks --output_dir=... --rerun``
in .ci/run: each run top to bottom, again, and cell by cell once more), not part of this suite. Every number a
notebook's text quotes is a setting of its code, a printed line it quotes, or a fact it cites (notebook_numbers.py).
"""

import copy
import glob
import json
import os
import re

import notebook_numbers
import pytest
from conftest import REPO

from chapter5.notebooks import twins

NOTEBOOK_DIR = os.path.join(REPO, "chapter5", "notebooks")
KO_DIR = os.path.join(NOTEBOOK_DIR, "ko")
NOTEBOOKS = sorted(glob.glob(os.path.join(NOTEBOOK_DIR, "*.ipynb")))
KOREAN = sorted(glob.glob(os.path.join(KO_DIR, "*.ipynb")))
SECTIONS = ["5.08_mnist_convnet.ipynb", "5.09_preprocessing.ipynb", "5.10_batch_norm.ipynb", "5.11_cifar10.ipynb",
            "5.12_visualizing.ipynb", "classic_experiments.ipynb", "keras_twin.ipynb"]
EVERY = NOTEBOOKS + KOREAN


def _id(path: str) -> str:
    return os.path.relpath(path, NOTEBOOK_DIR)


def _read(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def test_one_notebook_per_section_each_in_both_readmes_each_with_its_korean_twin():
    assert [os.path.basename(p) for p in NOTEBOOKS] == SECTIONS
    assert [os.path.basename(p) for p in KOREAN] == SECTIONS
    texts = sorted(name for name in os.listdir(KO_DIR) if name.endswith(".toml"))
    assert texts == sorted(name.replace(".ipynb", ".toml") for name in SECTIONS)
    for readme in ("README.md", "README.ko.md"):
        with open(os.path.join(REPO, readme), encoding="utf-8") as f:
            text = f.read()
        assert all(f"chapter5/notebooks/{name}" in text for name in SECTIONS), readme
        if readme == "README.ko.md":  # the Korean notebooks first
            assert all(f"(chapter5/notebooks/ko/{name})" in text for name in SECTIONS)
        else:
            assert "chapter5/notebooks/ko/" in text


@pytest.mark.parametrize("path", EVERY, ids=_id)
def test_a_committed_notebook_holds_one_clean_run_top_to_bottom(path):
    with open(path, encoding="utf-8") as f:
        nb = json.load(f)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    # Run top to bottom in one fresh kernel: counts 1, 2, 3, ... (out of order: cells re-run by hand).
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1))
    outputs = [(c, o) for c in code for o in c["outputs"]]
    assert all(o["execution_count"] == c["execution_count"] for c, o in outputs if "execution_count" in o)
    assert [o["ename"] for _, o in outputs if o["output_type"] == "error"] == []
    assert ["".join(o["text"])[:200] for _, o in outputs if o.get("name") == "stderr"] == []
    assert any("image/png" in o.get("data", {}) for _, o in outputs)
    # The library from Python: no program started, no flags.
    source = "\n".join("".join(c["source"]) for c in code)
    assert not re.search(r"subprocess|absl|^\s*(from|import) chapter5|-m chapter5", source, re.M)


def test_a_cell_that_raises_stops_the_run_with_one_line_and_nothing_is_saved(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    from chapter5.notebooks.__main__ import NotebookFailed, execute

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("x / 0")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(tmp_path / "broken.ipynb"))
    with pytest.raises(NotebookFailed) as e:
        execute(str(tmp_path / "broken.ipynb"), str(tmp_path / "out.ipynb"), cell_timeout=60)
    assert str(e.value) == "broken.ipynb, cell 2 of 2 (In [2]): ZeroDivisionError: division by zero"
    assert not (tmp_path / "out.ipynb").exists()


def test_rerun_catches_a_last_cell_that_closes_what_an_earlier_cell_uses(tmp_path):
    """As 5.08 and 5.12 did: their last cell closed the session, so re-running a figure cell after Run All failed."""
    nbformat = pytest.importorskip("nbformat")
    from chapter5.notebooks.__main__ import NotebookFailed, execute

    figure = "import matplotlib.pyplot as plt\nplt.plot([1, 2]); plt.show()"
    cells = ["import io\nlog = io.StringIO()", "log.write('figure drawn')\n" + figure, "log.close()"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(tmp_path / "closes.ipynb"))
    with pytest.raises(NotebookFailed) as e:  # top to bottom and Run All again pass; a cell run on its own fails
        execute(str(tmp_path / "closes.ipynb"), str(tmp_path / "out.ipynb"), cell_timeout=60, rerun=True)
    assert str(e.value) == ("closes.ipynb (each cell once more, last to first), cell 2 of 3 (In [8]): ValueError: "
                            "I/O operation on closed file")
    assert not (tmp_path / "out.ipynb").exists()


def _facts(path: str) -> dict:
    return notebook_numbers.FACTS[os.path.basename(path).removesuffix(".ipynb")]


@pytest.mark.parametrize("path", EVERY, ids=_id)
def test_every_number_a_notebook_quotes_is_a_setting_a_printed_line_or_a_fact_it_cites(path):
    assert notebook_numbers.unbacked(_read(path), _facts(path)) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_every_fact_a_notebook_cites_is_one_it_quotes(path):
    assert set(_facts(path)) - notebook_numbers.cell_values(_read(path), "markdown") == set()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_a_number_a_figure_shows_is_printed_too(path):
    assert notebook_numbers.figure_values_unprinted(_read(path)) == []


def _wanting_with(nb: dict, facts: dict, sentence: str) -> list:
    """What the number check finds wanting in ``nb`` with ``sentence`` added as a markdown cell."""
    planted = copy.deepcopy(nb)
    planted["cells"].append({"cell_type": "markdown", "metadata": {}, "source": [sentence]})
    return notebook_numbers.unbacked(planted, facts)


def _assert_caught(nb: dict, facts: dict, wrong: tuple, right: str) -> None:
    """Each sentence of ``wrong``, planted alone, is found wanting; ``right`` (the true quote) is not."""
    for sentence in wrong:
        assert _wanting_with(nb, facts, sentence), sentence
    assert _wanting_with(nb, facts, right) == []


def _line(nb: dict, start: str) -> str:
    return next(line for line in notebook_numbers.printed_lines(nb) if line.startswith(start))


def test_the_number_check_fails_on_a_result_given_for_the_wrong_epoch():
    path = os.path.join(NOTEBOOK_DIR, "5.08_mnist_convnet.ipynb")
    nb, facts = _read(path), _facts(path)
    third = _line(nb, "Epoch: 0003")  # the sixth epoch's line holds another validation error
    error = third.rsplit(" ", 1)[1]
    assert error not in _line(nb, "Epoch: 0006")
    assert notebook_numbers.unbacked(nb, facts) == []
    # The same quote with its own epoch (the last one) is found.
    _assert_caught(nb, facts, (f"After six epochs the validation error is {float(error):.3f}.",
                               f"After six epochs: `Validation Error: {error}`.",
                               f"After six epochs: `Epoch: 0006 … Validation Error: {error}`."),
                   f"After three epochs: `Epoch: 0003 … Validation Error: {error}`.")


def test_the_number_check_fails_on_two_networks_accuracies_swapped():
    path = os.path.join(NOTEBOOK_DIR, "5.11_cifar10.ipynb")
    nb, facts = _read(path), _facts(path)
    plain, bn = _line(nb, "cifar_conv "), _line(nb, "cifar_conv_bn ")
    accuracy = {name: re.search(r"test accuracy (\S+)", line).group(1) for name, line in (("plain", plain),
                                                                                           ("bn", bn))}
    assert accuracy["plain"] != accuracy["bn"]
    swapped = (f"`cifar_conv` reaches a test accuracy of {accuracy['bn']}, `cifar_conv_bn` "
               f"{accuracy['plain']}.")
    quoted = (f"`{plain.split(':')[0]}: test accuracy {accuracy['bn']}` and "
              f"`{bn.split(':')[0]}: test accuracy {accuracy['plain']}`")
    _assert_caught(nb, facts, (swapped, quoted), f"`{plain.split(':')[0]}: test accuracy {accuracy['plain']}`")


def test_the_number_check_fails_on_a_percentage_that_only_matches_a_setting():
    path = os.path.join(NOTEBOOK_DIR, "5.08_mnist_convnet.ipynb")
    nb, facts = _read(path), _facts(path)
    assert 32 in notebook_numbers.cell_values(nb, "code")  # conv_1's 32 filters are a setting
    for sentence in ("Training moved the filters by 32%.", "Training moved the filters by `32%`."):
        assert _wanting_with(nb, facts, sentence), sentence


@pytest.mark.parametrize("sentence", ["It trains for seven epochs.", "The run takes seven 에포크.",
                                      "학습은 일곱 에포크입니다.",
                                      "Its filters correlate 0.5-0.9995 with their start.",
                                      "The lowest logit is -23.5.", "The filters moved by 0.5 to 1.5."])
def test_the_number_check_reads_spelled_out_numbers_ranges_and_negatives(sentence):
    path = os.path.join(NOTEBOOK_DIR, "5.08_mnist_convnet.ipynb")
    assert _wanting_with(_read(path), _facts(path), sentence), sentence


def test_the_number_check_reads_numbers_as_values():
    text = "표본의 학습 숫자 3,500개로 두 에포크, 정확도 0.963이고 1e-4로 (§5.8, 5.10절, 3장, 28x28, LeNet-5, fc_1)"
    assert notebook_numbers.values(text) == {3500, 2, 0.963, 1e-4}
    assert notebook_numbers.values("six epochs, 0.994-1.000, a range 3 to 5, -0.5 and 12%") == \
        {6, 0.994, 1.0, 3, 5, -0.5, 12}
    assert [q.percent for q in notebook_numbers.numbers("12% of 3")] == [True, False]


def test_a_figure_value_without_a_printed_line_is_found():
    cell = {"cell_type": "code", "source": 'ax.plot(x, label=f"test {accuracy:.3f}")\n', "outputs": []}
    nb = {"cells": [cell]}
    assert notebook_numbers.figure_values_unprinted(nb) == \
        ["cell 1: {accuracy} in 'ax.plot(x, label=f\"test {accuracy:.3f}\")'"]
    cell["source"] = 'print(f"test accuracy {accuracy:.3f}")\n' + cell["source"]
    assert notebook_numbers.figure_values_unprinted(nb) != []  # printed nothing: no line shows it
    cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["test accuracy 0.958\n"]}]
    assert notebook_numbers.figure_values_unprinted(nb) == []


@pytest.mark.parametrize("path", EVERY, ids=_id)
def test_a_notebooks_outputs_come_from_the_code_beside_them(path):
    """The runner records the digest of the code it ran; a code change without a new run leaves it behind."""
    nb = _read(path)
    assert twins.recorded_digest(nb) == twins.code_digest(nb), (
        f"{_id(path)}: its outputs are not those of its code; run python -m chapter5.notebooks "
        f"{os.path.basename(path).removesuffix('.ipynb')}")


@pytest.mark.parametrize("name", SECTIONS)
def test_a_korean_twin_is_its_english_notebook_with_korean_text(name):
    english, korean = _read(os.path.join(NOTEBOOK_DIR, name)), _read(os.path.join(KO_DIR, name))
    assert [c["cell_type"] for c in korean["cells"]] == [c["cell_type"] for c in english["cells"]]
    for index, (en, ko) in enumerate(zip(english["cells"], korean["cells"], strict=True), start=1):
        ko_source = "".join(ko["source"])
        if en["cell_type"] == "markdown":
            assert twins.HANGUL.search(ko_source), f"{name} cell {index}: markdown without Korean"
            continue
        assert twins.code_tokens(ko_source) == twins.code_tokens("".join(en["source"])), \
            f"{name} cell {index}: the Korean twin's code is not the English code"
        assert (ko["outputs"], ko["execution_count"]) == (en["outputs"], en["execution_count"]), \
            f"{name} cell {index}: the Korean twin's outputs are not the English run's"
        for comment in _comments(ko_source):
            assert twins.HANGUL.search(comment), f"{name} cell {index}: an English comment {comment!r}"
    # What the runner builds now, from the English notebook and the Korean text: the file is not behind either.
    text = twins.Translation.read(os.path.join(KO_DIR, name.replace(".ipynb", ".toml")))
    rebuilt = twins.korean_twin(english, text, name)
    assert ["".join(c["source"]) for c in korean["cells"]] == [c["source"] for c in rebuilt["cells"]]


def _comments(source: str) -> list:
    import io
    import tokenize

    return [t.string for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type == tokenize.COMMENT]


ENGLISH_CELL = '''x = 1  # one
# a block of
# two lines
    # noqa: E501
y = x + 1'''


def test_comments_are_translated_whole_and_code_is_compared_without_them(tmp_path):
    toml = tmp_path / "t.toml"
    toml.write_text("[[comment]]\nen = '''one'''\nko = '''하나'''\n\n"
                    "[[comment]]\nen = '''a block of\ntwo lines'''\nko = '''두 줄의 블록을\n세 줄로\n옮김'''\n",
                    encoding="utf-8")
    text = twins.Translation.read(str(toml))
    korean = twins.translate_comments(ENGLISH_CELL, text, "t, cell 1")
    assert korean == "x = 1  # 하나\n# 두 줄의 블록을\n# 세 줄로\n# 옮김\n    # noqa: E501\ny = x + 1"
    assert twins.code_tokens(korean) == twins.code_tokens(ENGLISH_CELL)
    assert twins.code_tokens(korean.replace("x + 1", "x + 2")) != twins.code_tokens(ENGLISH_CELL)
    assert twins.code_tokens("print('# not a comment')") != twins.code_tokens("print('# 주석 아님')")


def test_a_code_change_without_a_new_run_is_seen_as_stale():
    nb = {"metadata": {}, "cells": [{"cell_type": "code", "source": "epochs = 2  # two", "outputs": []}]}
    twins.record_digest(nb)
    nb["cells"][0]["source"] = "epochs = 2  # 두 번"
    assert twins.recorded_digest(nb) == twins.code_digest(nb)  # a comment: the outputs still hold
    nb["cells"][0]["source"] = "epochs = 3  # two"
    assert twins.recorded_digest(nb) != twins.code_digest(nb)


def test_english_text_without_korean_stops_the_build_naming_the_cell_and_the_old_entry(tmp_path):
    toml = tmp_path / "n.toml"
    toml.write_text("[[markdown]]\nen = '''## The data, in 3 splits'''\nko = '''## 데이터'''\n", encoding="utf-8")
    english = {"metadata": {}, "cells": [{"cell_type": "markdown", "source": "## The data, in three splits"}]}
    with pytest.raises(twins.TranslationError) as e:
        twins.korean_twin(english, twins.Translation.read(str(toml)), "n.ipynb")
    assert str(e.value).startswith(f"n.ipynb, cell 1: this English markdown has no Korean text in {toml}:\n"
                                   "    ## The data, in three splits\nIt may be this entry's en, changed")
    assert "-## The data, in 3 splits" in str(e.value)
    english["cells"][0]["source"] = "## The data, in 3 splits"
    english["cells"].append({"cell_type": "code", "source": "x = 1  # new", "outputs": []})
    with pytest.raises(twins.TranslationError, match="cell 2: this English comment has no Korean"):
        twins.korean_twin(english, twins.Translation.read(str(toml)), "n.ipynb")
    english["cells"].pop()
    assert twins.korean_twin(english, twins.Translation.read(str(toml)), "n.ipynb")["cells"][0]["source"] == "## 데이터"
    english["cells"] = []
    with pytest.raises(twins.TranslationError, match="1 entry translates nothing in n.ipynb any more"):
        twins.korean_twin(english, twins.Translation.read(str(toml)), "n.ipynb")
