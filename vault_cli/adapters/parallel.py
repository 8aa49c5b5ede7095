"""Spread whole-vault work over the machine's cores.

Work is forked, so the workers inherit the session (identities, settings) from
the parent without it ever being serialised; only record ids go out and
picklable results come back. Below a threshold, or on one core, it runs
in-process: a fork costs more than a few records' work.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Optional, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_job: Optional[Callable] = None
THRESHOLD = 64


def _call(item):
    assert _job is not None
    return _job(item)


def workers(configured: Optional[int] = None) -> int:
    """How many processes whole-vault work may use: ``configured`` (``CONFIDE_WORKERS``), else one per core."""
    if configured:
        return max(1, configured)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def map_ordered(fn: Callable[[T], R], items: Iterable[T], *, progress: Optional[Callable[[int], None]] = None,
                processes: Optional[int] = None) -> Iterator[R]:
    """``map(fn, items)`` in order, forked over the cores (at most ``processes``, the configured cap) when it pays."""
    global _job
    items = list(items)
    n = workers(processes)
    if n <= 1 or len(items) < THRESHOLD:
        for item in items:
            yield fn(item)
            if progress:
                progress(1)
        return
    import multiprocessing  # here, not at the top: ~5 ms that single-record commands never need

    if "fork" not in multiprocessing.get_all_start_methods():
        for item in items:
            yield fn(item)
            if progress:
                progress(1)
        return
    _job = fn
    ctx = multiprocessing.get_context("fork")
    chunk = max(8, len(items) // (n * 8))
    with ctx.Pool(n) as pool:
        for result in pool.imap(_call, items, chunksize=chunk):
            yield result
            if progress:
                progress(1)
    _job = None
