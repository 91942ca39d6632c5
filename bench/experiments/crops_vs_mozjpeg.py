"""PSNR in the map's most and least favoured 128x128 windows (as ``msroi compare`` picks
them), the default semantic file against mozjpeg at equal bytes (its highest quality no
larger), on Kodak images.

    python bench/experiments/crops_vs_mozjpeg.py [kodim20:30 kodim20:50 kodim20:75 ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

import pillow_msroi
from pillow_msroi import encoding_map
from pillow_msroi._maps import prepare_map
from pillow_msroi._stretch_cy import upsample_bilinear
from pillow_msroi.eval import metrics
from pillow_msroi.eval.compare import CROP, extreme_windows

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for kodak.py
sys.path.insert(0, str(Path(__file__).resolve().parent))
from kodak import shared_dir  # noqa: E402
from perceptual import decode, highest_within, mozjpeg_at  # noqa: E402


def _window(px: np.ndarray, corner: tuple[int, int]) -> np.ndarray:
    x, y = corner
    return px[y : y + CROP, x : x + CROP]


def main() -> int:
    cases = [(a, int(b)) for a, b in (c.split(":") for c in (sys.argv[1:] or ["kodim20:30", "kodim20:50", "kodim20:75"]))]
    print("| image | budget | file | bytes | most favoured PSNR | least favoured PSNR |")
    print("|---|---|---|---|---|---|")
    for name, q in cases:
        with Image.open(shared_dir() / "data" / "kodak" / f"{name}.png") as src:
            im = src.convert("RGB")
        ref, small = np.asarray(im), encoding_map(im)
        ours = pillow_msroi.encode(im, quality=q, map=small)
        moz = highest_within(lambda p: mozjpeg_at(im, p), len(ours))
        full = upsample_bilinear(prepare_map(small, im.width, im.height), im.height, im.width)
        fav, unf = extreme_windows(full, CROP)
        for label, data in (("semantic", ours), ("mozjpeg", moz)):
            px = decode(data)
            print(f"| {name} | Q{q} | {label} | {len(data)} | {metrics.psnr(_window(ref, fav), _window(px, fav)):.2f} | "
                  f"{metrics.psnr(_window(ref, unf), _window(px, unf)):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
