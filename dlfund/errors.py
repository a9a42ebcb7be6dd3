"""Errors that the command-line programs turn into one clear message.

Every error raised for bad input (a broken data file, a failed download, a
checkpoint that does not fit the model) derives from :class:`DlfundError`, so the
programs in ``chapter5`` can print its message and exit non-zero without a
traceback.
"""


class DlfundError(Exception):
    """Base class of the errors a reader can fix by changing files or flags."""


class DataError(DlfundError):
    """A data file is missing, malformed or inconsistent. The message names it."""


class DownloadError(DlfundError):
    """A download failed or its checksum did not match."""


class CheckpointError(DlfundError):
    """A checkpoint is missing or does not match the model being restored."""


class RunDirError(DlfundError):
    """The run directory cannot be used (locked by another run, not writable)."""
