"""Benchmarks report ratios of a candidate to a reference timed in the same run.

Each benchmark test uses the ``timed`` fixture (pytest-benchmark's ``benchmark``) and the
summary at the end prints median(candidate) / median(reference) for every pair in
``RATIOS`` with the target it is held to.
"""

from __future__ import annotations

import os
import platform

import pytest

MEDIANS: dict[str, float] = {}
#: Lines other benchmarks (memory) add to the summary.
REPORT: list[str] = []
#: (candidate test, reference test, largest acceptable ratio)
RATIOS = [
    ("test_fused_levels_and_blend", "test_numpy_levels_and_blend", 0.2),
    ("test_semantic_save", "test_numpy_pipeline", 0.5),
    ("test_semantic_save_default", "test_numpy_pipeline", 0.5),
    ("test_dct_method", "test_blend_method", 0.5),
]


@pytest.fixture
def timed(benchmark, request):
    yield benchmark
    if benchmark.stats is not None:
        MEDIANS[request.node.originalname] = benchmark.stats.stats.median


@pytest.fixture
def report():
    """Append a line to the end-of-run summary."""
    return REPORT.append


def pytest_terminal_summary(terminalreporter):
    rows = [(c, r, t) for c, r, t in RATIOS if c in MEDIANS and r in MEDIANS]
    if not rows and not REPORT:
        return
    tr = terminalreporter
    tr.section("ratios (median candidate / median reference, same run)")
    tr.write_line(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}")
    for line in REPORT:
        tr.write_line(line)
    for cand, ref, target in rows:
        ratio = MEDIANS[cand] / MEDIANS[ref]
        verdict = "meets" if ratio <= target else "MISSES"
        tr.write_line(
            f"{cand}: {MEDIANS[cand] * 1e3:.2f} ms / {ref}: {MEDIANS[ref] * 1e3:.2f} ms = {ratio:.3f} "
            f"({verdict} target <= {target})"
        )
