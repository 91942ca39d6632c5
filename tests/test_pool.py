"""The worker pool both encoders share: one per process, errors wait for the rest, fork-safe."""

from __future__ import annotations

import multiprocessing
import os
import time
import warnings

import pytest
from imaging import centred_map, synthetic_rgb

import pillow_msroi
from pillow_msroi import _pool as pool


def test_one_pool_per_process():
    assert pool.shared() is pool.shared()
    assert 1 <= pool.size() <= 2
    assert pool.run_all(lambda a, b: a * b, [1, 2, 3], [4, 5, 6]) == [4, 10, 18]


@pytest.mark.parametrize("failing", [0, 2])  # the job run by the caller, one run by the pool
def test_a_failed_job_leaves_no_other_job_running(failing):
    started, finished = set(), set()

    def job(k: int) -> int:
        started.add(k)
        if k == failing:
            raise ValueError(f"job {k} failed")
        time.sleep(0.1)
        finished.add(k)
        return k

    for _ in range(5):
        started.clear()
        finished.clear()
        with pytest.raises(ValueError, match=f"job {failing} failed"):
            pool.run_all(job, range(4))
        # Each other job ran to its end before the error was raised, or never started.
        assert started - {failing} == finished
    assert pool.shared()._work_queue.empty()


def _encode_in_child(queue) -> None:
    im = synthetic_rgb(64, 48)
    queue.put([len(pillow_msroi.encode(im, map=centred_map(8, 6), method=m)) for m in ("dct", "blend")])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_gets_its_own_pool():
    im = synthetic_rgb(64, 48)
    expected = [len(pillow_msroi.encode(im, map=centred_map(8, 6), method=m)) for m in ("dct", "blend")]
    parent_pool = pool.shared()  # threads running: the child's copy of them is dead
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    with warnings.catch_warnings():
        # Python 3.12+ warns that forking a threaded process may deadlock: the point here.
        warnings.simplefilter("ignore", DeprecationWarning)
        child = ctx.Process(target=_encode_in_child, args=(queue,))
        child.start()
    child.join(timeout=60)
    if child.is_alive():
        child.kill()
        pytest.fail("the forked child hung on the parent's pool")
    assert child.exitcode == 0
    assert queue.get(timeout=5) == expected
    assert pool.shared() is parent_pool
