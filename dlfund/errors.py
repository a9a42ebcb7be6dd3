"""The errors ``dlfund`` raises for things a user can fix, each with the data it is about.

Every error raised for bad input (a broken data file, a failed download, a
checkpoint that does not fit the model, a run that diverged) derives from
:class:`DlfundError`. Its message speaks of files, data and Python arguments,
never of command-line flags: ``problem`` says what is wrong, ``advice`` what to
do about it in Python terms, and the fields say what it is about (the path,
the data set, the names that do not fit). A program that has flags (the
``chapter5`` package) keeps ``problem`` and writes its own advice from the
fields (``chapter5/_cli.py: command_line_message``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence


class DlfundError(Exception):
    """Base class of the errors a user can fix by changing files or arguments.

    Attributes:
        problem: what is wrong (naming the file, directory or data set).
        advice: what to do, in terms of dlfund's Python arguments ("" if nothing to add).
        path: the file or directory it is about, where there is one.
    """

    def __init__(self, problem: str, advice: str = "", path: str | None = None) -> None:
        self.problem, self.advice, self.path = problem, advice, path
        super().__init__(f"{problem}. {advice}" if advice else problem)


class DataError(DlfundError):
    """A data file is malformed or inconsistent, or a data argument does not fit the data. The message names it."""


class DownloadError(DlfundError):
    """A download failed or its checksum did not match."""


class DataUnavailable(DownloadError):
    """A data set's files are not on disk and were not, or could not be, downloaded.

    Attributes:
        dataset: the data set's name (``mnist``, ``fashion_mnist``, ``cifar10``).
        data_dir: where its files were looked for.
        missing: the file names that are missing.
        reason: why downloading failed, or None if downloading was off.
        remedy: how to put the files there by hand.
    """

    #: The offline alternative, in Python terms.
    SAMPLE = 'or read the bundled MNIST sample offline: read_data_sets("", dataset="mnist_sample")'

    def __init__(self, problem: str, dataset: str, data_dir: str, missing: Sequence[str], reason: str | None,
                 remedy: str) -> None:
        self.dataset, self.data_dir, self.missing, self.reason, self.remedy = (dataset, data_dir, tuple(missing),
                                                                               reason, remedy)
        super().__init__(problem, f"{remedy}, {self.SAMPLE}")


class CheckpointError(DlfundError):
    """A checkpoint is missing or unreadable, or does not match the model being restored.

    ``path`` is the checkpoint's path prefix (or the run directory), also as ``checkpoint``.
    """

    @property
    def checkpoint(self) -> str | None:
        return self.path


class CheckpointMismatch(CheckpointError):
    """A checkpoint's variables are not the model's: some missing, of another shape, or left unused.

    Attributes:
        missing: model variables the checkpoint does not hold.
        wrong_shape: ``(name, shape in the checkpoint, shape in the model)`` of each that differs.
        unused: model variables of the checkpoint the model does not have.
    """

    def __init__(self, checkpoint: str, missing: Sequence[str], wrong_shape: Sequence[tuple],
                 unused: Sequence[str]) -> None:
        self.missing, self.wrong_shape, self.unused = list(missing), list(wrong_shape), list(unused)
        parts = []
        if missing:
            parts.append(f"missing {len(missing)}: {', '.join(missing[:12])}" + (" ..." if len(missing) > 12 else ""))
        if wrong_shape:
            parts.append("wrong shape: " + ", ".join(f"{name} (checkpoint {stored}, model {shape})"
                                                     for name, stored, shape in wrong_shape[:12]))
        if unused:
            parts.append(f"in the checkpoint but not in the model: {', '.join(unused[:12])}"
                         + (" ..." if len(unused) > 12 else ""))
        if self.output_batch_norm_only:
            advice = ("These are the output layer's batch norm of the book's listing (errata E1): build the "
                      "model with ModelOptions(book_output_relu=True), as printed.")
        else:
            advice = "Check the model and its ModelOptions (hidden_units) against the code that wrote it."
        super().__init__(f"{checkpoint} does not match this model; " + "; ".join(parts), advice, checkpoint)

    @property
    def output_batch_norm_only(self) -> bool:
        """All that differs is the output layer's batch norm, which the book's listing has (errata E1)."""
        return bool(self.unused) and not self.missing and not self.wrong_shape and all(
            "/output/" in n for n in self.unused)


class ForeignCheckpoint(CheckpointError):
    """A checkpoint of other code (the book's, an older TensorFlow) where a run's own checkpoint was expected.

    It restores into a new model (its names are mapped), but a resume restores
    by this code's names only.

    Attributes:
        note: whose naming the checkpoint uses.
    """

    def __init__(self, checkpoint: str, note: str) -> None:
        self.note = note
        super().__init__(f"{checkpoint} has its {note}, not this code's",
                         f"Start a new run from it: restore_or_initialize(..., init_checkpoint={checkpoint!r})",
                         checkpoint)


class NoReadableCheckpoint(CheckpointError):
    """A run directory holds checkpoint files, but none of them reads back in full.

    Attributes:
        run_dir: the directory.
        damaged: (path, what is wrong), newest first.
    """

    def __init__(self, run_dir: str, damaged: Sequence[tuple]) -> None:
        self.run_dir, self.damaged = run_dir, list(damaged)
        described = ", ".join(f"{os.path.basename(p)} ({why})" for p, why in damaged)
        super().__init__(f"{run_dir} holds checkpoints but none is readable: {described}; nothing was changed",
                         "To start the run over, train into another directory", run_dir)


class RunDirError(DlfundError):
    """A directory cannot be written (not writable, disk full), or a saved file does not read back; ``path``
    is the directory."""


class TrainingDiverged(DlfundError):
    """The cost or a variable became NaN or infinite; nothing was saved after that step.

    Attributes:
        global_step: the step at which it was found.
        variables: the names of the non-finite variables ([] when it was the cost).
    """

    def __init__(self, problem: str, global_step: int, variables: Sequence[str] = ()) -> None:
        self.global_step, self.variables = global_step, list(variables)
        super().__init__(problem, "Training diverged: a lower learning rate may help; the newest checkpoint, "
                                  "if any, is the last good one")
