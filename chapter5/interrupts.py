"""Ctrl-C (SIGINT) and SIGTERM, race-free from a program's first line to its last.

A program started from the command line holds both signals back from its first
statement (``chapter5/__init__.py`` blocks them, before TensorFlow loads) and
takes a signal that arrived meanwhile at one point:

* :func:`take_pending`, at the start of ``main`` for every program but
  ``train``: one line and exit 130 (143) if a signal is pending; otherwise the
  signals are let through, SIGINT raising ``KeyboardInterrupt`` as usual;
* :func:`stop_on_signals`, for ``train``, right before it takes its run
  directory: the same check, after the handlers that stop training cleanly are
  in place, so a signal that comes a moment later is not lost either; before
  that, ``train`` looks for a pending signal between its start-up steps
  (:func:`raise_if_pending`: after TensorFlow loaded, after the data was read),
  which ends it without letting the signal through. The first
  signal then asks the training loop to stop at the next step (the run saves a
  checkpoint and says how to resume); a second one stops at once,
  :class:`StoppedAtOnce`, without saving.

Downloading is the one long wait before that point: :func:`allowed` lets a
Ctrl-C stop it.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

from dlfund import hooks

#: The signals that end a program.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

#: What a program says when a Ctrl-C stops it (anywhere but during training).
INTERRUPTED = "Interrupted; nothing was being saved at that moment."


class InterruptedWhileStarting(KeyboardInterrupt):
    """A signal came while the program was starting (before training, or before ``main``)."""

    line = "Interrupted while starting; nothing was being saved at that moment."

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class StoppedAtOnce(KeyboardInterrupt):
    """A second interrupt during training: stop now, without saving."""

    line = "Stopped by a second interrupt without saving; the previous checkpoints are kept."


def take_pending() -> None:
    """The one point where a signal held back while the program started is acted on.

    Raises:
        InterruptedWhileStarting: SIGINT or SIGTERM arrived while it was held back.
    Otherwise both are let through from here on (a no-op where they were not held).
    """
    raise_if_pending()
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def raise_if_pending() -> None:
    """Raises :class:`InterruptedWhileStarting` if a signal held back is pending; the signals stay held back.

    ``train`` calls it between its start-up steps, so that a Ctrl-C while it starts ends it soon after.
    """
    pending = signal.sigpending() & set(STOP_SIGNALS)
    if pending:
        raise InterruptedWhileStarting(min(pending))  # SIGINT before SIGTERM


@contextlib.contextmanager
def allowed() -> Iterator[None]:
    """Inside, SIGINT raises ``KeyboardInterrupt`` at once, also while the signals are held back (a download).

    Raises:
        InterruptedWhileStarting: a signal held back so far is pending (taken here, as by :func:`take_pending`).
    """
    raise_if_pending()
    was = signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, was)


class Stop(hooks.StopOnRequest):
    """:class:`dlfund.hooks.StopOnRequest` driven by signals; after :meth:`finish` a signal interrupts at once."""

    def __init__(self) -> None:
        super().__init__()
        self.finished = False

    def finish(self) -> str | None:
        """Training is over: a signal from now on raises ``KeyboardInterrupt``. Returns the signal that came
        during training but after its last step, if one did (the caller treats the run as interrupted)."""
        self.finished = True
        return self.reason


@contextlib.contextmanager
def stop_on_signals(enabled: bool = True) -> Iterator[Stop]:
    """Yields a :class:`Stop` that SIGINT and SIGTERM trigger while the context lasts.

    Args:
        enabled: install the handlers (main thread only) and take a pending signal
            (:func:`take_pending`); False yields a stop that only a direct
            ``request`` triggers (a run in a worker thread of ``chapter5.compare``).

    Raises:
        InterruptedWhileStarting: a signal arrived while the program was starting.
    """
    stop = Stop()
    if not enabled:
        yield stop
        return

    def handler(signum: int, frame) -> None:
        if stop.finished:
            raise KeyboardInterrupt
        if stop.reason is not None:
            raise StoppedAtOnce
        stop.request(signal.Signals(signum).name)

    old = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        take_pending()  # after the handlers are in place: nothing arriving from now on is lost
        yield stop
    finally:
        for s, h in old.items():
            signal.signal(s, h)
