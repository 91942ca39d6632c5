"""The rate control's first guess of the table quality: ``ln scale = g0 + g1 ln
scale(quality) + g2 ln bpp`` (bpp of the plain JPEG), fitted by least squares on the odd
Kodak images at qualities 20..90, then the passes per encode on the even ones at Q30/50/75.

    python bench/experiments/first_guess.py [--map network|uniform]

``--map network`` (the default map) fits ``rate.GUESS_MAP`` (the semantic luma table),
``--map uniform`` ``rate.GUESS`` (the core's table).  The shipped constants are used for
the passes; the fit is printed to compare.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
from PIL import Image

import pillow_msroi
from pillow_msroi import encoding_map
from pillow_msroi._budget import law_scale

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for kodak.py
from kodak import shared_dir  # noqa: E402


def _kodak(n: int) -> Image.Image:
    with Image.open(shared_dir() / "data" / "kodak" / f"kodim{n:02d}.png") as src:
        return src.convert("RGB")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--map", choices=["network", "uniform"], default="network")
    args = ap.parse_args()
    map_of = encoding_map if args.map == "network" else (lambda im: np.ones((8, 8)))
    rows = []
    for n in range(1, 25, 2):
        im = _kodak(n)
        small = map_of(im)
        for q in range(20, 91, 10):
            d = pillow_msroi.encode_details(im, quality=q, map=small)
            if isinstance(d.quality, int):
                bpp = 8 * d.plain_bytes / (im.width * im.height)
                rows.append((math.log(max(law_scale(q), 1)), math.log(bpp), math.log(max(law_scale(d.quality), 1))))
    a = np.array(rows)
    x = np.c_[np.ones(len(a)), a[:, 0], a[:, 1]]
    fit, *_ = np.linalg.lstsq(x, a[:, 2], rcond=None)
    resid = float(np.std(a[:, 2] - x @ fit))
    print(f"fit on odd images ({len(a)} encodes): ({fit[0]:.3f}, {fit[1]:.3f}, {fit[2]:.3f}), residual sd {resid:.3f}")
    passes, fill = [], []
    for n in range(2, 25, 2):
        im = _kodak(n)
        small = map_of(im)
        for q in (30, 50, 75):
            d = pillow_msroi.encode_details(im, quality=q, map=small)
            passes.append(d.encodes)
            fill.append(len(d.data) / d.budget)
    print(f"even images, Q30/50/75: passes mean {np.mean(passes):.2f}, max {max(passes)}; bytes / budget {np.mean(fill):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
