"""Does a higher quality ever give a worse semantic file?  The default save (network map)
of Kodak images at quality 5, 10, .. 100: bytes, RGB PSNR and SSIMULACRA2 per step, and
every step where one of them fell.

    python bench/experiments/quality_ladder.py [--images 3 5 7 13 19 20 23] [--step 5]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

import pillow_msroi
from pillow_msroi import encoding_map
from pillow_msroi.eval import metrics

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for kodak.py
sys.path.insert(0, str(Path(__file__).resolve().parent))
from kodak import shared_dir  # noqa: E402
from perceptual import decode  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, nargs="+", default=[3, 5, 7, 13, 19, 20, 23])
    ap.add_argument("--step", type=int, default=5)
    args = ap.parse_args()
    qualities = list(range(args.step, 101, args.step))
    falls, steps = [], 0
    for n in args.images:
        with Image.open(shared_dir() / "data" / "kodak" / f"kodim{n:02d}.png") as src:
            im = src.convert("RGB")
        ref, small = np.asarray(im), encoding_map(im)
        rows = []
        for q in qualities:
            data = pillow_msroi.encode(im, quality=q, map=small)
            px = decode(data)
            rows.append((q, len(data), metrics.psnr(ref, px), metrics.ssimulacra2(ref, px)))
        for a, b in zip(rows, rows[1:]):
            steps += 1
            for k, name in ((1, "bytes"), (2, "PSNR"), (3, "SSIMULACRA2")):
                if b[k] < a[k]:
                    falls.append(f"kodim{n:02d} Q{a[0]} -> Q{b[0]}: {name} {a[k]:.3f} -> {b[k]:.3f}")
        print(f"kodim{n:02d}: " + ", ".join(f"Q{q} {b} B {p:.2f} dB {s:.1f}" for q, b, p, s in rows[:: max(1, len(rows) // 5)]))
    print(f"{len(args.images)} images, {steps} quality steps: {len(falls)} falls")
    for f in falls:
        print("  " + f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
