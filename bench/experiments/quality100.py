"""Quality 100 against plain quality 100: the semantic file's PSNR per YCbCr channel, RGB
PSNR, SSIMULACRA2 and bytes, with the float DCT, libjpeg's integer DCT, and the shipped
mix (float luma, integer chroma); then the shipped file against plain quality 100 with
``optimize=True`` and with ``progressive=True``.

    python bench/experiments/quality100.py [kodim05 kodim03 ... | astronaut chelsea coffee]

Quality 100 ends in plain rounding at tables of ones where that fits, so the transform
alone decides the pixels: the integer DCT gives plain quality 100's pixels exactly
(Pillow's libjpeg uses it); the float DCT is the more exact transform.  Names without
"kodim" are scikit-image samples.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data as skdata

import pillow_msroi
import pillow_msroi._dct as dct
from pillow_msroi._dct.coefficients import Coefficients
from pillow_msroi.eval import metrics

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for kodak.py
sys.path.insert(0, str(Path(__file__).resolve().parent))
from kodak import shared_dir  # noqa: E402
from perceptual import decode  # noqa: E402

UNIFORM = np.ones((8, 8))


def _image(name: str) -> Image.Image:
    if name.startswith("kodim"):
        with Image.open(shared_dir() / "data" / "kodak" / f"{name}.png") as src:
            return src.convert("RGB")
    return Image.fromarray(getattr(skdata, name)()).convert("RGB")


def _forced(islow: bool | None) -> Callable[..., Coefficients]:
    """The transform with ``islow`` forced (None: as shipped)."""
    if islow is None:
        return Coefficients
    return lambda *a, **k: Coefficients(*a, **{**k, "islow": islow})


def _plain(im: Image.Image, **options: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=100, **options)
    return buf.getvalue()


def _row(name: str, label: str, data: bytes, ref: np.ndarray, ref_ycc: np.ndarray) -> str:
    rgb = decode(data)
    ycc = np.asarray(Image.fromarray(rgb).convert("YCbCr"))
    chans = " | ".join(f"{metrics.psnr_rgb(ref_ycc[..., c], ycc[..., c]):.3f}" for c in range(3))
    return f"| {name} | {label} | {len(data)} | {metrics.psnr_rgb(ref, rgb):.3f} | {chans} | {metrics.ssimulacra2(ref, rgb):.2f} |"


def main() -> int:
    names = sys.argv[1:] or ["kodim05", "kodim03", "kodim23", "kodim13", "kodim19", "kodim24"]
    print("| image | file | bytes | RGB PSNR | Y | Cb | Cr | SSIMULACRA2 |")
    print("|---|---|---|---|---|---|---|---|")
    for name in names:
        im = _image(name)
        ref, ref_ycc = np.asarray(im), np.asarray(im.convert("YCbCr"))
        files = {"plain Pillow": _plain(im)}
        for label, islow in (("float", False), ("integer", True), ("shipped", None)):
            dct.Coefficients = _forced(islow)
            try:
                files[label] = pillow_msroi.encode(im, quality=100, map=UNIFORM)
            finally:
                dct.Coefficients = Coefficients
        for option in ("optimize", "progressive"):
            files[f"plain Pillow, {option}"] = _plain(im, **{option: True})
            files[f"shipped, {option}"] = pillow_msroi.encode(im, quality=100, map=UNIFORM, **{option: True})
        for label, data in files.items():
            print(_row(name, label, data, ref, ref_ycc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
