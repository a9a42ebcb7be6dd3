"""What a run directory holds besides checkpoints and events: ``flags.cfg``, ``run_info.txt``, ``results.json``.

``flags.cfg`` is the run's resolved flags (``--flagfile=logs/<run>/flags.cfg``
repeats or extends the run); ``run_info.txt`` says what the run is and how to
resume, evaluate and look at it; ``results.json`` holds the run's numbers,
its whole history across resumes (read by ``chapter5.compare``).
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
from dlfund import checkpoints
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


def check_resume(directory: str, fv: flags.FlagValues) -> None:
    """Refuses to resume a run with flags that would change what the run is (:data:`common.RUN_FLAGS`).

    Only a run directory that holds checkpoints is checked: anything else starts a new run.

    Raises:
        RunDirError: one message with the saved and the given values, and how to
            start a new run (from this run's weights, where they fit).
    """
    saved_path = flagfile(directory)
    if not os.path.exists(saved_path) or not checkpoints.candidates(directory):
        return
    saved = common.read_run_flags(saved_path)
    changed = [n for n in common.RUN_FLAGS if saved[n].value != fv[n].value]
    if not changed:
        return
    was = " ".join(saved[n].serialize() for n in changed)
    now = " ".join(fv[n].serialize() for n in changed)
    message = (f"{directory} was trained with {was}; this command gives {now}. A resume keeps the flags that define "
               "the run (network, data set and split, batch size, optimizer): for a new run choose another --run_name")
    latest = checkpoints.latest_checkpoint(directory)
    if latest and not set(changed) & set(common.SHAPE_FLAGS):
        message += f", and to start it from this run's weights on purpose add --init_checkpoint={latest}"
    raise RunDirError(message)


def write_run_files(directory: str, fv: flags.FlagValues, resumed_from: str | None) -> None:
    """Saves the resolved flags and a note saying what this run is and how to continue it.

    Raises:
        RunDirError: the directory is not writable.
    """
    saved = flagfile(directory)
    run_args = (f"--logdir={os.path.dirname(directory) or '.'}", f"--run_name={os.path.basename(directory)}")
    started = "resumed from " + os.path.basename(resumed_from) if resumed_from else "new run"
    info = [
        f"dlfund {dlfund.__version__} run '{os.path.basename(directory)}': model {fv.model}, dataset {fv.dataset}",
        f"last started {datetime.datetime.now().isoformat(timespec='seconds')} ({started})",
        f"TensorFlow {tf.__version__}, Python {platform.python_version()}, {platform.platform()}",
        f"seed {fv.seed}; deterministic ops {'on' if fv.deterministic else 'off'}",
        "command: python -m chapter5.train " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "",
        "resume or extend: " + command("train", f"--flagfile={saved}") + " [--training_epochs=N]",
        "evaluate:         " + command("evaluate", *run_args),
        "predict:          " + command("predict", *run_args) + " IMAGE...",
        "TensorBoard:      tensorboard " + shlex.quote(f"--logdir={os.path.dirname(directory) or '.'}"),
    ]
    try:
        with open(saved, "w") as f:
            f.write(common.saved_flags_text(fv))
        with open(os.path.join(directory, "run_info.txt"), "w") as f:
            f.write("\n".join(info) + "\n")
    except OSError as e:
        raise RunDirError(f"{directory}: not writable ({e.strerror or e}); choose another --logdir") from None


def read_results(directory: str) -> dict:
    """The run's ``results.json``, or {} if there is none (or it cannot be read)."""
    try:
        with open(os.path.join(directory, "results.json")) as f:
            results = json.load(f)
        return results if isinstance(results, dict) else {}
    except (OSError, ValueError):
        return {}


def update_results(directory: str, new: dict, invocation: dict) -> dict:
    """Adds one invocation of the run to ``results.json`` (written atomically); returns the whole.

    The file keeps the run's whole history across resumes: the displayed
    epochs (an epoch displayed again, e.g. one that ``--max_steps`` cut short
    and a later run finished, takes the later numbers), the seconds of each
    epoch summed over the invocations that trained it, ``train_seconds`` in
    all, and one entry per invocation in ``invocations``. Other keys (the test
    figures, the global step) are the latest invocation's, where it has them.

    Args:
        directory: the run directory.
        new: this invocation's numbers (:meth:`dlfund.training.History.as_dict` and more).
        invocation: what this invocation did (start time, steps, how it ended).
    """
    old = read_results(directory)
    displays = {}
    for results in (old, new):
        errors = results.get("validation_error", [])
        for i, (epoch, cost) in enumerate(zip(results.get("epoch", []), results.get("cost", []), strict=False)):
            displays[epoch] = (cost, errors[i] if i < len(errors) else None)
    merged = {**old, **{k: v for k, v in new.items() if v is not None}}
    epochs = sorted(displays)
    merged.update(epoch=epochs, cost=[displays[e][0] for e in epochs],
                  validation_error=[displays[e][1] for e in epochs if displays[e][1] is not None])
    for key in ("epoch_seconds", "step_seconds"):
        seconds = {str(e): s for e, s in (old.get(key) or {}).items()} if isinstance(old.get(key), dict) else {}
        for e, s in new.get(key, {}).items():
            seconds[str(e)] = round(seconds.get(str(e), 0.0) + s, 3)
        merged[key] = dict(sorted(seconds.items(), key=lambda item: int(item[0])))
    merged["train_seconds"] = round(sum(merged["epoch_seconds"].values()), 3)
    merged["invocations"] = [*old.get("invocations", []), invocation]
    checkpoints.write_atomically(os.path.join(directory, "results.json"), json.dumps(merged, indent=1))
    return merged
