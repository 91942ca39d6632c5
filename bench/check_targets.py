"""Check every speed and memory target over several benchmark runs; exit 1 on a miss.

    python bench/check_targets.py [--runs 3] [--memory-sizes 6000x4000 10000x7500] [--no-memory]

Each run is a fresh ``pytest`` of the speed benchmarks (pytest-benchmark, JSON output)
and, per size and method, a fresh ``bench/experiments/peak_memory.py``.  For every target the script
prints the median over runs and the spread (lowest..highest run); a target is missed
when the median over runs misses it.  Speed targets are ratios to a reference timed in
the same run (``bench/targets.py``), except ``roi_map``'s, which is absolute and holds on
the project's 2-core machine.  Not part of the unit tests: timings drift with the
machine's load; CI runs it only with ``MSROI_BENCH=1`` (``.ci/run``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from targets import MEMORY_OVER_RGB, RATIOS, ROI_MS

HERE = Path(__file__).resolve().parent
SPEED_FILES = ["test_blend_speed.py", "test_pipeline_speed.py", "test_dct_quality.py", "test_roi_speed.py"]


def speed_run(json_path: Path) -> tuple[dict[str, float], dict[str, dict], str]:
    """One pytest run of the speed benchmarks: medians and extra_info by test name, and
    the header line naming the package measured."""
    cmd = [
        sys.executable, "-m", "pytest", *(str(HERE / f) for f in SPEED_FILES),
        "-k", "not quality_table", "-q", "-p", "no:randomly", f"--benchmark-json={json_path}",
    ]
    done = subprocess.run(cmd, cwd=HERE.parent, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stdout.write(done.stdout[-4000:] + done.stderr[-2000:])
        raise SystemExit(f"benchmark run failed (pytest exit {done.returncode})")
    header = next((line for line in done.stdout.splitlines() if line.strip().startswith("benchmarking ")), "").strip()
    data = json.loads(json_path.read_text())
    medians = {b["name"]: b["stats"]["median"] for b in data["benchmarks"]}
    extra = {b["name"]: b.get("extra_info", {}) for b in data["benchmarks"]}
    return medians, extra, header


def memory_run(width: int, height: int, method: str) -> float:
    done = subprocess.run(
        [sys.executable, str(HERE / "experiments" / "peak_memory.py"), str(width), str(height), f"--method={method}"],
        capture_output=True, text=True, check=True,
    )
    return json.loads(done.stdout)["extra_over_rgb"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="benchmark runs (default %(default)s)")
    parser.add_argument("--memory-sizes", nargs="*", default=["6000x4000", "10000x7500"], metavar="WxH")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory targets")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    # name -> (values over runs, target, unit); a value above its target misses it.
    results: dict[str, tuple[list[float], float, str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            medians, extra, header = speed_run(Path(tmp) / f"run{run}.json")
            if run == 0:
                print(header or "benchmarking pillow_msroi (package path not reported)")
            for cand, ref, target in RATIOS:
                if cand in medians and ref in medians:
                    name = f"{cand} / {ref}"
                    results.setdefault(name, ([], target, "x"))[0].append(medians[cand] / medians[ref])
            roi_ms = extra.get("test_roi_map_per_image", {}).get("per_image_ms")
            if roi_ms is not None:
                results.setdefault("roi_map per Kodak image", ([], ROI_MS, "ms"))[0].append(roi_ms)
            if not args.no_memory and Path("/proc/self/clear_refs").exists():
                for size in args.memory_sizes:
                    w, h = (int(v) for v in size.lower().split("x"))
                    for method in ("auto", "blend"):
                        name = f"peak extra memory {w}x{h} {method} / RGB bytes"
                        results.setdefault(name, ([], MEMORY_OVER_RGB, "x"))[0].append(memory_run(w, h, method))
            print(f"run {run + 1}/{args.runs} done", flush=True)

    missed = []
    expected = len(RATIOS) + 1
    if len([n for n in results if not n.startswith("peak")]) < expected:
        missed.append("some speed benchmarks did not run (Kodak images missing? see MSROI_SHARED)")
    print(f"\n{'target':<62} {'median':>9} {'spread (runs)':>21} {'limit':>8}  verdict")
    for name, (values, target, unit) in results.items():
        median = statistics.median(values)
        ok = median <= target
        spread = f"{min(values):.3f}..{max(values):.3f}"
        print(f"{name:<62} {median:>8.3f}{unit} {spread:>21} {target:>7.2f}{unit}  {'meets' if ok else 'MISSES'}")
        if not ok:
            missed.append(f"{name}: {median:.3f}{unit} > {target}{unit}")
    print(f"\nmachine: {os.cpu_count()} cores; {args.runs} run(s)")
    for line in missed:
        print(f"MISSED: {line}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
