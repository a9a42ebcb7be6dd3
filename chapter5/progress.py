"""What the programs show while they work: a progress bar within an epoch, download progress, start-up time.

On a terminal only; when the output is a file or a pipe nothing is drawn, so
logs hold the book's lines and nothing else.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import TextIO

from dlfund import training


def format_duration(seconds: float) -> str:
    """``m:ss``, or ``h:mm:ss`` from an hour on."""
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


class ProgressHook(training.Hook):
    """Shows a :class:`Progress` bar for each epoch; closes it before anything is printed at a display step.

    Use it as a context manager around the loop, so that the bar is cleared
    whatever ends the loop (an error, a second Ctrl-C) before a message is printed.
    """

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

    def __enter__(self) -> ProgressHook:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


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


def process_start_time() -> float:
    """Wall-clock time at which this process started (Linux ``/proc``; elsewhere, now)."""
    try:
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return time.time() - (uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return time.time()
