r"""Executes the chapter 5 notebooks, each in a fresh kernel, and saves them with their outputs.

    python -m chapter5.notebooks                        # all of them, in place: what the committed copies are
    python -m chapter5.notebooks 5.08_mnist_convnet      # one (or a few), by name
    python -m chapter5.notebooks --output_dir=DIR       # into DIR, the committed copies left as they are
    python -m chapter5.notebooks --output_dir=DIR --rerun   # and re-run as readers do (CI)
    python -m chapter5.notebooks --noexecute            # only rebuild the Korean twins (after editing ko/*.toml)
    python -m chapter5.notebooks --twice                # and run each again in a new kernel: the same text? (CI)

Each notebook runs from top to bottom in a new Python kernel (``nbclient``, with
``ipykernel``: ``pip install -e ".[notebooks]"``), in this directory, so that its
execution counts go 1, 2, 3, ... and every figure comes from that run. A cell
that raises stops it: one line names the notebook, the cell and the error, the
notebook is not saved, and the exit code is 1.

``--rerun`` then does, in the same kernel, what a reader does after "Run All":
runs every cell again from the top (Run All twice), then every code cell once
more, from the last to the first (a figure cell after a later one, an
evaluation cell again). A cell that fails then (a closed session, a variable
a later cell changed) stops it the same way. The saved outputs are those of
the first, clean run.

``--twice`` then runs each notebook once more, top to bottom in another new
kernel, and compares the two runs' text outputs cell by cell: a notebook whose
numbers change between two runs on one machine (a seed not set, an op that is
not deterministic) stops it, naming the cell and the first line that differs.
Every notebook switches on TensorFlow's op determinism in its first cell.

Each executed notebook records the digest of its code (``twins.code_digest``),
and then its Korean twin, ``ko/NAME.ipynb``, is built from it and
``ko/NAME.toml`` (``chapter5/notebooks/twins.py``); with ``--output_dir``, into
``DIR/ko``. The twins are built, not executed a second time: their code is the
English code, so its outputs are already there, and the notebooks' CI step
stays as long as it was. A text the Korean file lacks stops the run the same
way, before any notebook is executed.
"""

from __future__ import annotations

import copy
import glob
import os
import subprocess
import time

from absl import flags

from chapter5 import _cli, flag_defs
from chapter5.notebooks import twins

NOTEBOOK_DIR = os.path.dirname(os.path.abspath(__file__))


def define_flags(fv: flags.FlagValues) -> None:
    flag_defs.define_cli_flags(fv)
    d = dict(flag_values=fv)
    flags.DEFINE_string("output_dir", "", "Write the executed notebooks here ('' = in place, over the committed "
                        "copies).", **d)
    flags.DEFINE_bool("rerun", False, "After the run that is saved, run every cell again in the same kernel (Run All "
                      "twice), then every code cell once more from the last to the first, as readers do.", **d)
    flags.DEFINE_bool("execute", True, "Execute the notebooks; --noexecute only builds the Korean twins from "
                      "the English notebooks as they are.", **d)
    flags.DEFINE_bool("twice", False, "Run each notebook once more in a new kernel and fail if any cell's text "
                      "output differs from the first run's.", **d)
    flags.DEFINE_integer("cell_timeout", 600, "Seconds a cell may run before the notebook is stopped as hung.",
                         lower_bound=1, **d)


class NotebookFailed(_cli.UsageError):
    """A notebook could not be executed (a cell raised, or it shows no figure)."""


def notebooks(names: list) -> list:
    """The notebooks to run: those named (with or without ``.ipynb``), else all of them, sorted."""
    every = sorted(glob.glob(os.path.join(NOTEBOOK_DIR, "*.ipynb")))
    if not names:
        return every
    chosen = []
    for name in names:
        path = os.path.join(NOTEBOOK_DIR, os.path.basename(name).removesuffix(".ipynb") + ".ipynb")
        if path not in every:
            raise _cli.UsageError(f"no notebook {name!r}; the notebooks: "
                                  + ", ".join(os.path.basename(p) for p in every))
        chosen.append(path)
    return chosen


def execute(path: str, output: str, cell_timeout: int, rerun: bool = False) -> tuple[int, int, float]:
    """Runs the notebook ``path`` top to bottom in a fresh kernel and writes it to ``output``; with ``rerun``,
    then runs its cells again in the same kernel (the module doc) before it is written.

    Returns:
        (code cells, figures, seconds).

    Raises:
        NotebookFailed: a cell raised (naming it, the pass and the error), or no figure was drawn.
    """
    import nbclient
    import nbformat

    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=cell_timeout, kernel_name="python3", record_timing=False,
                                     resources={"metadata": {"path": NOTEBOOK_DIR}})
    start = time.perf_counter()
    name = os.path.basename(path)
    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    passes = [("", nb, code_cells)]
    if rerun:  # on copies: the outputs saved are the first run's
        passes += [(" (run again after Run All)", copy.deepcopy(nb), code_cells),
                   (" (each cell once more, last to first)", copy.deepcopy(nb), code_cells[::-1])]
    # The kernel's own start-up notices go nowhere; cell output is kept.
    with client.setup_kernel(stderr=subprocess.DEVNULL):
        for when, cells, order in passes:
            for index in order:
                _run_cell(client, cells, index, f"{name}{when}", cell_timeout)
    seconds = time.perf_counter() - start
    figures = sum("image/png" in o.get("data", {}) for i in code_cells for o in nb.cells[i].outputs)
    if not figures:
        raise NotebookFailed(f"{name}: executed, but it shows no figure")
    twins.record_digest(nb)
    nbformat.write(nb, output)
    return len(code_cells), figures, seconds


def same_text(path: str, first: str, cell_timeout: int, scratch: str) -> None:
    """Runs ``path`` again into ``scratch`` and compares its text outputs with those of the run saved at ``first``.

    Raises:
        NotebookFailed: a cell printed something else the second time (its first differing line is named).
    """
    import nbformat

    execute(path, scratch, cell_timeout)
    name = os.path.basename(path)
    a, b = (twins.text_outputs(nbformat.read(p, as_version=4)) for p in (first, scratch))
    for (number, once), (_, again) in zip(a, b, strict=True):
        if once != again:
            lines = [(x, y) for x, y in zip(once.splitlines() + [""], again.splitlines() + [""], strict=False)
                     if x != y][0]
            raise NotebookFailed(f"{name}, cell {number}: a second run printed other text: {lines[0]!r} the "
                                 f"first time, {lines[1]!r} the second")


def _run_cell(client, nb, index: int, where: str, cell_timeout: int) -> None:
    """Runs cell ``index`` of ``nb`` in ``client``'s kernel; a failure is one NotebookFailed naming the cell."""
    import nbclient

    cell = nb.cells[index]
    try:
        client.execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
    except nbclient.exceptions.CellExecutionError as e:
        raise NotebookFailed(f"{where}, cell {index + 1} of {len(nb.cells)} (In [{cell.execution_count}]): "
                             f"{e.ename}: {e.evalue}") from None
    except nbclient.exceptions.CellTimeoutError:
        raise NotebookFailed(f"{where}, cell {index + 1} ran longer than --cell_timeout={cell_timeout} s") from None


def main(argv: list, fv: flags.FlagValues) -> int:
    paths = notebooks(argv[1:])
    if fv.output_dir:
        os.makedirs(fv.output_dir, exist_ok=True)
    ko_dir = os.path.join(fv.output_dir, "ko") if fv.output_dir else twins.KO_DIR
    for path in paths:  # every Korean text is there before any notebook runs (execution changes no text)
        try:
            twins.check(path)
        except twins.TranslationError as e:
            raise NotebookFailed(str(e)) from None
    total = 0.0
    for path in paths:
        output = os.path.join(fv.output_dir, os.path.basename(path)) if fv.output_dir else path
        if fv.execute:
            cells, figures, seconds = execute(path, output, fv.cell_timeout, fv.rerun)
            total += seconds
            print(f"{os.path.basename(path)}: {cells} code cells, {figures} figures, {seconds:.1f} s", flush=True)
            if fv.twice:
                import tempfile

                with tempfile.TemporaryDirectory() as scratch:
                    same_text(path, output, fv.cell_timeout, os.path.join(scratch, os.path.basename(path)))
                print("  run again in a new kernel: the same text in every cell", flush=True)
        else:
            output = path
        try:
            built = twins.build(output, ko_dir)
        except twins.TranslationError as e:
            raise NotebookFailed(str(e)) from None
        print(f"  its Korean twin: {os.path.relpath(built)}", flush=True)
    where = "in " + fv.output_dir if fv.output_dir else "in place"
    if fv.execute:
        count = "1 notebook" if len(paths) == 1 else f"{len(paths)} notebooks"
        print(f"Executed {count} in {total:.1f} s; saved {where}, with the Korean twins.")
    else:
        print(f"Built {len(paths)} Korean twin{'' if len(paths) == 1 else 's'} {where}.")
    return 0


if __name__ == "__main__":
    _cli.run(define_flags, main)
