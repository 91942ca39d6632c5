"""``msroi bench-maps``: maps scored against human eye fixations (NSS, AUC-Judd, CC) of OSIE
or MIT1003."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from . import BenchError
from .maps import map_for
from .progress import Progress
from .report import _table
from .results import _csv_ready, bootstrap_ci
from .saliency import auc_judd, cc, fixation_density, nss

MAP_SCORES = ("nss", "auc_judd", "cc")
DEFAULT_MAPS = ("network", "centre", "spectral")
#: ``bench-maps --dataset`` choices (``datasets.DATASETS``, restated so ``msroi --help`` imports nothing more).
DATASET_TITLES = {"osie": "OSIE", "mit1003": "MIT1003"}
#: Gaussian sigma of the fixation density for CC, as a fraction of the longer side.
DENSITY_SIGMA = 0.025


def _fixation_images(folder: Path, split: str, dataset: str = "osie") -> list[Any]:
    # The training recipe imports the same splits, so the readout never saw these images.
    from . import datasets

    try:
        ds = datasets.dataset(dataset)
        if not (folder / ds.fixations).is_file() or not (folder / "stimuli").is_dir():
            raise BenchError(f"{folder} needs {ds.fixations} and stimuli/ (the {ds.title} layout)")
        images = ds.load(folder)
    except (OSError, ValueError) as exc:
        raise BenchError(str(exc)) from None
    if split == "all":
        return images
    _, val = ds.split(images)
    if not val:
        raise BenchError(f"{folder} has {len(images)} images, too few for the validation split; pass --split all")
    return val

def bench_maps(folder: Path, *, out: Path | None = None, limit: int | None = None, split: str = "val",
               maps: Sequence[str] = DEFAULT_MAPS, seed: int = 0, progress: bool = True,
               dataset: str = "osie") -> str:  # fmt: skip
    """Score each map against the fixations of every image; returns the Markdown report
    (also written to ``out/maps.md`` with per-image ``out/maps.csv`` when ``out`` is given)."""
    if split not in ("val", "all"):
        raise BenchError(f"--split must be val or all, got {split!r}")
    images = _fixation_images(folder, split, dataset)[:limit]
    active, notes = list(maps), []
    scores: dict[str, dict[str, list[float]]] = {k: {s: [] for s in MAP_SCORES} for k in active}
    per_image: list[dict[str, Any]] = []
    bar = Progress(len(images), "bench-maps") if progress else None
    for i, rec in enumerate(images):
        if bar:
            bar.update(i, rec.name)
        with Image.open(folder / "stimuli" / rec.name) as opened:
            image = opened.convert("RGB")
        density = fixation_density(rec.fix_x, rec.fix_y, rec.height, rec.width, DENSITY_SIGMA)
        for kind in list(active):
            try:
                m = map_for(kind, image)
            except (OSError, ImportError) as exc:
                if not kind.startswith("network"):
                    raise
                active.remove(kind)
                notes.append(f"`{kind}` skipped: the MSROI network is not available ({exc}).")
                continue
            values = {"nss": nss(m, rec.fix_x, rec.fix_y), "auc_judd": auc_judd(m, rec.fix_x, rec.fix_y), "cc": cc(m, density)}
            for s, v in values.items():
                scores[kind][s].append(v)
            per_image.append({"image": rec.name, "map": kind, "fixations": len(rec.fix_x), **values})
    if bar:
        bar.update(len(images), "done")
        bar.close()
    lines = [
        f"# ROI maps against {DATASET_TITLES.get(dataset, dataset)} fixations ({split} split, {len(images)} images)",
        "",
        "NSS and AUC-Judd on the pooled fixations of the 15 viewers; CC against the fixations "
        f"blurred by a Gaussian of sigma {DENSITY_SIGMA:.1%} of the longer side. Mean [bootstrap 95 % "
        f"interval over images, seed {seed}].",
        "",
        *[f"{n}  " for n in notes],
        *([""] if notes else []),
    ]
    body = []
    for kind in active:
        cells = []
        for s in MAP_SCORES:
            v = np.array(scores[kind][s])
            lo, hi = bootstrap_ci(v, seed)
            cells.append(f"{v.mean():.3f} [{lo:.3f}, {hi:.3f}]" if v.size else "–")
        body.append([kind, *cells])
    lines += _table(["map", *MAP_SCORES], body)
    report = "\n".join(lines) + "\n"
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "maps.md").write_text(report)
        with open(out / "maps.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["image", "map", "fixations", *MAP_SCORES])
            writer.writeheader()
            writer.writerows(_csv_ready(r) for r in per_image)
    return report
