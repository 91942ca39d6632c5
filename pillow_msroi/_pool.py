"""The worker threads both encoders share.

Each method splits its work into jobs whose kernels release the GIL (simplejpeg, the
Cython kernels, Pillow's encoder).  Rather than start and join threads on every save, one
small pool lives for the process: made on first use, and forgotten in a forked child,
whose copy of the pool has no threads behind it.  Jobs never wait on other jobs, so callers in many
threads can share it without deadlock.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


@functools.cache
def size() -> int:
    """Worker threads: two at most, the machine's cores if fewer.  More did not pay on the
    workloads measured (the jobs are short and memory-bound)."""
    return max(1, min(2, os.cpu_count() or 1))


def shared() -> ThreadPoolExecutor:
    """The process's pool, started on first use."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=size(), thread_name_prefix="msroi")
        return _pool


def run_all(fn: Callable[..., T], *iterables: Iterable[Any]) -> list[T]:
    """``fn`` over the zipped arguments, results in order: the first job in the calling
    thread (which would otherwise only wait), the others in the shared pool.  If a job
    fails, the others are waited for (or cancelled if not started) before the error is
    raised, so no job of this call still writes into the caller's arrays afterwards."""
    jobs = list(zip(*iterables))
    if not jobs:
        return []
    futures: list[Future[T]] = [shared().submit(fn, *args) for args in jobs[1:]]
    try:
        first = fn(*jobs[0])
    except BaseException:
        _settle(futures)
        raise
    return [first, *gather(futures)]


def gather(futures: Iterable[Future[T]]) -> list[T]:
    """Results of ``futures`` in order; on an error (or Ctrl-C) the rest are cancelled or
    waited for first."""
    futures = list(futures)
    try:
        return [f.result() for f in futures]
    except BaseException:
        _settle(futures)
        raise


def _settle(futures: list[Future[T]]) -> None:
    """Cancel what has not started and wait for the rest."""
    for f in futures:
        f.cancel()
    wait(futures)


def _forget_in_child() -> None:
    global _pool, _lock
    _pool = None
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)
