"""Fixation-weighted PSNR on OSIE at equal bytes: dct and blend against plain JPEG.

    python bench/fixation_psnr.py [--osie DIR] [--quality 30 50 75] [--limit N]

For every validation image (the training recipe's seeded 200) and quality, the semantic
file (budget: plain Pillow JPEG at that quality) is compared with plain JPEG re-encoded at
the highest quality whose file is no larger, on luma PSNR weighted by the viewers'
fixation density (Gaussian, sigma 2.5 % of the longer side) and on plain luma PSNR.
Maps: the network's default map, and a centred Gaussian as the control.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image

import pillow_msroi
from pillow_msroi import budget, metrics, roi
from pillow_msroi.bench import bootstrap_ci
from pillow_msroi.saliency_metrics import centre_gaussian, fixation_density
from pillow_msroi.osie import load_osie, osie_split


def plain(image: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def decoded(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def _cells(d: dict[str, list[float]]) -> str:
    """Bytes ratio, then mean [bootstrap 95 % interval] wins/n of each delta."""
    cells = [f"{np.mean(d['bytes']):.3f}"]
    for key in ("fix", "psnr"):
        v = np.array(d[key])
        lo, hi = bootstrap_ci(v)
        cells.append(f"{v.mean():+.2f} [{lo:+.2f}, {hi:+.2f}] {int((v > 0).sum())}/{v.size}")
    return " | ".join(cells)


def main() -> int:
    default = Path(os.environ.get("MSROI_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "data" / "osie"
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--osie", type=Path, default=default)
    parser.add_argument("--quality", type=int, nargs="+", default=[30, 50, 75])
    parser.add_argument("--limit", type=int)
    args = parser.parse_args()

    _, val = osie_split(load_osie(args.osie))
    val = val[: args.limit]
    cases = [("dct", "network"), ("blend", "network"), ("dct", "centre"), ("blend", "centre")]
    deltas = {(m, k, q): {"fix": [], "psnr": [], "bytes": []} for m, k in cases for q in args.quality}
    # dct against the blend directly: both files from the same budget, paired per image.
    versus = {(k, q): {"fix": [], "psnr": [], "bytes": []} for k in ("network", "centre") for q in args.quality}
    for n, rec in enumerate(val):
        print(f"\r{n + 1}/{len(val)} {rec.name}", end="", file=sys.stderr, flush=True)
        with Image.open(args.osie / "stimuli" / rec.name) as im:
            image = im.convert("RGB")
        ref = np.asarray(image)
        weights = fixation_density(rec.fix_x, rec.fix_y, rec.height, rec.width)
        # The network map as semantic=True encodes with it by default.
        maps = {"network": roi.encoding_map(image), "centre": centre_gaussian(rec.height, rec.width)}
        for q in args.quality:
            files = {}
            for method, kind in cases:
                data = pillow_msroi.encode(image, quality=q, map=maps[kind], method=method)
                files[(method, kind)] = decoded(data), len(data)
                fit = budget.highest_quality_within(lambda p: plain(image, p), len(data), guess=q)
                if fit.data is None:
                    continue
                a, b = decoded(data), decoded(fit.data)
                d = deltas[(method, kind, q)]
                d["fix"].append(metrics.weighted_psnr(ref, a, weights) - metrics.weighted_psnr(ref, b, weights))
                d["psnr"].append(metrics.psnr(ref, a) - metrics.psnr(ref, b))
                d["bytes"].append(len(data) / len(fit.data))
            for kind in ("network", "centre"):
                (a, na), (b, nb) = files[("dct", kind)], files[("blend", kind)]
                v = versus[(kind, q)]
                v["fix"].append(metrics.weighted_psnr(ref, a, weights) - metrics.weighted_psnr(ref, b, weights))
                v["psnr"].append(metrics.psnr(ref, a) - metrics.psnr(ref, b))
                v["bytes"].append(na / nb)
    print(file=sys.stderr)
    print(f"OSIE validation split, {len(val)} images; deltas in dB against plain JPEG at equal bytes "
          "(mean [bootstrap 95 % interval], wins)")
    print()
    print("| method | map | quality | bytes ratio | fixation-weighted PSNR | PSNR |")
    print("|---|---|---|---|---|---|")
    for method, kind in cases:
        for q in args.quality:
            print(f"| {method} | {kind} | {q} | {_cells(deltas[(method, kind, q)])} |")
    print()
    print("dct against the blend, both budgeted by the same plain JPEG (paired per image; bytes ratio dct / blend)")
    print()
    print("| map | quality | bytes ratio | fixation-weighted PSNR | PSNR |")
    print("|---|---|---|---|---|")
    for kind in ("network", "centre"):
        for q in args.quality:
            print(f"| {kind} | {q} | {_cells(versus[(kind, q)])} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
