"""JPEG sources and ``quality="keep"``: PSNR against the decoded source in the map's top
10 % (the network's encoding map stretched to the image), the semantic file against a
plain Pillow ``quality="keep"`` save, and the bytes of both.

    python bench/experiments/jpeg_sources.py [--osie N] [--caltech N] [--quality keep|Q ...]

OSIE stimuli are the validation part of the recorded split; Caltech-101 images are the
first N of ``Faces_easy`` by name.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for kodak.py
from kodak import shared_dir  # noqa: E402

import pillow_msroi  # noqa: E402
from pillow_msroi._maps import prepare_map  # noqa: E402
from pillow_msroi._stretch_cy import upsample_bilinear  # noqa: E402
from pillow_msroi.eval.osie import load_osie, osie_split  # noqa: E402


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def plain(im: Image.Image, quality) -> bytes:
    pillow_msroi.unregister()
    try:
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=quality)
        return buf.getvalue()
    finally:
        pillow_msroi.register()


def score(path: Path, quality) -> tuple[float, float, float]:
    im = Image.open(path)
    im.load()
    source = np.asarray(im.convert("RGB"))
    small = pillow_msroi.encoding_map(im)
    full = upsample_bilinear(prepare_map(small, *im.size), im.height, im.width)
    top = full >= np.quantile(full, 0.9)
    ours = pillow_msroi.encode(im, quality=quality, map=small)
    ref = plain(im, quality)

    def top_psnr(data: bytes) -> float:
        px = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        return psnr(source[top], px[top])

    a, b = top_psnr(ours), top_psnr(ref)
    # Both lossless there (the plain save often gives the source's pixels back): no loss.
    delta = 0.0 if a == b == float("inf") else a - b
    return delta, len(ours) / len(ref), b


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--osie", type=int, default=30)
    parser.add_argument("--caltech", type=int, default=30)
    parser.add_argument("--quality", nargs="+", default=["keep"])
    args = parser.parse_args()
    data = shared_dir() / "data"
    _, val = osie_split(load_osie(data / "osie"))
    sets = {
        "OSIE validation": [data / "osie" / "stimuli" / r.name for r in val[: args.osie]],
        "Caltech-101 Faces_easy": sorted((data / "caltech101" / "101_ObjectCategories" / "Faces_easy").glob("*.jpg"))[: args.caltech],
    }
    print("| images | quality | n | top-10 % PSNR, ours − plain (mean, worst) | images ≥ −0.1 dB | bytes ours / plain (mean, max) |")
    print("|---|---|---|---|---|---|")
    for name, paths in sets.items():
        for q in args.quality:
            quality = q if q == "keep" else int(q)
            rows = [score(p, quality) for p in paths]
            d = np.array([r[0] for r in rows])
            ratio = np.array([r[1] for r in rows])
            finite = d[np.isfinite(d)]
            print(f"| {name} | {q} | {len(rows)} | {finite.mean():+.2f}, {d.min():+.2f} | {(d >= -0.1).sum()}/{len(d)} "
                  f"| {ratio.mean():.3f}, {ratio.max():.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
