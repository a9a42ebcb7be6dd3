"""What a run directory holds besides checkpoints and events: ``flags.cfg``, ``run_info.txt``, ``results.json``.

``flags.cfg`` is the run's resolved flags (``--flagfile=logs/<run>/flags.cfg``
repeats or extends the run); ``run_info.txt`` says what the run is and how to
resume, evaluate and look at it; ``results.json`` holds one invocation's final
numbers (read by ``chapter5.compare``).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
import sys

import tensorflow as tf
from absl import flags

import dlfund
from chapter5 import common
from dlfund.errors import RunDirError


def run_dir(fv: flags.FlagValues) -> str:
    """``--logdir/--run_name``, the run name defaulting to ``<model>_<dataset>``."""
    return os.path.join(fv.logdir, fv.run_name or f"{fv.model}_{fv.dataset}")


def flagfile(directory: str) -> str:
    """The run's saved flags, ``<run dir>/flags.cfg``."""
    return os.path.join(directory, "flags.cfg")


def command(program: str, *args: str) -> str:
    """``python -m chapter5.<program> ARGS`` with each argument shell-quoted, for the reader to paste.

    A run directory with spaces or non-ASCII letters (``logs/my runs/딥러닝``) is quoted.
    """
    return " ".join(["python", "-m", f"chapter5.{program}", *(shlex.quote(a) for a in args)])


def check_existing_run(directory: str, model: str) -> None:
    """Refuses to resume a run directory that holds a different model."""
    saved = os.path.join(directory, "flags.cfg")
    if os.path.exists(saved):
        other = common.read_run_flags(saved).model
        if other != model:
            raise RunDirError(f"{directory} holds a --model={other} run, not --model={model}; "
                              "choose another --run_name (or --logdir) for a new run")


def write_run_files(directory: str, fv: flags.FlagValues, resumed_from: str | None) -> None:
    """Saves the resolved flags and a note saying what this run is and how to continue it.

    Raises:
        RunDirError: the directory is not writable.
    """
    saved = flagfile(directory)
    started = "resumed from " + os.path.basename(resumed_from) if resumed_from else "new run"
    info = [
        f"dlfund {dlfund.__version__} run '{os.path.basename(directory)}': model {fv.model}, dataset {fv.dataset}",
        f"last started {datetime.datetime.now().isoformat(timespec='seconds')} ({started})",
        f"TensorFlow {tf.__version__}, Python {platform.python_version()}, {platform.platform()}",
        f"seed {fv.seed}; deterministic ops {'on' if fv.deterministic else 'off'}",
        "command: python -m chapter5.train " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "",
        "resume or extend: " + command("train", f"--flagfile={saved}") + " [--training_epochs=N]",
        "evaluate:         " + command("evaluate", f"--logdir={directory}"),
        "predict:          " + command("predict", f"--logdir={directory}") + " IMAGE...",
        "TensorBoard:      tensorboard " + shlex.quote(f"--logdir={os.path.dirname(directory) or '.'}"),
    ]
    try:
        with open(saved, "w") as f:
            f.write(common.saved_flags_text(fv))
        with open(os.path.join(directory, "run_info.txt"), "w") as f:
            f.write("\n".join(info) + "\n")
    except OSError as e:
        raise RunDirError(f"{directory}: not writable ({e.strerror or e}); choose another --logdir") from None


def write_results(directory: str, results: dict) -> None:
    """Writes ``results.json`` atomically: this invocation's final numbers."""
    tmp = os.path.join(directory, "results.json.tmp")
    with open(tmp, "w") as f:
        json.dump(results, f, indent=1)
    os.replace(tmp, os.path.join(directory, "results.json"))
