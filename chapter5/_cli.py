"""Shared plumbing of the chapter 5 programs: quiet start-up, error handling, progress bars.

Import this module before anything that imports TensorFlow: :func:`quiet_tensorflow`
hides TensorFlow's start-up noise so that a reader sees the book's output lines.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import warnings
from typing import Callable, Optional, TextIO


def _process_start_time() -> float:
    """Wall-clock time at which this process started (Linux /proc; else this module's import)."""
    try:
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return time.time() - (uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return time.time()


#: When the process started, for "start-up to first step" measurements.
PROCESS_START = _process_start_time()


def _verbose_requested(argv: list) -> bool:
    return any(a in ("--verbose", "--verbose=true", "--verbose=True", "--verbose=1") for a in argv)


def quiet_tensorflow(argv: Optional[list] = None) -> None:
    """Imports TensorFlow with its C++ and deprecation messages hidden, unless ``--verbose``.

    ``TF_CPP_MIN_LOG_LEVEL`` hides most C++ logging, but a few lines (oneDNN,
    CUDA stubs) are written by absl to file descriptor 2 before its logging is
    initialised, whatever the level; they are swallowed by pointing fd 2 at
    /dev/null for the duration of the import only. Python exceptions raised by
    the import are unaffected.
    """
    argv = sys.argv if argv is None else argv
    if _verbose_requested(argv):
        return
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
    import tensorflow as tf
    tf.get_logger().setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=UserWarning)


quiet_tensorflow()

from absl import app, flags  # noqa: E402

from dlfund.errors import DlfundError  # noqa: E402

flags.DEFINE_bool("verbose", False, "Show TensorFlow's own log and warning messages (put it on the command "
                  "line, not in a flagfile, to also see import-time messages).")
flags.DEFINE_bool("debug", False, "Show the Python traceback of errors instead of a one-line message.")

FLAGS = flags.FLAGS

#: Exit codes.
EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


def fail(message: str, code: int = EXIT_ERROR) -> int:
    """Prints ``error: message`` to stderr and returns ``code`` (for ``return fail(...)``)."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    return code


def run(main: Callable[[list], int]) -> None:
    """``absl.app.run(main)``, turning :class:`DlfundError` into one message and exit code 1."""

    def wrapped(argv: list) -> int:
        if FLAGS.verbose:
            import tensorflow as tf
            tf.get_logger().setLevel(logging.INFO)
        try:
            return main(argv)
        except DlfundError as e:
            if FLAGS.debug:
                raise
            return fail(str(e))
        except BrokenPipeError:
            # Output cut short (piped into head): stop quietly; point stdout at /dev/null so
            # the interpreter's final flush does not raise again.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return EXIT_ERROR
        except KeyboardInterrupt:
            if FLAGS.debug:
                raise
            print("\nInterrupted; nothing was being saved at that moment.", file=sys.stderr)
            return EXIT_INTERRUPTED

    app.run(wrapped)


def format_duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """A one-line progress bar within an epoch, on a terminal only.

    Shows steps done, images per second, time left and the running cost;
    prints nothing when the stream is not a terminal (logs stay clean).
    """

    def __init__(self, total_steps: int, batch_size: int, stream: TextIO = sys.stderr,
                 enabled: Optional[bool] = None, width: int = 24) -> None:
        self.total = max(1, total_steps)
        self.batch_size = batch_size
        self.stream = stream
        self.enabled = stream.isatty() if enabled is None else enabled
        self.width = width
        self.start = time.perf_counter()
        self._last = 0.0

    def update(self, done: int, running_cost: float) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if done < self.total and now - self._last < 0.2:
            return
        self._last = now
        elapsed = now - self.start
        rate = done * self.batch_size / elapsed if elapsed > 0 else 0.0
        eta = (self.total - done) * elapsed / done if done else 0.0
        filled = int(self.width * done / self.total)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r  [{bar}] {done}/{self.total} steps  {rate:7.0f} img/s  "
                          f"ETA {format_duration(eta)}  cost {running_cost:.4f} ")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * (self.width + 70) + "\r")
            self.stream.flush()


def download_progress(stream: TextIO = sys.stderr) -> Callable[[str, int, Optional[int]], None]:
    """A callback for :func:`dlfund.data.mnist.read_data_sets` that shows download progress."""
    tty = stream.isatty()
    state = {"name": None, "last": 0.0}

    def report(name: str, done: int, total: Optional[int]) -> None:
        now = time.perf_counter()
        finished = total is not None and done >= total
        if name != state["name"]:
            state["name"] = name
            if not tty:
                stream.write(f"Downloading {name} ...\n")
        if tty and (finished or now - state["last"] > 0.2):
            state["last"] = now
            pct = f"{100.0 * done / total:5.1f}%" if total else f"{done / 1e6:.1f} MB"
            stream.write(f"\rDownloading {name}: {pct}")
            if finished:
                stream.write("\n")
            stream.flush()

    return report
