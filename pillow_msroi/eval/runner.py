"""``msroi bench``: semantic JPEG against plain JPEG at equal bytes.

Every image is encoded with every registered encoder (:mod:`.encoders`) and scored with
:mod:`.metrics`.  Comparisons are made at equal bytes: each semantic file is the byte
target for every competitor (plain JPEG, ``optimize=True``, mozjpeg), which is re-encoded
at the highest quality whose file still fits, so no method is rewarded for spending more
bytes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .. import _budget
from .._options import DEFAULT_SLACK
from . import BenchError
from .encoders import ENCODERS, Coded, Encoder, Sample
from .maps import MAP_KINDS, _network_unavailable_message, map_for
from .progress import Progress
from .report import _pyplot, write_plots, write_summary
from .results import COLUMNS, METRICS, REFERENCE, _csv_ready, load_rows

DEFAULT_QUALITIES = (30, 50, 75)
CURVE_QUALITIES = tuple(range(30, 91, 10))
#: Smallest side all metrics accept: ``metrics.MS_SSIM_MIN_SIDE`` (tested equal), restated
#: because importing metrics imports scipy, which ``msroi --help`` should not wait for.
MIN_SIDE = 11 * 2**4
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".ppm", ".pgm", ".bmp", ".tif", ".tiff", ".webp"}


def image_paths(folder: Path, limit: int | None = None) -> list[Path]:
    """Images in ``folder`` (not recursive), sorted by name, the first ``limit`` of them."""
    if not folder.is_dir():
        raise BenchError(f"{folder} is not a folder")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES and p.is_file())
    if not paths:
        raise BenchError(f"no images ({', '.join(sorted(_IMAGE_SUFFIXES))}) in {folder}")
    return paths[:limit] if limit is not None else paths

def _scores(sample: Sample, coded: Coded) -> dict[str, float]:
    from . import metrics  # imports scipy: kept out of ``msroi --help``

    decoded = np.asarray(Image.open(io.BytesIO(coded.data)).convert("RGB"))
    return metrics.all_metrics(sample.pixels, decoded, weights=sample.roi)

def _row(sample: Sample, encoder: str, method: str, matched_to: str, role: str, quality: int,
         coded: Coded | None, scores: dict[str, float] | None, map_kind: str) -> dict[str, Any]:  # fmt: skip
    h, w = sample.pixels.shape[:2]
    return {
        "image": sample.name, "width": w, "height": h, "encoder": encoder, "method": method,
        "matched_to": matched_to, "role": role, "quality": quality, "map_kind": map_kind,
        # No file (nothing fitted the target) leaves an empty row, so the gap stays visible.
        "final_quality": coded.quality if coded else None, "bytes": len(coded.data) if coded else None,
        **(scores or dict.fromkeys(METRICS)),
    }  # fmt: skip

def bench_sample(sample: Sample, encoders: Sequence[Encoder], qualities: Sequence[int],
                 curve_qualities: Sequence[int], map_kind: str) -> list[dict[str, Any]]:  # fmt: skip
    """All rows of one image: every encoder at every quality, plus the matched competitors.

    Rows at ``qualities`` have role ``main``; the other curve qualities ``curve``.  For each
    semantic file at a main quality, each competitor is re-encoded at the highest quality
    whose file is no larger (role ``matched``, encoder ``COMPETITOR@SEMANTIC``, same
    nominal ``quality`` as the semantic row, so the pair is (image, quality, matched_to)).
    """
    # Semantic files of similar size land on the same competitor qualities again and
    # again; each (encoder, quality) is encoded and scored once.
    files: dict[tuple[str, int], Coded] = {}
    scored: dict[tuple[str, int], dict[str, float]] = {}

    def encode(enc: Encoder, quality: int) -> Coded:
        if (enc.name, quality) not in files:
            files[enc.name, quality] = enc.encode(sample, quality)
        return files[enc.name, quality]

    def score(enc: Encoder, quality: int) -> dict[str, float]:
        if (enc.name, quality) not in scored:
            scored[enc.name, quality] = _scores(sample, files[enc.name, quality])
        return scored[enc.name, quality]

    rows = []
    competitors = [e for e in encoders if e.competitor]
    for quality in sorted(set(qualities) | set(curve_qualities)):
        role = "main" if quality in qualities else "curve"
        for enc in encoders:
            coded = encode(enc, quality)
            rows.append(_row(sample, enc.name, enc.name, "", role, quality, coded, score(enc, quality), map_kind))
            if role != "main" or not enc.semantic:
                continue
            for comp in competitors:
                fit = _budget.highest_quality_within(
                    lambda q, comp=comp: encode(comp, q).data, len(coded.data), guess=quality
                )
                q_fit = fit.quality
                matched, scores = (encode(comp, q_fit), score(comp, q_fit)) if q_fit is not None else (None, None)
                rows.append(_row(sample, f"{comp.name}@{enc.name}", comp.name, enc.name, "matched",
                                 quality, matched, scores, map_kind))  # fmt: skip
    return rows

def _select_encoders(names: Sequence[str] | None) -> tuple[list[Encoder], list[str]]:
    """The encoders to run (the reference always) and notes on those that cannot run."""
    wanted = list(ENCODERS) if not names else list(dict.fromkeys([REFERENCE, *names]))
    unknown = [n for n in wanted if n not in ENCODERS]
    if unknown:
        raise BenchError(f"unknown encoder(s) {', '.join(unknown)}; known: {', '.join(ENCODERS)}")
    chosen, notes = [], []
    for name in wanted:
        reason = ENCODERS[name].unavailable()
        if reason is None:
            chosen.append(ENCODERS[name])
        else:
            notes.append(f"`{name}` skipped: {reason}")
    return chosen, notes

def _load_sample(path: Path, map_kind: str, slack: float) -> Sample:
    with Image.open(path) as opened:
        image = opened.convert("RGB")
    if min(image.size) < MIN_SIDE:
        raise BenchError(f"{path.name} is {image.width}x{image.height}; MS-SSIM needs at least {MIN_SIDE} per side")
    try:
        roi = map_for(map_kind, image, encoding=True)
    except (OSError, ImportError) as exc:
        raise BenchError(_network_unavailable_message(exc)) from exc
    if not roi.any():
        # A flat map favours nothing; uniform weights keep roi_psnr defined (it equals psnr).
        roi = np.ones_like(roi)
    return Sample(path.name, image, np.asarray(image), roi, slack)

def run_bench(folder: Path, out: Path, *, qualities: Sequence[int] = DEFAULT_QUALITIES,
              curve_qualities: Sequence[int] = CURVE_QUALITIES, slack: float = DEFAULT_SLACK,
              limit: int | None = None, map_kind: str = "network", encoders: Sequence[str] | None = None,
              plots: bool = True, seed: int = 0, command: str = "", progress: bool = True) -> Path:  # fmt: skip
    """Run the codec benchmark on ``folder``; write results.csv, summary.md and the plots to ``out``."""
    if map_kind not in MAP_KINDS:
        raise BenchError(f"--map-kind must be one of {', '.join(MAP_KINDS)}, got {map_kind!r}")
    bad = [q for q in [*qualities, *curve_qualities] if not 1 <= q <= 100]
    if bad:
        raise BenchError(f"qualities must be 1..100, got {bad}")
    if plots:
        _pyplot()  # fail before hours of encoding, not after
    chosen, notes = _select_encoders(encoders)
    paths = image_paths(folder, limit)
    bar = Progress(len(paths), "bench") if progress else None
    # The first image (and with it the map) is loaded before any output is written, so a
    # missing network fails without leaving an empty results.csv behind.
    first = _load_sample(paths[0], map_kind, slack)
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "results.csv"
    # Written row by row so an interrupted run still leaves every finished image.
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for i, path in enumerate(paths):
            if bar:
                bar.update(i, path.name)
            sample = first if i == 0 else _load_sample(path, map_kind, slack)
            writer.writerows(_csv_ready(r) for r in bench_sample(sample, chosen, qualities, curve_qualities, map_kind))
            f.flush()
        if bar:
            bar.update(len(paths), "done")
            bar.close()
    meta = [
        f"Command: `{command}`" if command else "",
        f"Images: {len(paths)} from `{folder}`; map: `{map_kind}`; main qualities {list(qualities)}; "
        f"curve qualities {list(curve_qualities)}; slack {slack}; bootstrap seed {seed}.",
        *notes,
    ]
    if map_kind == "centre":
        meta.append(
            "The map is the centred Gaussian itself, so each method and its `-centre` control are "
            "the same encoder here; the rule rows show only what the rules do with a centre map."
        )
    rows = load_rows(csv_path)
    write_summary(rows, out / "summary.md", meta=[m for m in meta if m], seed=seed)
    if plots:
        write_plots(rows, out)
    return out
