"""Ctrl-C (SIGINT) and SIGTERM: a clean stop of a training run, and a quick one when asked twice.

While :func:`stop_on_signals` lasts, the first signal asks the training loop
to stop at the next step boundary (the run then saves a checkpoint and says how
to resume); a second one stops at once with :class:`StoppedAtOnce`, without
saving: the checkpoints already on disk are kept.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

from dlfund import hooks


class StoppedAtOnce(KeyboardInterrupt):
    """A second interrupt during training: stop now, without saving."""


@contextlib.contextmanager
def stop_on_signals(enabled: bool = True) -> Iterator[hooks.StopOnRequest]:
    """Yields a :class:`dlfund.hooks.StopOnRequest` that SIGINT and SIGTERM trigger while the context lasts.

    Args:
        enabled: install the handlers (main thread only); False yields a hook
            that only a direct ``request`` triggers (a run in a worker thread).
    """
    stop = hooks.StopOnRequest()
    if not enabled:
        yield stop
        return

    def handler(signum: int, frame) -> None:
        if stop.reason is not None:
            raise StoppedAtOnce
        stop.request(signal.Signals(signum).name)

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, h in old.items():
            signal.signal(s, h)
