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
from collections.abc import Sequence

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
        self.took_over_from: int | None = None
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
                raise RunDirError(f"{self.run_dir}: not writable ({e.strerror or e}); "
                                  "choose another --logdir") from None
            with os.fdopen(fd, "w") as f:
                f.write(f"{os.getpid()}\n")
            self._held = True
            return
        raise RunDirError(f"{self.path}: could not take the lock")

    def _owner(self) -> int | None:
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

    def __enter__(self) -> RunDirLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def latest_checkpoint(run_dir: str) -> str | None:
    """Path prefix of the newest complete checkpoint in ``run_dir``, or None."""
    if not os.path.isdir(run_dir):
        return None
    return tf.train.latest_checkpoint(run_dir)


def checkpoint_step(path: str) -> int:
    """The global step in a checkpoint name ``.../model-checkpoint-<step>`` (0 if none)."""
    tail = os.path.basename(path).rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def check_compatible(checkpoint: str, var_list: Sequence[tf.Variable]) -> None:
    """Raises CheckpointError unless ``checkpoint`` holds exactly ``var_list``, under their own names.

    For resuming a run from its own checkpoints, whose Saver restores by these
    names. The check is :func:`checkpoint_map`'s, so model variables of the
    checkpoint that ``var_list`` leaves unused (a run resumed without the
    ``--book_output_relu`` it was trained with) are refused, not restored in part.

    Args:
        checkpoint: checkpoint path prefix.
        var_list: the variables to restore (model and optimizer).

    Raises:
        CheckpointError: one message naming the checkpoint, the missing
            variables, the shape mismatches and the unused ones.
    """
    names, note = checkpoint_map(checkpoint, {v.op.name: v.shape.as_list() for v in var_list})
    if any(name != stored for name, stored in names.items()):
        raise CheckpointError(f"{checkpoint} has its {note}, not this code's: start a new run from it with "
                              f"--init_checkpoint={checkpoint}")


#: Batch-norm moving averages in checkpoints of the book's own code, by the TensorFlow that wrote it.
#: ``X`` is the layer's scope twice (``cifar_conv_bn_model/conv_1/cifar_conv_bn_model/conv_1``):
#: the name TF 1.2 and later give the mean, the variance, and the zero-debias bookkeeping
#: that only 0.12 writes (not needed to restore: the averages themselves are debiased).
BOOK_ERA_AVERAGES = (
    ("TensorFlow 1.2 or later", "{X}/moments/Squeeze", "{X}/moments/Squeeze_1"),
    ("TensorFlow 0.8-1.1", "{X}/moments/moments_1/mean", "{X}/moments/moments_1/variance"),
    ("TensorFlow 0.7", "{X}/moments/Squeeze_3", "{X}/moments/variance"),  # conv layers
    ("TensorFlow 0.7", "{X}/moments/Squeeze_1", "{X}/moments/variance"),  # fc layers
)
_EMA = "/ExponentialMovingAverage"
_ZERO_DEBIAS_PARTS = (_EMA + "/biased", _EMA + "/local_step")


def _stored_shapes(checkpoint: str) -> dict:
    try:
        return dict(tf.train.list_variables(checkpoint))
    except (tf.errors.OpError, ValueError) as e:
        raise CheckpointError(f"{checkpoint}: not a readable checkpoint ({str(e).splitlines()[0]})") from None


def checkpoint_names(var_names: Sequence[str], stored: dict) -> tuple[dict, set]:
    """Maps each model variable name to its name in a checkpoint, whichever TensorFlow wrote it.

    Weights, biases, ``beta``, ``gamma`` and ``global_step`` keep their names in
    every version; only the batch-norm moving averages were named after the
    internal ops of ``tf.nn.moments``, which changed (:data:`BOOK_ERA_AVERAGES`).
    Each layer's pair is looked up as one, in the first naming the checkpoint has.

    Args:
        var_names: the model's variable names (as this code names them, TF 1.2+).
        stored: the checkpoint's ``{name: shape}``.

    Returns:
        ({model name: checkpoint name}, the set of TensorFlow versions whose
        naming was used for the averages).
    """
    mapping, eras = {}, set()
    for name in var_names:
        mapping.setdefault(name, name)  # a variance may have been mapped already, with its mean
        if not name.endswith("/moments/Squeeze" + _EMA):
            continue
        layer = name[:-len("/moments/Squeeze" + _EMA)]
        variance = f"{layer}/moments/Squeeze_1{_EMA}"
        for era, mean_name, var_name in BOOK_ERA_AVERAGES:
            mean_name, var_name = mean_name.format(X=layer) + _EMA, var_name.format(X=layer) + _EMA
            if mean_name in stored and var_name in stored:
                mapping[name], mapping[variance] = mean_name, var_name
                eras.add(era)
                break
    return mapping, eras


def checkpoint_map(checkpoint: str, shapes: dict) -> tuple[dict, str]:
    """Where each model variable is stored in ``checkpoint``, checked completely.

    Every variable must be in the checkpoint with its shape, and every model
    variable of the checkpoint must be used (optimizer state and 0.12's
    zero-debias bookkeeping excepted), so nothing is restored only in part.

    Args:
        checkpoint: path prefix (or V1 file).
        shapes: ``{model variable name: shape}`` (names as this code gives them).

    Returns:
        ({model name: checkpoint name}, a note naming the TensorFlow whose
        batch-norm names were read, "" for this code's own).

    Raises:
        CheckpointError: naming what is missing, of another shape, or unused.
    """
    stored = _stored_shapes(checkpoint)
    names, eras = checkpoint_names(list(shapes), stored)
    missing, wrong = [], []
    for name, shape in shapes.items():
        if names[name] not in stored:
            missing.append(name)
        elif list(stored[names[name]]) != list(shape):
            wrong.append(f"{name} (checkpoint {list(stored[names[name]])}, model {list(shape)})")
    used = set(names.values())
    unused = sorted(n for n in stored if n not in used and not is_optimizer_state(n)
                    and not n.endswith(_ZERO_DEBIAS_PARTS))
    if missing or wrong or unused:
        raise CheckpointError(_mismatch_message(checkpoint, missing, wrong, unused))
    note = "batch-norm averages named as by " + " and ".join(sorted(eras)) if eras - {BOOK_ERA_AVERAGES[0][0]} else ""
    return names, note


def _mismatch_message(checkpoint: str, missing: list, wrong: list, unused: list) -> str:
    parts = []
    if missing:
        parts.append(f"missing {len(missing)}: {', '.join(missing[:12])}" + (" ..." if len(missing) > 12 else ""))
    if wrong:
        parts.append(f"wrong shape: {', '.join(wrong[:12])}")
    if unused:
        parts.append(f"in the checkpoint but not in the model: {', '.join(unused[:12])}"
                     + (" ..." if len(unused) > 12 else ""))
    hint = "Check --model (and --hidden_units) against the run that wrote it."
    if unused and not missing and not wrong and all("/output/" in n for n in unused):
        hint = ("These are the output layer's batch norm of the book's listing (errata E1): "
                "pass --book_output_relu to build the network as printed.")
    return f"{checkpoint} does not match this model; " + "; ".join(parts) + ". " + hint


def checkpoint_exists(path: str) -> bool:
    """True if ``path`` is a checkpoint prefix (``path.index``, TF 0.12+) or a V1 checkpoint file (TF <= 0.11)."""
    return tf.io.gfile.exists(path + ".index") or (os.path.isfile(path) and not path.endswith(".meta"))


def restore_model(sess: v1.Session, graph: tf.Graph, var_list: Sequence[tf.Variable], checkpoint: str) -> str:
    """Restores a model's variables from a checkpoint of this code or of the book's own (any TF version).

    Args:
        sess: a session of ``graph``.
        graph: the graph holding ``var_list``.
        var_list: the model's variables (weights, batch-norm parameters and
            averages, global step; not the optimizer's).
        checkpoint: path prefix (or V1 file) of the checkpoint.

    Returns:
        A note on the batch-norm naming read ("" for this code's own).

    Raises:
        CheckpointError: the checkpoint is missing or does not match (see
            :func:`checkpoint_map`).
    """
    if not checkpoint_exists(checkpoint):
        raise CheckpointError(f"{checkpoint}: no such checkpoint (expected {checkpoint}.index, "
                              "or a single-file checkpoint of TensorFlow 0.11 or older)")
    names, note = checkpoint_map(checkpoint, {v.op.name: v.shape.as_list() for v in var_list})
    with graph.as_default():
        v1.train.Saver(var_list={names[v.op.name]: v for v in var_list}).restore(sess, checkpoint)
    return note


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
        reason = "disk full" if full else msg.splitlines()[0]
        raise RunDirError(f"{run_dir}: could not save a checkpoint at step {global_step} ({reason}); "
                          "the previous checkpoints are kept") from None
