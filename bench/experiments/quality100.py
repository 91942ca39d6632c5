"""Quality 100 against plain quality 100: the semantic file's PSNR per YCbCr channel, RGB
PSNR, SSIMULACRA2 and bytes, with the float DCT, libjpeg's integer DCT, and the shipped
mix (float luma, integer chroma).

    python bench/experiments/quality100.py [kodim05 kodim03 ...]

Quality 100 ends in plain rounding at tables of ones, so the transform alone decides the
pixels: the integer DCT gives plain quality 100's pixels exactly (Pillow's libjpeg uses
it); the float DCT is the more exact transform.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

import pillow_msroi
import pillow_msroi._dct as dct
from pillow_msroi._dct.coefficients import Coefficients
from pillow_msroi.eval import metrics

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for kodak.py
from kodak import shared_dir  # noqa: E402


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0**2 / np.mean((a.astype(np.float64) - b) ** 2)))


def _decode(data: bytes, mode: str) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert(mode))


def _forced(islow: bool | None) -> Callable[..., Coefficients]:
    """The transform with ``islow`` forced (None: as shipped)."""
    if islow is None:
        return Coefficients
    return lambda *a, **k: Coefficients(*a, **{**k, "islow": islow})


def main() -> int:
    names = sys.argv[1:] or ["kodim05", "kodim03", "kodim23", "kodim13", "kodim19", "kodim24"]
    print("| image | transform | bytes | RGB PSNR | Y | Cb | Cr | SSIMULACRA2 |")
    print("|---|---|---|---|---|---|---|---|")
    for name in names:
        with Image.open(shared_dir() / "data" / "kodak" / f"{name}.png") as src:
            im = src.convert("RGB")
        ref, ref_ycc = np.asarray(im), np.asarray(im.convert("YCbCr"))
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=100)
        files = {"plain Pillow": buf.getvalue()}
        for label, islow in (("float", False), ("integer", True), ("shipped", None)):
            dct.Coefficients = _forced(islow)
            try:
                files[label] = pillow_msroi.encode(im, quality=100, map=np.ones((8, 8)))
            finally:
                dct.Coefficients = Coefficients
        for label, data in files.items():
            rgb, ycc = _decode(data, "RGB"), _decode(data, "YCbCr")
            chans = " | ".join(f"{_psnr(ref_ycc[..., c], ycc[..., c]):.3f}" for c in range(3))
            print(f"| {name} | {label} | {len(data)} | {_psnr(ref, rgb):.3f} | {chans} | "
                  f"{metrics.ssimulacra2(ref, rgb):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
