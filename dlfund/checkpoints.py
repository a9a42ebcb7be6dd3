"""Run directories and Saver checkpoints: save, resume, restore book-era checkpoints, lock.

A run directory ``logs/<run_name>/`` holds the TensorBoard event files, the
checkpoints ``model-checkpoint-<global_step>`` (as the book names them), the
resolved flags (``flags.cfg``) and ``run_info.txt``. While a run trains it
holds ``run.lock`` with the owner's pid, so a second run cannot write the same
directory at once.

TF's Saver writes a checkpoint's data and index files first and rewrites the
``checkpoint`` state file (atomically, by rename) last, so the latest
checkpoint named there is always complete, even if the process is killed
while saving.
"""

from __future__ import annotations

import errno
import os
from typing import Optional, Sequence

import tensorflow as tf

from dlfund.errors import CheckpointError, RunDirError

v1 = tf.compat.v1

CHECKPOINT_PREFIX = "model-checkpoint"
LOCK_FILE = "run.lock"


#: Name parts of optimizer state (slots like ``.../W/Adam``, ``beta1_power``): not part of a trained model.
OPTIMIZER_NAME_PARTS = ("/Adam", "/Momentum", "/Adagrad", "/RMSProp", "_power")


def is_optimizer_state(name: str) -> bool:
    """True for a variable that belongs to an optimizer, not to the model."""
    return any(part in name for part in OPTIMIZER_NAME_PARTS)


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
        run_dir: directory to create (if needed) and lock.

    Raises:
        RunDirError: the directory cannot be created or written, or another live
            process holds the lock. A lock left by a dead process is taken over.
    """

    def __init__(self, run_dir: str) -> None:
        self.run_dir = run_dir
        self.path = os.path.join(run_dir, LOCK_FILE)
        self.took_over_from: Optional[int] = None
        self._held = False

    def acquire(self) -> None:
        try:
            os.makedirs(self.run_dir, exist_ok=True)
        except OSError as e:
            raise RunDirError(f"{self.run_dir}: cannot create the run directory ({e.strerror or e})") from None
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = self._owner()
                if owner is not None and owner != os.getpid() and _pid_alive(owner):
                    raise RunDirError(
                        f"{self.run_dir} is in use by another training run (pid {owner}, lock file {self.path}); "
                        "wait for it to finish, stop it, or choose another --run_name") from None
                self.took_over_from = owner
                try:
                    os.remove(self.path)  # stale: its owner is gone
                except FileNotFoundError:
                    pass
                continue
            except OSError as e:
                raise RunDirError(f"{self.run_dir}: not writable ({e.strerror or e}); choose another --logdir") from None
            with os.fdopen(fd, "w") as f:
                f.write(f"{os.getpid()}\n")
            self._held = True
            return
        raise RunDirError(f"{self.path}: could not take the lock")

    def _owner(self) -> Optional[int]:
        try:
            with open(self.path) as f:
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

    def __enter__(self) -> "RunDirLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def latest_checkpoint(run_dir: str) -> Optional[str]:
    """Path prefix of the newest complete checkpoint in ``run_dir``, or None."""
    if not os.path.isdir(run_dir):
        return None
    return tf.train.latest_checkpoint(run_dir)


def checkpoint_step(path: str) -> int:
    """The global step in a checkpoint name ``.../model-checkpoint-<step>`` (0 if none)."""
    tail = os.path.basename(path).rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def check_compatible(checkpoint: str, var_list: Sequence[tf.Variable]) -> None:
    """Raises CheckpointError listing every variable the checkpoint lacks or has with another shape.

    Args:
        checkpoint: checkpoint path prefix.
        var_list: the variables to restore.

    Raises:
        CheckpointError: one message naming the checkpoint, the missing
            variables and the shape mismatches.
    """
    try:
        stored = dict(tf.train.list_variables(checkpoint))
    except (tf.errors.OpError, ValueError) as e:
        raise CheckpointError(f"{checkpoint}: not a readable checkpoint ({str(e).splitlines()[0]})") from None
    missing, wrong = [], []
    for v in var_list:
        name = v.op.name
        if name not in stored:
            missing.append(name)
        elif list(stored[name]) != v.shape.as_list():
            wrong.append(f"{name} (checkpoint {list(stored[name])}, model {v.shape.as_list()})")
    if missing or wrong:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)}: {', '.join(missing[:12])}" + (" ..." if len(missing) > 12 else ""))
        if wrong:
            parts.append(f"wrong shape: {', '.join(wrong[:12])}")
        model_vars = {v.op.name for v in var_list}
        extra = sorted(n for n in stored if n not in model_vars and not is_optimizer_state(n))
        if extra:
            parts.append(f"in the checkpoint but not in the model: {', '.join(extra[:12])}")
        raise CheckpointError(f"{checkpoint} does not match this model; " + "; ".join(parts) +
                              ". Check --model (and --hidden_units) against the run that wrote it.")


def save(sess: v1.Session, saver: v1.train.Saver, run_dir: str, global_step: int) -> str:
    """Saves ``model-checkpoint-<global_step>`` in ``run_dir``; returns its path.

    Raises:
        RunDirError: the disk is full or the directory is not writable; the
            previous checkpoints are untouched.
    """
    try:
        return saver.save(sess, os.path.join(run_dir, CHECKPOINT_PREFIX), global_step=global_step,
                          write_meta_graph=False)
    except (tf.errors.OpError, OSError) as e:
        msg = getattr(e, "message", None) or str(e)
        full = "No space left" in msg or getattr(e, "errno", None) == errno.ENOSPC
        raise RunDirError(f"{run_dir}: could not save a checkpoint at step {global_step} "
                          f"({'disk full' if full else msg.splitlines()[0]}); the previous checkpoints are kept") from None
