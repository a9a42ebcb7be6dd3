"""The committed notebooks hold the outputs of one clean run each, top to bottom; the runner stops at a broken cell.

Executing the notebooks themselves is CI's own step (``python -m chapter5.notebooks --output_dir=...`` in
.ci/run), not part of this suite: together they take about two minutes.
"""

import glob
import json
import os
import re

import pytest
from conftest import REPO

NOTEBOOK_DIR = os.path.join(REPO, "chapter5", "notebooks")
NOTEBOOKS = sorted(glob.glob(os.path.join(NOTEBOOK_DIR, "*.ipynb")))
SECTIONS = ["5.08_mnist_convnet.ipynb", "5.09_preprocessing.ipynb", "5.10_batch_norm.ipynb", "5.11_cifar10.ipynb",
            "5.12_visualizing.ipynb", "classic_experiments.ipynb"]


def test_one_notebook_per_section_each_in_both_readmes():
    assert [os.path.basename(p) for p in NOTEBOOKS] == SECTIONS
    for readme in ("README.md", "README.ko.md"):
        with open(os.path.join(REPO, readme), encoding="utf-8") as f:
            text = f.read()
        assert all(f"chapter5/notebooks/{name}" in text for name in SECTIONS), readme


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
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
    execute(str(tmp_path / "closes.ipynb"), str(tmp_path / "once.ipynb"), cell_timeout=60)  # top to bottom: fine
    with pytest.raises(NotebookFailed) as e:
        execute(str(tmp_path / "closes.ipynb"), str(tmp_path / "out.ipynb"), cell_timeout=60, rerun=True)
    assert str(e.value) == ("closes.ipynb (each cell once more, last to first), cell 2 of 3 (In [8]): ValueError: "
                            "I/O operation on closed file")
    assert not (tmp_path / "out.ipynb").exists()
