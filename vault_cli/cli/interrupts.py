"""SIGTERM and SIGHUP as an interruption, so that clean-up runs.

A plain ``kill`` (SIGTERM) or a closed terminal (SIGHUP) would end Python without running
``finally`` blocks or ``except`` clauses: a command that holds plaintext on disk for a moment (a
clean copy waiting for the vault's lock) would leave it there. Within ``as_interrupt()`` both
raise ``KeyboardInterrupt``, as ^C does: the command's clean-up runs, the vault's transaction
rolls back, and the command exits 130 ("interrupted"). SIGKILL cannot be caught.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


def _interrupted(signum, frame):
    raise KeyboardInterrupt


@contextmanager
def as_interrupt() -> Iterator[None]:
    previous = {}
    for sig in (signal.SIGHUP, signal.SIGTERM):
        try:
            previous[sig] = signal.signal(sig, _interrupted)
        except (ValueError, OSError):  # not the main thread: nothing to change
            pass
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def hold_off() -> None:
    """Within ``as_interrupt()``: ignore SIGTERM and SIGHUP from now on (a clean-up under way is not cut short by
    a second signal); ``as_interrupt`` puts the previous handlers back as it ends."""
    for sig in (signal.SIGHUP, signal.SIGTERM):
        try:
            signal.signal(sig, signal.SIG_IGN)
        except (ValueError, OSError):  # not the main thread
            pass


__all__ = ["as_interrupt", "hold_off"]
