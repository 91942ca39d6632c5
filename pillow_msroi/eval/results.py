"""results.csv: its rows, paired deltas at equal bytes and bootstrap intervals."""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: Metric columns, in the order of the CSV; all on luma except psnr_rgb.
METRICS = ("psnr", "ssim", "ms_ssim", "vifp", "psnr_hvs", "psnr_hvs_m", "psnr_rgb", "ssimulacra2", "roi_psnr")
COLUMNS = (
    "image", "width", "height", "encoder", "method", "matched_to", "role",
    "quality", "final_quality", "bytes", "map_kind", *METRICS,
)  # fmt: skip
#: Reference every paired delta is taken against.
REFERENCE = "jpeg"


def _csv_ready(row: dict[str, Any]) -> dict[str, Any]:
    # repr of a plain float round-trips exactly (numpy scalars would print as np.float64(...)).
    return {k: ("" if v is None else repr(float(v)) if isinstance(v, float) else v) for k, v in row.items()}

def load_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a results.csv with numbers parsed (empty cells become NaN / None)."""
    ints = {"width", "height", "quality", "final_quality", "bytes"}
    rows = []
    with open(path, newline="") as f:
        for raw in csv.DictReader(f):
            row: dict[str, Any] = dict(raw)
            for key in ints:
                row[key] = int(raw[key]) if raw[key] else None
            for key in METRICS:
                row[key] = float(raw[key]) if raw[key] else math.nan
            rows.append(row)
    return rows

def bootstrap_ci(values: np.ndarray, seed: int = 0, resamples: int = 2000) -> tuple[float, float]:
    """Percentile 95 % interval of the mean, resampling the values (images) with replacement."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, size=(resamples, values.size))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(lo), float(hi)

@dataclass(frozen=True)
class Delta:
    """Per-image differences of one candidate against a matched reference."""

    candidate: str  # encoder name of the candidate rows, e.g. "blend-r3" or "mozjpeg@blend-r3"
    reference: str  # e.g. "jpeg@blend-r3"
    quality: int | None  # None: each image's mean over the main qualities
    per_image: dict[str, dict[str, float]]  # metric -> image -> delta (finite only)
    bytes_ratio: float  # mean candidate bytes / reference bytes over the paired rows

def paired_deltas(rows: Sequence[dict[str, Any]], candidate: str, reference: str) -> list[Delta]:
    """Deltas candidate - reference per main quality and pooled (mean over qualities per image)."""
    index = {(r["image"], r["quality"], r["encoder"]): r for r in rows if r["role"] in ("main", "matched")}
    qualities = sorted({q for (_, q, e) in index if e == candidate})
    out = []
    pooled: dict[str, dict[str, list[float]]] = {m: defaultdict(list) for m in METRICS}
    ratios_all: list[float] = []
    for q in qualities:
        per: dict[str, dict[str, float]] = {m: {} for m in METRICS}
        ratios = []
        for (image, quality, enc), cand in index.items():
            ref = index.get((image, quality, reference))
            if enc != candidate or quality != q or ref is None or not cand["bytes"] or not ref["bytes"]:
                continue
            ratios.append(cand["bytes"] / ref["bytes"])
            for m in METRICS:
                d = cand[m] - ref[m]
                if math.isfinite(d):
                    per[m][image] = d
                    pooled[m][image].append(d)
        ratios_all += ratios
        out.append(Delta(candidate, reference, q, per, float(np.mean(ratios)) if ratios else math.nan))
    if len(qualities) > 1:
        per_pooled = {m: {img: float(np.mean(v)) for img, v in pooled[m].items()} for m in METRICS}
        out.append(Delta(candidate, reference, None, per_pooled, float(np.mean(ratios_all)) if ratios_all else math.nan))
    return out
