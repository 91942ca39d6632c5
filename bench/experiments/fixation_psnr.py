"""Fixation-weighted PSNR on OSIE at equal bytes: dct and blend against plain JPEG, and
the default (dct, network map) against mozjpeg and jpegli.

    python bench/experiments/fixation_psnr.py [--osie DIR] [--quality 30 50 75] [--limit N]
        [--competitors]

For every validation image (the training recipe's seeded 200) and quality, the semantic
file (budget: plain Pillow JPEG at that quality) is compared with plain JPEG re-encoded at
the highest quality whose file is no larger, on luma PSNR weighted by the viewers'
fixation density (Gaussian, sigma 2.5 % of the longer side) and on plain luma PSNR.
Maps: the network's default map, and a centred Gaussian as the control.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

import pillow_msroi
from pillow_msroi import _budget as budget
from pillow_msroi import _roi as roi
from pillow_msroi.eval import metrics
from pillow_msroi.eval.osie import OsieImage, load_osie, osie_split
from pillow_msroi.eval.results import bootstrap_ci
from pillow_msroi.eval.saliency import centre_gaussian, fixation_density

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for kodak.py
from kodak import shared_dir  # noqa: E402
from perceptual import highest_within, jpegli_at, mozjpeg_at  # noqa: E402 - this folder


def plain(image: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def decoded(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def osie_case(root: Path, rec: OsieImage, n: int, total: int) -> tuple[Image.Image, np.ndarray, np.ndarray]:
    """One stimulus (with a progress line): the RGB image, its pixels, its fixation density."""
    print(f"\r{n + 1}/{total} {rec.name}", end="", file=sys.stderr, flush=True)
    with Image.open(root / "stimuli" / rec.name) as im:
        image = im.convert("RGB")
    return image, np.asarray(image), fixation_density(rec.fix_x, rec.fix_y, rec.height, rec.width)


def _add(into: dict[str, list[float]], ours: tuple[np.ndarray, int], theirs: tuple[np.ndarray, int]) -> None:
    """One paired image: score deltas and bytes ratio of ``ours`` against ``theirs``."""
    (a, na), (b, nb) = ours, theirs
    into["fix"].append(float(a[0] - b[0]))
    into["psnr"].append(float(a[1] - b[1]))
    into["bytes"].append(na / nb)


def _cells(d: dict[str, list[float]]) -> str:
    """Bytes ratio, then mean [bootstrap 95 % interval] wins/n of each delta."""
    cells = [f"{np.mean(d['bytes']):.3f}"]
    for key in ("fix", "psnr"):
        v = np.array(d[key])
        lo, hi = bootstrap_ci(v)
        cells.append(f"{v.mean():+.2f} [{lo:+.2f}, {hi:+.2f}] {int((v > 0).sum())}/{v.size}")
    return " | ".join(cells)


def main() -> int:
    default = shared_dir() / "data" / "osie"
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--osie", type=Path, default=default)
    parser.add_argument("--quality", type=int, nargs="+", default=[30, 50, 75])
    parser.add_argument("--limit", type=int)
    parser.add_argument("--competitors", action="store_true",
                        help="also mozjpeg and jpegli at the bytes of each dct file (dct cases only)")  # fmt: skip
    args = parser.parse_args()
    others = {"mozjpeg": mozjpeg_at, "jpegli": jpegli_at} if args.competitors else {}

    _, val = osie_split(load_osie(args.osie))
    val = val[: args.limit]
    cases = [("dct", "network"), ("blend", "network"), ("dct", "centre"), ("blend", "centre")]
    deltas = {(m, k, q): {"fix": [], "psnr": [], "bytes": []} for m, k in cases for q in args.quality}
    # dct against the blend directly: both files from the same budget, paired per image.
    versus = {(k, q): {"fix": [], "psnr": [], "bytes": []} for k in ("network", "centre") for q in args.quality}
    rivals = {(o, k, q): {"fix": [], "psnr": [], "bytes": []} for o in others for k in ("network", "centre") for q in args.quality}
    for n, rec in enumerate(val):
        image, ref, weights = osie_case(args.osie, rec, n, len(val))
        # The network map as semantic=True encodes with it by default.
        maps = {"network": roi.encoding_map(image), "centre": centre_gaussian(rec.height, rec.width)}
        plain_files: dict[int, bytes] = {}  # quality -> plain JPEG, shared by every search

        def plain_at(p: int) -> bytes:
            if p not in plain_files:
                plain_files[p] = plain(image, p)
            return plain_files[p]

        def scores(data: bytes) -> np.ndarray:
            out = decoded(data)
            return np.array([metrics.weighted_psnr(ref, out, weights), metrics.psnr(ref, out)])

        for q in args.quality:
            files = {}  # (method, kind) -> (fixation-weighted PSNR, PSNR), bytes
            for method, kind in cases:
                data = pillow_msroi.encode(image, quality=q, map=maps[kind], method=method)
                files[(method, kind)] = scores(data), len(data)
                fit = budget.highest_quality_within(plain_at, len(data), guess=q)
                if fit.data is not None:
                    _add(deltas[(method, kind, q)], files[(method, kind)], (scores(fit.data), len(fit.data)))
            for kind in ("network", "centre"):
                _add(versus[(kind, q)], files[("dct", kind)], files[("blend", kind)])
                for name, encode_at in others.items():
                    other = highest_within(lambda k, e=encode_at: e(image, k), files[("dct", kind)][1])
                    _add(rivals[(name, kind, q)], files[("dct", kind)], (scores(other), len(other)))
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
    if others:
        print()
        print("dct against mozjpeg and jpegli, each at the highest quality no larger than the dct file "
              "(bytes ratio dct / competitor)")
        print()
        print("| competitor | dct map | quality | bytes ratio | fixation-weighted PSNR | PSNR |")
        print("|---|---|---|---|---|---|")
        for name in others:
            for kind in ("network", "centre"):
                for q in args.quality:
                    print(f"| {name} | {kind} | {q} | {_cells(rivals[(name, kind, q)])} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
