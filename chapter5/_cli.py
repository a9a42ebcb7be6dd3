"""Shared plumbing of the chapter 5 programs: running a program, errors, signals, progress bars.

Every program defines its flags in a function ``define_flags(fv)`` and has a
``main(argv, fv)``; :func:`run` wires them to absl for the command line, and
:func:`call` runs the same program in this process on a fresh ``FlagValues``
(``chapter5.compare`` and the tests do).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import textwrap
import time
import warnings
from collections.abc import Callable, Iterator
from typing import TextIO

import tensorflow as tf
from absl import app, flags
from absl import logging as absl_logging

from dlfund import training
from dlfund.errors import DlfundError

v1 = tf.compat.v1

#: Exit codes.
EXIT_ERROR = 1
EXIT_INTERRUPTED = 130

#: The flagfiles shipped in the package (``chapter5/flags/*.cfg``).
FLAGFILE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "flags")

DefineFlags = Callable[[flags.FlagValues], None]
Main = Callable[[list, flags.FlagValues], int]


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

def define_cli_flags(fv: flags.FlagValues) -> None:
    """``--verbose`` and ``--debug``, which every program has."""
    flags.DEFINE_bool("verbose", False, "Show TensorFlow's own log and warning messages (put it on the command "
                      "line, not in a flagfile, to also see import-time messages).", flag_values=fv)
    flags.DEFINE_bool("debug", False, "Show the Python traceback of errors instead of a one-line message.",
                      flag_values=fv)


class UsageError(DlfundError):
    """The command line asks for something that cannot be done (a flag value that does not fit the data)."""


def fail(message: str, code: int = EXIT_ERROR) -> int:
    """Prints ``error: message`` to stderr and returns ``code`` (for ``return fail(...)``)."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    return code


def packaged_flagfiles(argv: list) -> list:
    """``argv`` with each ``--flagfile=PATH`` that does not exist but names a shipped flagfile made absolute.

    So ``--flagfile=chapter5/flags/quickstart.cfg`` (or ``quickstart.cfg``) works
    from any directory and from an installed package.
    """
    out = []
    for arg in argv:
        if arg.startswith("--flagfile="):
            path = arg[len("--flagfile="):]
            shipped = os.path.join(FLAGFILE_DIR, os.path.basename(path))
            if not os.path.exists(path) and path.endswith(".cfg") and os.path.exists(shipped):
                arg = "--flagfile=" + shipped
        out.append(arg)
    return out


def guarded(main: Main, argv: list, fv: flags.FlagValues) -> int:
    """Runs ``main(argv, fv)``, turning :class:`DlfundError` into one message and exit code 1."""
    if fv.verbose:
        tf.get_logger().setLevel(logging.INFO)
        warnings.resetwarnings()
    else:
        # Parts of TensorFlow (SavedModel export, for one) log through absl directly.
        absl_logging.set_verbosity(absl_logging.WARNING)
    try:
        return main(argv, fv)
    except DlfundError as e:
        if fv.debug:
            raise
        return fail(str(e))
    except BrokenPipeError:
        # Output cut short (piped into head): stop quietly; point stdout at /dev/null so
        # the interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR
    except KeyboardInterrupt:
        if fv.debug:
            raise
        print("\nInterrupted; nothing was being saved at that moment.", file=sys.stderr)
        return EXIT_INTERRUPTED


HELP_ARGS = ("--help", "--helpshort", "-h", "-?")


def short_help(program: str, doc: str, define_flags: DefineFlags, width: int = 100) -> str:
    """The program's description and every flag it defines, with its choices and default.

    absl's ``--helpshort`` lists only flags defined in the main module, and these
    programs define theirs in shared functions (``chapter5.common``), so it would
    list none; this one lists them all, wrapped between words, never inside a value.
    """
    fv = flags.FlagValues()
    define_flags(fv)
    lines = [(doc or "").strip(), "", f"Flags of python -m {program} (all of them: --helpfull adds absl's own):"]
    for name in sorted(fv):
        flag = fv[name]
        if name != flag.name:  # a short name
            continue
        text = flag.help.strip()
        if isinstance(flag.parser, flags.EnumParser):
            text = text.split(">: ", 1)[-1]  # absl's "<a|b|c>: " prefix, given below as words
            text += " One of: " + ", ".join(v or "''" for v in flag.parser.enum_values) + "."
        default = flag.default
        shown = (",".join(default) if isinstance(default, list) else
                 str(default).lower() if isinstance(default, bool) else "''" if default in ("", []) else default)
        if "Default:" not in text:  # a trained run's flags say their default themselves
            text += f" (default: {shown})"
        lines.append(f"  --{'[no]' if flag.boolean else ''}{name}")
        lines.append(textwrap.fill(text, width, initial_indent="      ", subsequent_indent="      ",
                                   break_long_words=False, break_on_hyphens=False))
    return "\n".join(lines) + "\n"


def run(define_flags: DefineFlags, main: Main) -> None:
    """The command line: ``absl.app.run`` on the global ``FLAGS`` (exits the process); ``--helpshort``
    (``--help``, ``-h``) prints :func:`short_help`."""
    if any(a in HELP_ARGS for a in sys.argv[1:]):
        module = sys.modules[main.__module__]
        program = "chapter5." + os.path.splitext(os.path.basename(module.__file__))[0]
        sys.stdout.write(short_help(program, module.__doc__, define_flags))
        sys.exit(0)
    define_flags(flags.FLAGS)
    sys.argv = packaged_flagfiles(sys.argv)
    app.run(lambda argv: guarded(main, argv, flags.FLAGS))


def call(define_flags: DefineFlags, main: Main, argv: list) -> int:
    """Runs a program in this process on fresh flags, as :func:`run` would; returns its exit code.

    Args:
        define_flags: the program's flag definitions.
        main: its ``main(argv, fv)``.
        argv: the command line, program name first.
    """
    fv = flags.FlagValues()
    define_flags(fv)
    try:
        rest = fv(packaged_flagfiles(argv))
    except flags.Error as e:
        # absl.app.run's words for the same failure.
        print(f"FATAL Flags parsing error: {e}\nPass --helpshort or --helpfull to see help on flags.",
              file=sys.stderr)
        return EXIT_ERROR
    return guarded(main, rest, fv)


@contextlib.contextmanager
def op_determinism(enabled: bool) -> Iterator[None]:
    """TensorFlow's op determinism for the duration (it is process-wide; restored afterwards)."""
    if not enabled:
        yield
        return
    from tensorflow.python.framework import config  # the public API can only switch it on
    was = config.is_op_determinism_enabled()
    tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        if not was:
            config.disable_op_determinism()


@contextlib.contextmanager
def stop_on_signals(stop: training.StopOnRequest) -> Iterator[None]:
    """SIGINT and SIGTERM ask ``stop`` to end training at the next step; a second one stops at once.

    The handlers are the process's only while the context lasts (main thread only).
    """
    def handler(signum: int, frame) -> None:
        if stop.reason is not None:  # second Ctrl-C: stop now
            raise KeyboardInterrupt
        stop.request(signal.Signals(signum).name)

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def session_config(fv: flags.FlagValues) -> v1.ConfigProto:
    """The session's thread pools, from ``--intra_op_threads`` and ``--inter_op_threads``."""
    return v1.ConfigProto(intra_op_parallelism_threads=fv.intra_op_threads,
                          inter_op_parallelism_threads=fv.inter_op_threads)


@contextlib.contextmanager
def file_writer(directory: str, graph: tf.Graph | None = None) -> Iterator[v1.summary.FileWriter]:
    """A TensorBoard ``FileWriter`` (with the graph, if given), closed at the end whatever happens."""
    with tf.Graph().as_default():  # FileWriter is graph-mode only
        writer = v1.summary.FileWriter(directory, graph=graph)
    try:
        yield writer
    finally:
        writer.close()


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
                 enabled: bool | None = None, width: int = 24) -> None:
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


def download_progress(stream: TextIO = sys.stderr) -> Callable[[str, int, int | None], None]:
    """A callback for :func:`dlfund.data.mnist.read_data_sets` that shows download progress."""
    tty = stream.isatty()
    state = {"name": None, "last": 0.0}

    def report(name: str, done: int, total: int | None) -> None:
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


class ProgressHook(training.Hook):
    """Shows a :class:`Progress` bar for each epoch; closes it before anything is printed at a display step."""

    def __init__(self, batch_size: int, mode: str = "auto", stream: TextIO = sys.stderr) -> None:
        self.batch_size, self.stream = batch_size, stream
        self.enabled = None if mode == "auto" else mode == "on"
        self.bar: Progress | None = None

    def begin_epoch(self, state: training.TrainState, steps: int) -> None:
        self.bar = Progress(steps, self.batch_size, self.stream, self.enabled)
        self.steps = 0

    def after_step(self, state: training.TrainState, cost: float) -> None:
        self.steps += 1
        self.bar.update(self.steps, state.epoch_cost / state.epoch_steps)

    def display(self, state: training.TrainState, avg_cost: float, validation_error: float | None) -> None:
        self.close()

    def end_epoch(self, state: training.TrainState) -> None:
        self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
