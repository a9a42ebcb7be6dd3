"""A run directory, ``--logdir/<run_name>/``: every file in it but the checkpoints and the events, in one place.

* ``flags.cfg`` (:data:`FLAGS_FILE`): the run's resolved flags, an absl
  flagfile (``--flagfile=logs/<run>/flags.cfg`` repeats or extends the run),
  written and read here only;
* ``run_info.txt``: what the run is, the command that reproduces it, and how
  to resume, evaluate and look at it;
* ``results.json``: the run's numbers, its whole history across resumes (read by
  ``chapter5.compare``);
* ``run.lock``: the pid of the process training into the directory.

This module also finds runs (:func:`list_runs`, :func:`trained_model_dir`) and
chooses the checkpoint a program uses (:func:`checkpoint_to_use`). The
checkpoint files themselves are ``dlfund.checkpoints``'s. The run directory is
the command-line programs' record of a run (an absl flagfile, commands to
paste), which is why this module lives in ``chapter5`` and not in the library.
"""

from __future__ import annotations

import contextlib
import datetime
import glob
import json
import os
import platform
import shlex
import sys

import tensorflow as tf
from absl import flags

import dlfund
from chapter5 import flag_defs, flagfiles, from_flags, progress
from dlfund import checkpoints
from dlfund.errors import CheckpointError, NoReadableCheckpoint, RunDirError

FLAGS_FILE = "flags.cfg"
RUN_INFO_FILE = "run_info.txt"
RESULTS_FILE = "results.json"
LOCK_FILE = "run.lock"

#: Flags left out of the command that reproduces a run: they change only what is shown.
DISPLAY_FLAGS = ("verbose", "debug", "progress")


def run_dir(fv: flags.FlagValues) -> str:
    """``--logdir/--run_name``, the run name defaulting to ``<model>_<dataset>``."""
    return os.path.join(fv.logdir, fv.run_name or f"{fv.model}_{fv.dataset}")


def flagfile(directory: str) -> str:
    """The run's saved flags, ``<run dir>/flags.cfg``."""
    return os.path.join(directory, FLAGS_FILE)


def command(program: str, *args: str) -> str:
    """``python -m chapter5.<program> ARGS`` with each argument shell-quoted, for the reader to paste.

    A run directory with spaces or non-ASCII letters (``logs/my runs/딥러닝``) is quoted.
    """
    return " ".join(["python", "-m", f"chapter5.{program}", *(shlex.quote(a) for a in args)])


# --- The lock ---------------------------------------------------------------------------------------------


class RunDirInUse(RunDirError):
    """Another live process trains into the run directory.

    Attributes:
        pid: that process's id.
        lock_file: the lock file naming it.
    """

    def __init__(self, directory: str, pid: int, lock_file: str) -> None:
        self.pid, self.lock_file = pid, lock_file
        super().__init__(f"{directory} is in use by another training run (pid {pid}, lock file {lock_file})",
                         "Wait for it to finish, stop it, or choose another --run_name", directory)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunDirLock:
    """Exclusive use of a run directory by one process (a context manager).

    Args:
        directory: the run directory, created if needed, then locked.

    Raises:
        RunDirInUse: another live process holds the lock (a lock left by a dead process is taken over).
        RunDirError: the directory cannot be created or written.
    """

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.path = os.path.join(directory, LOCK_FILE)
        self.took_over_from: int | str | None = None
        self._held = False

    def acquire(self) -> None:
        try:
            os.makedirs(self.directory, exist_ok=True)
        except OSError as e:
            raise RunDirError(f"{self.directory}: cannot create the run directory ({e.strerror or e})",
                              path=self.directory) from None
        for _ in range(3):
            try:
                self._create()
            except FileExistsError:
                owner = self._owner()
                if owner is not None and owner != os.getpid() and _pid_alive(owner):
                    raise RunDirInUse(self.directory, owner, self.path) from None
                if os.path.exists(self.path):  # stale: its owner is gone, or it names none (damaged)
                    self.took_over_from = owner or "a damaged lock file"
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(self.path)
                continue
            except OSError as e:
                raise RunDirError(f"{self.directory}: not writable ({e.strerror or e})", "Choose another --logdir",
                                  self.directory) from None
            self._held = True
            return
        raise RunDirError(f"{self.path}: could not take the lock", path=self.directory)

    def _create(self) -> None:
        """Creates the lock file holding this process's pid, whole or not at all: it is written under another
        name and linked into place, so no other process ever sees it empty (and takes it for a damaged one).

        Raises:
            FileExistsError: the lock file exists.
        """
        temporary = f"{self.path}.{os.getpid()}"
        with open(temporary, "w") as f:
            f.write(f"{os.getpid()}\n")
        try:
            os.link(temporary, self.path)
        except FileExistsError:
            raise
        except OSError:  # no hard links on this file system (FAT, some network ones): created in place
            with os.fdopen(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644), "w") as f:
                f.write(f"{os.getpid()}\n")
        finally:
            os.remove(temporary)

    def _owner(self) -> int | None:
        """The pid in the lock file; None if it names none (gone, damaged, not text)."""
        try:
            with open(self.path, "rb") as f:
                return int(f.read().strip() or 0) or None
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        if self._held and self._owner() == os.getpid():
            try:
                os.remove(self.path)
            except OSError:
                pass
        self._held = False

    def __enter__(self) -> RunDirLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


# --- flags.cfg --------------------------------------------------------------------------------------------


def saved_flags_text(fv: flags.FlagValues) -> str:
    """The run's resolved training flags, one ``--name=value`` per line (a reusable flagfile)."""
    scratch = flags.FlagValues()
    flag_defs.define_training_flags(scratch)
    names = sorted(n for n in scratch if n not in flag_defs.UNSAVED_FLAGS)
    return "".join((fv[n].serialize() if fv[n].value is not None else f"--{n}=") + "\n" for n in names)


def read_flags(path: str) -> flags.FlagValues:
    """A run's ``flags.cfg`` (or a shipped flagfile) parsed by absl into fresh training flags.

    Raises:
        RunDirError: the file cannot be read, is not text (:mod:`chapter5.flagfiles`), or holds flags that are
            not valid.
        FlagfileError: a flagfile it names cannot be read.
    """
    fv = flags.FlagValues()
    flag_defs.define_training_flags(fv)
    try:
        fv([FLAGS_FILE, *flagfiles.expand([f"--flagfile={path}"])])
    except flagfiles.FlagfileError as e:
        if e.path != path:
            raise
        # chapter5.train wrote it as UTF-8: it was damaged since, and is kept as it is.
        raise RunDirError(f"{e.problem}; nothing was changed", "Restore it from a copy, or move it away and give "
                          "the run's flags (--model, --dataset, ...) on the command line",
                          os.path.dirname(path)) from None
    except flags.Error as e:
        raise RunDirError(f"{path}: not a readable flags file ({e})", path=os.path.dirname(path)) from None
    return fv


def _read_text(path: str, instead: str) -> str:
    """The file as UTF-8 text; RunDirError, naming ``path`` and what to do (``instead``), if it is not text."""
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8")
    except UnicodeDecodeError as e:
        raise RunDirError(f"{path} is damaged: it is not text (byte {e.object[e.start]:#04x} at offset {e.start}); "
                          "nothing was changed", f"Restore it from a copy, or move it away and {instead}",
                          os.path.dirname(path)) from None
    except OSError as e:
        raise RunDirError(f"{path}: cannot be read ({e.strerror or e})", path=os.path.dirname(path)) from None


def apply_run_flags(fv: flags.FlagValues, directory: str,
                    names=flag_defs.MODEL_FLAGS + flag_defs.DATA_FLAGS) -> flags.FlagValues | None:
    """Sets the model and data flags from ``directory/flags.cfg`` unless given on the command line.

    Returns:
        The run's saved flags (:func:`read_flags`), or None if the run directory has no flags.cfg.
    """
    path = flagfile(directory)
    if not os.path.exists(path):
        return None
    saved = read_flags(path)
    for name in names:
        if name in fv and not fv[name].present:
            setattr(fv, name, saved[name].value)
    return saved


def reproducing_command(fv: flags.FlagValues) -> str:
    """The ``chapter5.train`` command with every flag this run was given, whatever gave it.

    The flags come from ``fv``, not from ``sys.argv``: a run that
    ``chapter5.compare`` trains in its own process is recorded by its own
    flags, not by the command that started compare.
    """
    given = [fv[n].serialize() for n in sorted(fv)
             if n == fv[n].name and not fv[n].using_default_value and n not in DISPLAY_FLAGS]
    return command("train", *given)


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
        "command: " + reproducing_command(fv),
        "",
        "resume or extend: " + command("train", f"--flagfile={saved}") + " [--training_epochs=N]",
        "evaluate:         " + command("evaluate", *run_args),
        "predict:          " + command("predict", *run_args) + " IMAGE...",
        "TensorBoard:      tensorboard " + shlex.quote(f"--logdir={os.path.dirname(directory) or '.'}"),
    ]
    try:
        with open(saved, "w", encoding="utf-8") as f:  # what chapter5.flagfiles reads, whatever the locale
            f.write(saved_flags_text(fv))
        with open(os.path.join(directory, RUN_INFO_FILE), "w", encoding="utf-8") as f:
            f.write("\n".join(info) + "\n")
    except OSError as e:
        raise RunDirError(f"{directory}: not writable ({e.strerror or e})", "Choose another --logdir",
                          directory) from None


def check_resume(directory: str, fv: flags.FlagValues) -> None:
    """Refuses to resume a run with flags that would change what the run is (:data:`flag_defs.RUN_FLAGS`),
    or whose ``flags.cfg`` or ``results.json`` is damaged.

    Only a run directory that holds checkpoints is checked for its flags: anything else starts a new run.

    Raises:
        RunDirError: one message with the saved and the given values, and how to
            start a new run (from this run's weights, where they fit); or naming
            the damaged file and what to do.
    """
    read_results(directory)  # a damaged results.json stops the run here, before anything is written
    saved_path = flagfile(directory)
    if not os.path.exists(saved_path) or not checkpoints.candidates(directory):
        return
    saved = read_flags(saved_path)
    changed = [n for n in flag_defs.RUN_FLAGS if saved[n].value != fv[n].value]
    if not changed:
        return
    was = " ".join(saved[n].serialize() for n in changed)
    now = " ".join(fv[n].serialize() for n in changed)
    advice = "for a new run choose another --run_name"
    latest = checkpoints.latest_intact(directory)
    if latest and not set(changed) & set(flag_defs.SHAPE_FLAGS):
        advice += f", and to start it from this run's weights on purpose add --init_checkpoint={latest}"
    raise RunDirError(f"{directory} was trained with {was}; this command gives {now}", "A resume keeps the flags "
                      f"that define the run (network, data set and split, batch size, optimizer): {advice}", directory)


# --- Finding a trained run and its checkpoint --------------------------------------------------------------


def list_runs(logdir: str) -> list:
    """The run directories under ``logdir`` (those with a flags.cfg), as run names, to two levels (suites)."""
    runs = []
    for depth in ("*", os.path.join("*", "*")):
        for found in glob.glob(os.path.join(glob.escape(logdir), depth, FLAGS_FILE)):
            runs.append(os.path.relpath(os.path.dirname(found), logdir))
    return sorted(runs)


def _no_such_run(fv: flags.FlagValues, problem: str) -> RunDirError:
    runs = list_runs(fv.logdir)
    there = (f"the runs in {fv.logdir}: {', '.join(runs)}" if runs else
             f"{fv.logdir} holds no runs yet: train one first (python -m chapter5.train ...)")
    return RunDirError(f"{problem}; {there}", "Or pass --checkpoint=PATH with --model and --dataset", fv.logdir)


def trained_model_dir(fv: flags.FlagValues) -> tuple[str, flags.FlagValues | None]:
    """The run directory (``--logdir/--run_name``, or the checkpoint's directory) and its saved flags (None
    without a flags.cfg), whose model and data flags are applied to ``fv`` (flags given on the command line win).

    Raises:
        RunDirError: no run given, or not a run; the message lists the runs under ``--logdir``.
    """
    if fv.checkpoint and not fv.run_name:
        directory = os.path.dirname(os.path.abspath(fv.checkpoint))
    elif not fv.run_name:
        if os.path.exists(flagfile(fv.logdir)):
            parent, name = os.path.split(os.path.normpath(fv.logdir))
            raise RunDirError(f"{fv.logdir} is a run directory; --logdir is the parent of runs, as for "
                              f"chapter5.train: give --logdir={parent or '.'} --run_name={name}", path=fv.logdir)
        raise _no_such_run(fv, "give --run_name")
    else:
        directory = os.path.join(fv.logdir, fv.run_name)
        if not os.path.exists(flagfile(directory)) and not fv.checkpoint:
            raise _no_such_run(fv, f"{directory} is not a run directory (it has no {FLAGS_FILE})")
    saved = apply_run_flags(fv, directory)
    from_flags.resolve_batch_norm(fv)
    return directory, saved


def skipped_line(path: str, problem: str) -> str:
    """The line that tells a reader a newer checkpoint was skipped, and why."""
    kept = "" if problem == checkpoints.MISSING else "; its files are left in place"
    return f"Skipped {path}: {problem}{kept}."


def report_checkpoints(directory: str, found: checkpoints.RunCheckpoints, out) -> None:
    """Names each newer checkpoint skipped as damaged, and a damaged state file, one line each on ``out``."""
    for path, problem in found.skipped:
        print(skipped_line(path, problem), file=out, flush=True)
    problem = found.state_problem
    if problem:
        print(f"Note: {os.path.join(directory, 'checkpoint')}, the checkpoint state file, is damaged ({problem}); "
              "the checkpoints were found by their file names, and the next save writes it anew.", file=out,
              flush=True)


def checkpoint_to_use(directory: str | None, checkpoint: str) -> str:
    """``checkpoint`` if given, else the newest in ``directory`` that reads back in full
    (:func:`dlfund.checkpoints.checkpoint_to_use`, the policy the drawing page follows too).

    Each newer checkpoint that is skipped as damaged is named on stderr.

    Raises:
        CheckpointError: there is no checkpoint, or none that reads back.
    """
    if checkpoint:
        return checkpoint
    if not directory:
        raise CheckpointError("no checkpoint given", "Train first (python -m chapter5.train ...) or pass "
                              "--checkpoint=PATH")
    try:
        path, found = checkpoints.checkpoint_to_use(directory)
    except CheckpointError as e:
        if isinstance(e, NoReadableCheckpoint):
            raise
        raise CheckpointError(e.problem, "Train first (python -m chapter5.train ...) or pass --checkpoint=PATH",
                              directory) from None
    report_checkpoints(directory, found, sys.stderr)
    return path


# --- results.json -----------------------------------------------------------------------------------------


def read_results(directory: str) -> dict:
    """The run's ``results.json``, or {} if there is none.

    Raises:
        RunDirError: the file is damaged (not JSON, not text, not an object); it
            is left as it is, so that no run overwrites the history it holds.
    """
    path = os.path.join(directory, RESULTS_FILE)
    if not os.path.exists(path):
        return {}
    instead = "train on: the run's history then starts afresh"
    try:
        results = json.loads(_read_text(path, instead))
    except ValueError as e:
        results = e
    if not isinstance(results, dict):
        reason = f"not JSON: {results}" if isinstance(results, ValueError) else "not a JSON object"
        raise RunDirError(f"{path} is damaged ({reason}); nothing was changed",
                          f"Restore it from a copy, or move it away and {instead}", directory)
    return results


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
        new: this invocation's numbers (:meth:`dlfund.hooks.History.as_dict` and more).
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
    checkpoints.write_atomically(os.path.join(directory, RESULTS_FILE), json.dumps(merged, indent=1))
    return merged


class Invocation:
    """One run of ``chapter5.train`` on a run directory, as ``results.json`` records it.

    Args:
        directory: the run directory.
        fv: the run's flags.
        from_step: the global step it starts from.
        started: when it started, for ``startup_seconds`` (default: when this process started).
    """

    def __init__(self, directory: str, fv: flags.FlagValues, from_step: int, started: float | None = None) -> None:
        self.directory, self.fv, self.from_step = directory, fv, from_step
        self.started = progress.process_start_time() if started is None else started
        self.started_iso = datetime.datetime.now().isoformat(timespec="seconds")

    def save(self, state, history, test=None) -> dict:
        """Adds this invocation to ``results.json``: ``state`` (the loop's end), ``history`` (a
        :class:`dlfund.hooks.History`) and ``test`` (a :class:`dlfund.training.Evaluation`, if tested)."""
        fv = self.fv
        record = {"model": fv.model, "dataset": fv.dataset, "seed": fv.seed, "global_step": state.global_step,
                  "startup_seconds": history.first_step_time and round(history.first_step_time - self.started, 3),
                  **history.as_dict()}
        if test is not None:
            record.update(test_accuracy=test.accuracy, test_cost=test.cost, test_global_step=state.global_step)
        invocation = {"started": self.started_iso, "from_step": self.from_step, "to_step": state.global_step,
                      "train_seconds": round(history.train_seconds, 3), "ended": state.stop_reason or "finished"}
        return update_results(self.directory, record, invocation)
