"""Saver checkpoints: save, find the newest intact one, restore checkpoints of this code and of the book's.

A training run keeps its checkpoints ``model-checkpoint-<global_step>`` (as the
book names them) in one directory, beside TensorFlow's ``checkpoint`` state
file; this module owns those files and nothing else of the directory.

A checkpoint counts as saved only once it reads back in full: the
``checkpoint`` state file names it (by base name, so the directory can be moved
or copied) only after that (:class:`CheckpointKeeper`). Resuming and evaluating
use the newest checkpoint that reads back, whatever the state file says, and
report the newer ones that do not (:func:`find_checkpoints`); damaged files are
left in place.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import json
import os
from collections.abc import Sequence
from typing import NamedTuple

import tensorflow as tf
from google.protobuf import text_format

from dlfund.errors import CheckpointError, CheckpointMismatch, ForeignCheckpoint, NoReadableCheckpoint, RunDirError

v1 = tf.compat.v1

CHECKPOINT_PREFIX = "model-checkpoint"


#: Name parts of optimizer state (slots like ``.../W/Adam``, ``beta1_power``): not part of a trained model.
OPTIMIZER_NAME_PARTS = ("/Adam", "/Momentum", "/Adagrad", "/RMSProp", "_power")


def is_optimizer_state(name: str) -> bool:
    """True for a variable that belongs to an optimizer, not to the model."""
    return any(part in name for part in OPTIMIZER_NAME_PARTS)


def checkpoint_step(path: str) -> int:
    """The global step in a checkpoint name ``.../model-checkpoint-<step>`` (0 if none)."""
    tail = os.path.basename(path).rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def checkpoint_files(path: str) -> list:
    """The files of the checkpoint with prefix ``path`` that exist: index, data shards, meta graph, V1 file."""
    parts = [p for p in glob.glob(glob.escape(path) + ".*") if _is_part(path, p)]
    return sorted(parts + ([path] if os.path.isfile(path) else []))


def _is_part(path: str, name: str) -> bool:
    suffix = name[len(path):]
    return suffix in (".index", ".meta", PROGRESS_SUFFIX) or suffix.startswith(".data-")


#: Beside ``model-checkpoint-<step>``: the running cost of the epoch it was saved in (:class:`EpochProgress`).
PROGRESS_SUFFIX = ".progress.json"


class EpochProgress(NamedTuple):
    """Where in its epoch a checkpoint was saved: the epoch (from 0), its steps so far and their summed cost.

    Saved beside each checkpoint, so that an epoch interrupted and resumed is
    displayed with the average cost of all its steps, as if it had not stopped.
    """
    epoch: int
    steps: int
    cost_sum: float


def read_progress(path: str) -> EpochProgress | None:
    """The :class:`EpochProgress` saved with checkpoint ``path``, or None (older checkpoints, unreadable)."""
    try:
        with open(path + PROGRESS_SUFFIX) as f:
            saved = json.load(f)
        return EpochProgress(int(saved["epoch"]), int(saved["steps"]), float(saved["cost_sum"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


#: What :func:`checkpoint_problem` says of a checkpoint named in the state file with no files at all.
MISSING = "its files are missing"


def checkpoint_problem(path: str) -> str | None:
    """What keeps the checkpoint ``path`` from being restored in full, or None if every tensor reads back.

    A V2 checkpoint is an index file and data shards; each tensor is read and
    its CRC-32C checked by TensorFlow's reader, so a truncated or overwritten
    data file is found, not only a missing one.

    Args:
        path: checkpoint path prefix (or a V1 single-file checkpoint).

    Returns:
        None, or a short description naming the file at fault.
    """
    name = os.path.basename(path)
    index = path + ".index"
    if not os.path.exists(index):
        if os.path.isfile(path):  # V1 (TensorFlow 0.11 or older): one file
            return _unreadable(path)
        if not checkpoint_files(path):
            return MISSING
        return f"{name}.index is missing"
    shards = _data_shards(path)
    missing = [s for s in shards if not os.path.exists(s)]
    if missing:
        return f"{os.path.basename(missing[0])} is missing"
    return _unreadable(path)


def _data_shards(path: str) -> list:
    existing = glob.glob(glob.escape(path) + ".data-?????-of-?????")
    total = max((int(s.rsplit("-of-", 1)[1]) for s in existing), default=1)
    return [f"{path}.data-{i:05d}-of-{total:05d}" for i in range(total)]


#: What TensorFlow's checkpoint reader raises for a damaged file (IndexError: "Read less bytes than requested").
_READ_ERRORS = (tf.errors.OpError, ValueError, RuntimeError, IndexError, OSError)


def _unreadable(path: str) -> str | None:
    v2 = os.path.exists(path + ".index")
    part = os.path.basename(path) + ".index" if v2 else os.path.basename(path)
    try:
        reader = tf.train.load_checkpoint(path)
        part = os.path.basename(path) + ".data-*" if v2 else part
        for tensor in reader.get_variable_to_shape_map():
            reader.get_tensor(tensor)
    except _READ_ERRORS as e:
        return f"{part} is truncated or damaged ({_first_line(e)})"
    return None


class RunCheckpoints(NamedTuple):
    """The checkpoints of a run directory, each checked by :func:`checkpoint_problem`.

    Attributes:
        intact: paths of the checkpoints that read back in full, oldest first.
        damaged: (path, what is wrong) of the others, newest first.
        state_problem: what keeps the ``checkpoint`` state file from being read, or
            None. A damaged state file costs nothing: the checkpoints are found by
            their file names and the next save writes it anew.
    """
    intact: list
    damaged: list
    state_problem: str | None = None

    @property
    def latest(self) -> str | None:
        """The newest intact checkpoint, or None."""
        return self.intact[-1] if self.intact else None

    @property
    def skipped(self) -> list:
        """(path, what is wrong) of the damaged checkpoints newer than :attr:`latest`."""
        newest = checkpoint_step(self.latest) if self.latest else -1
        return [(p, why) for p, why in self.damaged if checkpoint_step(p) > newest]


def _read_state(run_dir: str) -> tuple[list, str | None]:
    """Base names of the checkpoints the state file lists (absolute paths of older runs included), and what
    keeps the state file from being read (None if it reads, or is not there)."""
    try:
        state = tf.train.get_checkpoint_state(run_dir)
    except (tf.errors.OpError, ValueError, text_format.ParseError) as e:  # UnicodeDecodeError is a ValueError
        return [], _first_line(e)
    if state is None:
        return [], None
    return [os.path.basename(p) for p in [*state.all_model_checkpoint_paths, state.model_checkpoint_path] if p], None


def candidates(run_dir: str) -> list:
    """Paths of the checkpoints ``run_dir`` may hold, newest first, none of them checked.

    They are the checkpoints the ``checkpoint`` state file lists and the
    ``model-checkpoint-*`` files present, each looked up by its base name in
    ``run_dir``: so a run directory that was moved or copied uses its own
    files, even where an older state file holds absolute paths to the original.
    """
    return _candidates(run_dir, _read_state(run_dir)[0])


def _candidates(run_dir: str, state_names: list) -> list:
    if not os.path.isdir(run_dir):
        return []
    names = set(state_names)
    for found in glob.glob(os.path.join(glob.escape(run_dir), CHECKPOINT_PREFIX + "-*")):
        base = os.path.basename(found)
        prefix = base.split(".", 1)[0] if "." in base else base
        if checkpoint_step(prefix) or prefix == CHECKPOINT_PREFIX + "-0":
            names.add(prefix)
    return [os.path.join(run_dir, n) for n in sorted(names, key=lambda n: (checkpoint_step(n), n), reverse=True)]


def find_checkpoints(run_dir: str, newest_only: bool = False) -> RunCheckpoints:
    """The checkpoints of ``run_dir`` (:func:`candidates`), each checked, whatever the state file says.

    Args:
        run_dir: the run directory.
        newest_only: stop at the newest intact checkpoint (enough to use one;
            a training run needs them all, to keep ``max_to_keep``).

    Returns:
        A :class:`RunCheckpoints` (both lists empty for a missing directory).
    """
    intact, damaged = [], []
    state_names, state_problem = _read_state(run_dir)
    for path in _candidates(run_dir, state_names):
        problem = checkpoint_problem(path)
        if problem:
            damaged.append((path, problem))
        else:
            intact.append(path)
            if newest_only:
                break
    return RunCheckpoints(intact[::-1], damaged, state_problem)


def latest_intact(run_dir: str) -> str | None:
    """Path prefix of the newest checkpoint in ``run_dir`` that reads back in full, or None.

    Unlike ``tf.train.latest_checkpoint``, which returns what the state file
    names, this checks the files themselves (:func:`find_checkpoints`).
    """
    return find_checkpoints(run_dir, newest_only=True).latest


def newest_intact(run_dir: str, newest_only: bool = False) -> RunCheckpoints:
    """:func:`find_checkpoints`, refusing a run directory whose checkpoints are all damaged.

    Raises:
        NoReadableCheckpoint: checkpoint files are there but none reads back; they are left as they are.
    """
    found = find_checkpoints(run_dir, newest_only)
    if found.damaged and not found.intact:
        raise NoReadableCheckpoint(run_dir, found.damaged)
    return found


def complete(run_dir: str) -> list:
    """Paths of the run's checkpoints whose files are all there (index written), newest first, not read.

    Cheap enough to call on every listing of the runs; :func:`checkpoint_to_use` reads the one chosen.
    """
    return [p for p in candidates(run_dir) if checkpoint_exists(p)]


def checkpoint_to_use(run_dir: str, step: int | None = None) -> tuple[str, RunCheckpoints]:
    """Which checkpoint of a run to use: the one at ``step``, or (None) the newest that reads back in full.

    The one answer to "which checkpoints does this run have, and which reads
    back", for every program and the drawing page alike.

    Args:
        run_dir: the run directory.
        step: the checkpoint's global step; None for the newest intact one.

    Returns:
        (the checkpoint's path prefix, the run's checkpoints as checked: for
        the newest, :attr:`RunCheckpoints.skipped` names the newer damaged ones).

    Raises:
        NoReadableCheckpoint: checkpoint files are there but none reads back (``step`` None).
        CheckpointError: the run has no checkpoint (at ``step``), or the one at ``step`` does not read back
            (``path`` is then that checkpoint, not the run directory).
    """
    if step is None:
        found = newest_intact(run_dir, newest_only=True)
        if not found.latest:
            raise CheckpointError(f"no checkpoint in {run_dir}", "Train first", run_dir)
        return found.latest, found
    at_step = [p for p in candidates(run_dir) if checkpoint_step(p) == step]
    if not at_step:
        steps = ", ".join(str(checkpoint_step(p)) for p in complete(run_dir)[::-1]) or "none"
        raise CheckpointError(f"{run_dir} has no checkpoint at step {step} (it has {steps})", "", run_dir)
    problem = checkpoint_problem(at_step[0])
    if problem:
        kept = "" if problem == MISSING else "; its files are left in place"
        raise CheckpointError(f"{at_step[0]} cannot be read: {problem}{kept}", "", at_step[0])
    return at_step[0], RunCheckpoints(at_step, [])


def check_compatible(checkpoint: str, var_list: Sequence[tf.Variable]) -> None:
    """Raises CheckpointError unless ``checkpoint`` holds exactly ``var_list``, under their own names.

    For resuming a run from its own checkpoints, whose Saver restores by these
    names. The check is :func:`checkpoint_map`'s, so model variables of the
    checkpoint that ``var_list`` leaves unused (a run resumed without the
    ``book_output_relu`` it was trained with) are refused, not restored in part.

    Args:
        checkpoint: checkpoint path prefix.
        var_list: the variables to restore (model and optimizer).

    Raises:
        CheckpointMismatch: naming the missing variables, the shape mismatches and the unused ones.
        ForeignCheckpoint: the checkpoint names its batch-norm averages as another TensorFlow did.
    """
    names, note = checkpoint_map(checkpoint, {v.op.name: v.shape.as_list() for v in var_list})
    if any(name != stored for name, stored in names.items()):
        raise ForeignCheckpoint(checkpoint, note)


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
        raise CheckpointError(f"{checkpoint}: not a readable checkpoint ({_first_line(e)})",
                              path=checkpoint) from None


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
        CheckpointMismatch: naming what is missing, of another shape, or unused.
        CheckpointError: the checkpoint cannot be read.
    """
    stored = _stored_shapes(checkpoint)
    names, eras = checkpoint_names(list(shapes), stored)
    missing, wrong = [], []
    for name, shape in shapes.items():
        if names[name] not in stored:
            missing.append(name)
        elif list(stored[names[name]]) != list(shape):
            wrong.append((name, list(stored[names[name]]), list(shape)))
    used = set(names.values())
    unused = sorted(n for n in stored if n not in used and not is_optimizer_state(n)
                    and not n.endswith(_ZERO_DEBIAS_PARTS))
    if missing or wrong or unused:
        raise CheckpointMismatch(checkpoint, missing, wrong, unused)
    note = "batch-norm averages named as by " + " and ".join(sorted(eras)) if eras - {BOOK_ERA_AVERAGES[0][0]} else ""
    return names, note


def checkpoint_exists(path: str) -> bool:
    """True if ``path`` is a checkpoint prefix (``path.index``, TF 0.12+) or a V1 checkpoint file (TF <= 0.11)."""
    return tf.io.gfile.exists(path + ".index") or (os.path.isfile(path) and not path.endswith(".meta"))


def restore_variables(sess: v1.Session, var_list: Sequence[tf.Variable], checkpoint: str) -> str:
    """Restores a model's variables from a checkpoint of this code or of the book's own (any TF version).

    :func:`dlfund.training.restore_model` calls this with a built model's variables.

    Args:
        sess: a session of the graph holding ``var_list``.
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
                              "or a single-file checkpoint of TensorFlow 0.11 or older)", path=checkpoint)
    names, note = checkpoint_map(checkpoint, {v.op.name: v.shape.as_list() for v in var_list})
    with sess.graph.as_default():
        saver = v1.train.Saver(var_list={names[v.op.name]: v for v in var_list})
    restore(sess, saver, checkpoint)
    return note


def restore(sess: v1.Session, saver: v1.train.Saver, checkpoint: str) -> None:
    """``saver.restore``, a checkpoint that cannot be read raising :class:`CheckpointError`."""
    try:
        with sess.graph.as_default():  # Saver.restore is eager outside a graph
            saver.restore(sess, checkpoint)
    except _READ_ERRORS as e:
        raise CheckpointError(f"{checkpoint}: not readable ({_first_line(e)})", path=checkpoint) from None


class CheckpointKeeper:
    """Saves a run's checkpoints (the listing's ``saver.save``) and keeps the newest ``max_to_keep``, across runs.

    TF's Saver names a checkpoint in the ``checkpoint`` state file as soon as it
    is written, by absolute path, and prunes only what its own process saved, so
    a resumed run keeps every earlier process's checkpoints on top of its own.
    Here the Saver writes the files only; each checkpoint is read back in full
    (:func:`checkpoint_problem`) before the state file names it, by base name
    (relative: the run directory can be moved or copied); then the oldest intact
    checkpoints beyond the Saver's ``max_to_keep``, whichever process saved them,
    are deleted. Damaged checkpoints are neither named, counted nor deleted.

    Args:
        saver: the graph's Saver.
        run_dir: the run directory.
        kept: the intact checkpoints already there, oldest first (:attr:`RunCheckpoints.intact`).
    """

    def __init__(self, saver: v1.train.Saver, run_dir: str, kept: Sequence[str] = ()) -> None:
        self.saver, self.run_dir, self.kept = saver, run_dir, list(kept)
        self.max_to_keep = saver.saver_def.max_to_keep

    @property
    def latest(self) -> str | None:
        """The newest checkpoint saved or found intact, or None."""
        return self.kept[-1] if self.kept else None

    def save(self, sess: v1.Session, global_step: int, progress: EpochProgress | None = None) -> str:
        """Saves ``model-checkpoint-<global_step>``, checks it, names it in the state file; returns its path.

        ``progress``, if given, is written beside it (``<path>.progress.json``) before it is named.

        Raises:
            RunDirError: the disk is full, the directory is not writable, or the
                checkpoint does not read back; the previous checkpoints are untouched.
        """
        try:
            with sess.graph.as_default():  # Saver.save is eager outside a graph
                path = self.saver.save(sess, os.path.join(self.run_dir, CHECKPOINT_PREFIX), global_step=global_step,
                                       write_meta_graph=False, write_state=False)
            problem = checkpoint_problem(path)
            if problem:
                raise RunDirError(f"{self.run_dir}: the checkpoint saved at step {global_step} does not read back "
                                  f"({problem}); the previous checkpoints are kept", path=self.run_dir)
            if progress is not None:
                write_atomically(path + PROGRESS_SUFFIX, json.dumps(progress._asdict()))
            kept = [p for p in self.kept if p != path] + [path]
            pruned = kept[:-self.max_to_keep] if self.max_to_keep else []
            names = [os.path.basename(p) for p in kept[len(pruned):]]
            v1.train.update_checkpoint_state(os.path.abspath(self.run_dir), names[-1], names)
        except (tf.errors.OpError, OSError) as e:
            raise RunDirError(f"{self.run_dir}: could not save a checkpoint at step {global_step} ({_reason(e)}); "
                              "the previous checkpoints are kept", path=self.run_dir) from None
        self.kept = kept[len(pruned):]
        for old in pruned:
            for name in checkpoint_files(old):
                with contextlib.suppress(OSError):
                    os.remove(name)
        return path


def write_atomically(path: str, text: str) -> None:
    """Writes ``path`` by renaming a complete temporary file over it: a reader never sees it half written."""
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def _reason(e: Exception) -> str:
    if "No space left" in str(e) or getattr(e, "errno", None) == errno.ENOSPC:
        return "disk full"
    return _first_line(e)


def _first_line(e: Exception) -> str:
    """The first line of an error's message (TensorFlow's run to many), at most 200 characters."""
    text = (getattr(e, "message", None) or str(e)).strip()
    return text.splitlines()[0][:200] if text else type(e).__name__
