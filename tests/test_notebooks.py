"""The committed notebooks hold the outputs of one clean run each, top to bottom; the runner stops at a broken cell;
each Korean twin (ko/) is its English notebook: the same code, comments aside, the same outputs, Korean text.

Executing the notebooks themselves is CI's own step (``python -m chapter5.notebooks --output_dir=... --rerun``
in .ci/run: each run top to bottom, again, and cell by cell once more), not part of this suite. Every number a
notebook's text quotes must come from its own code or outputs, or from the book (BOOK_FACTS).
"""

import glob
import json
import os
import re

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


#: Numbers a notebook's text may quote without computing them: facts of the book and its data, each with where
#: it comes from (first_edition_archive/archive/ of darksigma/Fundamentals-of-Deep-Learning-Book at 4cf31ac).
BOOK_FACTS = {
    60000: "MNIST's training file: 60,000 images (input_data.py reads them all)",
    55000: "the book's reader trains on 55,000 of them (input_data.py 164: VALIDATION_SIZE = 5000)",
    5000: "the book's validation set; also the bundled sample's size (dlfund/data/mnist_sample/README.md)",
    10000: "MNIST's test file: 10,000 images",
    1e-4: "convnet_mnist.py 12: learning_rate = 0.0001 (Adam)",
    170: "the archive at cifar10_input.py 38's DATA_URL is 170 MB (170,052,171 bytes; dlfund/data/cifar10.py)",
    50000: "CIFAR-10's five training files, 10,000 records each",
    45000: "CIFAR-10's training records left after 5,000 held out (errata E12)",
    2: "He's initial weights N(0, sqrt(2/fan_in)): convnet_mnist.py conv2d and layer",
    25: "a 5x5x1 filter's fan-in, in N(0, sqrt(2/25))",
    0.9: "convnet_cifar_bn.py 37, 59: ExponentialMovingAverage(decay=0.9)",
    63: "cifar10_input.py 164: random_brightness(max_delta=63)",
    784: "MNIST's 28x28 pixels as one row (input_data.py)",
    28: "MNIST's side, the square root of 784",
    3500: "the bundled sample's training digits (dlfund/data/mnist_sample/README.md)",
    24: "cifar10_input.py line 31: IMAGE_SIZE = 24, the crops of the 32x32 images",
    64: "convnet_cifar.py 60, 64: conv_1 [5, 5, 3, 64], conv_2 [5, 5, 64, 64]",
    384: "convnet_cifar.py 74: fc_1 has 384 units",
    192: "convnet_cifar.py 81: fc_2 has 192 units",
    4: "the book's chapter 4 (the optimizers)",
}

# ASCII word characters only: Korean particles follow numbers directly ("3,500개", "0.963이고"); "5.8절" and
# "4장" are the Korean §5.8 and chapter 4.
NUMBER = re.compile(r"(?<![A-Za-z0-9_.§/-])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?(?:e-?\d+)?)(?![A-Za-z0-9_]|\.\d|절|장)")


def numbers(text: str) -> set:
    """The numbers in ``text`` as values (1,024 and 1024 alike, 1e-3 and 0.001 alike); digits inside names,
    section numbers (§5.8) and dimensions (28x28) are not numbers here."""
    return {float(n.replace(",", "")) for n in NUMBER.findall(text)}


def quoted_numbers_unbacked(nb: dict) -> list:
    """Numbers in the notebook's markdown that neither its code nor its outputs nor BOOK_FACTS hold."""
    backed = set(BOOK_FACTS)
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            backed |= numbers("".join(cell["source"]))
            for output in cell.get("outputs", []):
                text = "".join(output.get("text", "")) + "".join(output.get("data", {}).get("text/plain", ""))
                backed |= numbers(text)
    quoted = set().union(*(numbers("".join(c["source"])) for c in nb["cells"] if c["cell_type"] == "markdown"))
    return sorted(quoted - backed)


@pytest.mark.parametrize("path", EVERY, ids=_id)
def test_every_number_a_notebook_quotes_is_in_its_code_its_outputs_or_the_books_facts(path):
    with open(path, encoding="utf-8") as f:
        assert quoted_numbers_unbacked(json.load(f)) == []


def test_the_quoted_number_check_fails_on_a_number_the_outputs_do_not_show():
    nb = {"cells": [{"cell_type": "markdown", "source": ["Test accuracy 0.963 after 2 epochs (§5.8, 28x28)."]},
                    {"cell_type": "code", "source": ["epochs = 2"], "outputs": [
                        {"output_type": "stream", "name": "stdout", "text": ["Test Accuracy: 0.958000\n"]}]}]}
    assert quoted_numbers_unbacked(nb) == [0.963]
    nb["cells"][1]["outputs"][0]["text"] = ["Test Accuracy: 0.963\n"]
    assert quoted_numbers_unbacked(nb) == []


def test_the_quoted_number_check_reads_numbers_in_korean_text():
    text = "표본의 학습 숫자 3,500개로 2 에포크, 정확도 0.963이고 1e-4로 (§5.8, 5.10절, 3장, 28x28)"
    assert numbers(text) == {3500, 2, 0.963, 1e-4}


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
