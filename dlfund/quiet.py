"""Importing TensorFlow without its start-up noise, for the programs and the notebooks.

TensorFlow prints C++ log lines when it loads (oneDNN, CUDA stubs, absl's
"All log messages before absl::InitializeLog() ..."), and the book's
``tf.compat.v1`` style, which uses old APIs on purpose, draws deprecation
warnings. :func:`import_tensorflow` hides both; a reader who wants them passes
``verbose=True`` (``--verbose`` on the command line).

It also leaves Keras out of TensorFlow's import. ``import tensorflow`` imports
``keras.src.optimizers`` eagerly (inside a ``try`` that passes on an
``ImportError``), and Keras in turn imports scikit-learn, matplotlib and IPython
when they are installed: over a third of TensorFlow's import time, which every
program pays at start-up although only ``chapter5.export`` and the Keras
notebook use Keras. With ``TF_USE_LEGACY_KERAS`` set for the duration of the
import, TensorFlow looks for ``tf_keras`` instead, does not find it and goes on;
the variable is removed again at once, so ``tf.keras`` and ``import keras``
(looked up when first used) give Keras 3 as usual.
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
        # Keras is imported when first used, not with TensorFlow (see the module's docstring).
        defer_keras = "keras" not in sys.modules and "TF_USE_LEGACY_KERAS" not in os.environ
        try:
            sys.stderr.flush()
            os.dup2(devnull, 2)
            if defer_keras:
                os.environ["TF_USE_LEGACY_KERAS"] = "1"
            import tensorflow
            # Device discovery prints CUDA messages on machines without a GPU; do it here, muted.
            tensorflow.config.list_physical_devices()
        finally:
            if defer_keras:
                os.environ.pop("TF_USE_LEGACY_KERAS", None)
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
    import tensorflow
    tensorflow.get_logger().setLevel(logging.ERROR)
    for category, message, module in QUIET_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)
    return tensorflow
