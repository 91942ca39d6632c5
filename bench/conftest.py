"""Benchmarks report ratios of a candidate to a reference timed in the same run.

Each benchmark test uses the ``timed`` fixture (pytest-benchmark's ``benchmark``) and the
summary at the end prints median(candidate) / median(reference) for every pair in
``RATIOS`` (``bench/targets.py``) with the target it is held to.  A miss only prints
here; ``python bench/check_targets.py`` runs the benchmarks several times and exits
non-zero on a miss.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import sys
from pathlib import Path

import pytest
from targets import RATIOS

# ``python -m pytest`` puts the current folder first on sys.path, and from the checkout's
# root that is the source tree (without built kernels after a plain ``pip install .``).
# The benchmarks measure the installed package; the source tree is used only where no
# installed copy exists (a developer's in-place build, or PYTHONPATH pointing at it).
_CHECKOUT = Path(__file__).resolve().parents[1]


def _is_checkout(entry: str) -> bool:
    return Path(entry or os.getcwd()).resolve() == _CHECKOUT


if "pillow_msroi" not in sys.modules and not os.environ.get("PYTHONPATH"):
    _kept = [p for p in sys.path if not _is_checkout(p)]
    _saved, sys.path[:] = list(sys.path), _kept
    if importlib.util.find_spec("pillow_msroi") is None:
        sys.path[:] = _saved

MEDIANS: dict[str, float] = {}
#: Lines other benchmarks (memory) add to the summary.
REPORT: list[str] = []


def _package_line() -> str:
    import pillow_msroi

    return f"benchmarking pillow_msroi {pillow_msroi.__version__} from {Path(pillow_msroi.__file__).parent}"


def pytest_report_header(config):
    return _package_line()


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
    tr.write_line(_package_line())
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
