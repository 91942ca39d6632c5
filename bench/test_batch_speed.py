"""Throughput of folder compression on the Kodak images: ``msroi compress --jobs 1`` and
``--jobs 2``, and ``pillow_msroi.dask.compress`` on a local cluster of 1 and 2 worker
processes, in images per second and as ratios to ``--jobs 1`` measured in the same run.

Each configuration compresses all the Kodak images (network map, quality 75) into a
fresh folder (``--passes K``: K times, each to its own folder), through what the command
and the Dask call run (``batch.run``, ``pillow_msroi.dask.run``).  "End to end" is as a user sees it: for ``--jobs`` worker
processes start and load the network inside the time; the Dask times start with the
cluster up (a cluster outlives one call) but include each worker's first load of the
network.  "After the first file" is the rate from the first finished file to the last,
without the start-up.
The target (issue 12): ``--jobs 2`` at least 1.7x ``--jobs 1`` on a 2-core machine.

``pytest bench/test_batch_speed.py`` reports one round in the summary;
``python bench/test_batch_speed.py --repeat 3`` prints every round and the medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from kodak import kodak_paths

from pillow_msroi import _batch as batch

TARGET = 1.7
CONFIGS = ("jobs 1", "jobs 2", "dask 1 worker", "dask 2 workers")


def _timed(rows) -> tuple[float, float]:
    """(seconds to the last row, seconds from the first row to the last) of a row iterator."""
    t0 = time.perf_counter()
    stamps = []
    for row in rows:
        assert row.status == "written", row.error
        stamps.append(time.perf_counter() - t0)
    return stamps[-1], stamps[-1] - stamps[0]


def _jobs(paths: list[str], out: Path, passes: int) -> list[batch.Job]:
    # ``passes`` copies of the set, each to its own folder: more files make the start-up a
    # smaller part of the time, as in a real folder of thousands.
    return [batch.Job(p, str(out / str(i) / (Path(p).stem + ".jpg"))) for i in range(passes) for p in paths]


def _local(jobs: list[batch.Job], processes: int) -> tuple[float, float]:
    # What ``msroi compress ... --jobs N`` runs (its progress aside).
    return _timed(batch.run(jobs, batch.SaveOptions(), processes=processes))


def _dask(jobs: list[batch.Job], workers: int) -> tuple[float, float]:
    from distributed import Client, LocalCluster

    from pillow_msroi import dask as msroi_dask

    with LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=50
    ) as cluster, Client(cluster) as client:
        client.wait_for_workers(workers)
        return _timed(msroi_dask.run(jobs, batch.SaveOptions(), client=client))


def one_round(paths: list[str], passes: int = 1) -> dict[str, tuple[float, float]]:
    """(images per second end to end, images per second from the first file to the last)
    of every configuration, run one after another."""
    rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in CONFIGS:
            kind, n = name.split()[0], int(name.split()[1])
            jobs = _jobs(paths, Path(tmp) / name.replace(" ", "-"), passes)
            total, steady = _local(jobs, n) if kind == "jobs" else _dask(jobs, n)
            rates[name] = (len(jobs) / total, (len(jobs) - 1) / steady)
    return rates


def describe(rates: dict[str, tuple[float, float]]) -> str:
    base, base_steady = rates["jobs 1"]
    parts = [
        f"{name}: {rate:.2f} img/s ({rate / base:.2f}x), after the first file {steady:.2f} img/s ({steady / base_steady:.2f}x)"
        for name, (rate, steady) in rates.items()
    ]
    ratio = rates["jobs 2"][0] / base
    verdict = "meets" if ratio >= TARGET else "MISSES"
    return "; ".join(parts) + f" -- jobs 2 end to end {ratio:.2f}x {verdict} the target >= {TARGET}x jobs 1"


def test_batch_throughput(report):
    pytest = __import__("pytest")
    pytest.importorskip("distributed")
    paths = [str(p) for p in kodak_paths()]
    report(f"batch compression, {len(paths)} Kodak images: " + describe(one_round(paths)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="rounds (default %(default)s)")
    parser.add_argument("--passes", type=int, default=1, help="times each configuration compresses the set (default %(default)s)")
    args = parser.parse_args(argv)
    paths = [str(p) for p in kodak_paths()]
    print(f"{len(paths)} Kodak images x {args.passes}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)
    rounds = []
    for i in range(args.repeat):
        rates = one_round(paths, args.passes)
        rounds.append(rates)
        print(f"round {i + 1}: {describe(rates)}", flush=True)
    medians = {name: tuple(statistics.median(r[name][k] for r in rounds) for k in (0, 1)) for name in CONFIGS}
    ratios = [r["jobs 2"][0] / r["jobs 1"][0] for r in rounds]
    print(f"median of {args.repeat} rounds: {describe(medians)}; jobs 2 / jobs 1 end to end per round: "
          + ", ".join(f"{x:.2f}" for x in ratios))
    return 0


if __name__ == "__main__":
    sys.exit(main())
