"""Importing TensorFlow without its start-up noise, for the programs and the notebooks.

TensorFlow prints C++ log lines when it loads (oneDNN, CUDA stubs, absl's
"All log messages before absl::InitializeLog() ..."), and the book's
``tf.compat.v1`` style, which uses old APIs on purpose, draws deprecation
warnings. :func:`import_tensorflow` hides both; a reader who wants them passes
``verbose=True`` (``--verbose`` on the command line).
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

#: Warnings about TensorFlow's own APIs, which the book's ``tf.compat.v1`` style
#: uses on purpose: (category, message regex, module regex).
QUIET_WARNINGS = (
    (UserWarning, r"`tf\.lite\.Interpreter` is deprecated", ""),
    (DeprecationWarning, "", r"(tensorflow|keras|tensorboard|google\.protobuf)(\.|$)"),
)


def import_tensorflow(verbose: bool = False):
    """Imports and returns TensorFlow with its C++ start-up lines and deprecation warnings hidden.

    ``TF_CPP_MIN_LOG_LEVEL`` hides most C++ logging, but a few lines are written
    to file descriptor 2 before logging is set up, whatever the level; they are
    swallowed by pointing fd 2 at /dev/null for the duration of the import only.
    Python exceptions raised by the import are unaffected. This changes the
    process's logging and warning filters, as ``logging.basicConfig`` does: call
    it once, first.

    Args:
        verbose: import TensorFlow as it is, every message shown.
    """
    if verbose:
        import tensorflow
        return tensorflow
    # 3 also hides C++ ERROR lines (e.g. oneDNN falling back to Eigen): real failures still raise.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" not in sys.modules:
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            sys.stderr.flush()
            os.dup2(devnull, 2)
            import tensorflow
            # Device discovery prints CUDA messages on machines without a GPU; do it here, muted.
            tensorflow.config.list_physical_devices()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
    import tensorflow
    tensorflow.get_logger().setLevel(logging.ERROR)
    for category, message, module in QUIET_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)
    return tensorflow
