r"""Executes the chapter 5 notebooks, each in a fresh kernel, and saves them with their outputs.

    python -m chapter5.notebooks                        # all of them, in place: what the committed copies are
    python -m chapter5.notebooks 5.08_mnist_convnet      # one (or a few), by name
    python -m chapter5.notebooks --output_dir=DIR       # into DIR, the committed copies left as they are (CI)

Each notebook runs from top to bottom in a new Python kernel (``nbclient``, with
``ipykernel``: ``pip install -e ".[notebooks]"``), in this directory, so that its
execution counts go 1, 2, 3, ... and every figure comes from that run. A cell
that raises stops it: one line names the notebook, the cell and the error, the
notebook is not saved, and the exit code is 1.
"""

from __future__ import annotations

import glob
import os
import subprocess
import time

from absl import flags

from chapter5 import _cli, flag_defs

NOTEBOOK_DIR = os.path.dirname(os.path.abspath(__file__))


def define_flags(fv: flags.FlagValues) -> None:
    flag_defs.define_cli_flags(fv)
    d = dict(flag_values=fv)
    flags.DEFINE_string("output_dir", "", "Write the executed notebooks here ('' = in place, over the committed "
                        "copies).", **d)
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


def execute(path: str, output: str, cell_timeout: int) -> tuple[int, int, float]:
    """Runs the notebook ``path`` top to bottom in a fresh kernel and writes it to ``output``.

    Returns:
        (code cells, figures, seconds).

    Raises:
        NotebookFailed: a cell raised (naming it and the error), or no figure was drawn.
    """
    import nbclient
    import nbformat

    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=cell_timeout, kernel_name="python3", record_timing=False,
                                     resources={"metadata": {"path": NOTEBOOK_DIR}})
    start = time.perf_counter()
    name = os.path.basename(path)
    try:
        client.execute(stderr=subprocess.DEVNULL)  # the kernel's own start-up notices; cell output is kept
    except nbclient.exceptions.CellExecutionError as e:
        failed = next((i for i, c in enumerate(nb.cells) if any(o.get("output_type") == "error"
                                                                  for o in c.get("outputs", []))), None)
        where = (f"cell {failed + 1} of {len(nb.cells)} (In [{nb.cells[failed].execution_count}])"
                 if failed is not None else "a cell")
        raise NotebookFailed(f"{name}, {where}: {e.ename}: {e.evalue}") from None
    except nbclient.exceptions.CellTimeoutError:
        raise NotebookFailed(f"{name}: a cell ran longer than --cell_timeout={cell_timeout} s") from None
    seconds = time.perf_counter() - start
    code = [c for c in nb.cells if c.cell_type == "code"]
    figures = sum("image/png" in o.get("data", {}) for c in code for o in c.outputs)
    if not figures:
        raise NotebookFailed(f"{name}: executed, but it shows no figure")
    nbformat.write(nb, output)
    return len(code), figures, seconds


def main(argv: list, fv: flags.FlagValues) -> int:
    paths = notebooks(argv[1:])
    if fv.output_dir:
        os.makedirs(fv.output_dir, exist_ok=True)
    total = 0.0
    for path in paths:
        output = os.path.join(fv.output_dir, os.path.basename(path)) if fv.output_dir else path
        cells, figures, seconds = execute(path, output, fv.cell_timeout)
        total += seconds
        print(f"{os.path.basename(path)}: {cells} code cells, {figures} figures, {seconds:.1f} s", flush=True)
    where = "in " + fv.output_dir if fv.output_dir else "in place"
    print(f"Executed {len(paths)} notebooks in {total:.1f} s; saved {where}.")
    return 0


if __name__ == "__main__":
    _cli.run(define_flags, main)
