"""Perceptual quality at equal bytes: ours (uniform map and network map) against plain
Pillow, mozjpeg and jpegli, scored by SSIMULACRA2 and PSNR-HVS-M.

Budgets are the sizes of plain Pillow JPEGs (default options, 4:2:0) at the given
qualities; every competitor is re-encoded at the highest quality whose file is no larger,
and ours fits the same budget by its own rate control (``slack=0``).  The metrics are the
PyPI packages ``ssimulacra2`` 0.3.0 and ``psnr-hvsm`` 0.3.0 (nobody here wrote them);
mozjpeg is jpeglib's bundled 4.0.3 with its defaults, jpegli is ``pyjpegli``.

    python bench/experiments/perceptual.py --images 1-24 --budgets 30 50 75 [--json out.json] [--jobs 1]
    python bench/experiments/perceptual.py --crops OUTDIR   # 2x crops of smooth regions at the Q30 budget
    python bench/experiments/perceptual.py --speed --images 1-24 --budgets 75   # time against mozjpeg

Run it with ``nice``: the metric is plain numpy and takes about a second per pair.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]

SHARED = Path(os.environ.get("MSROI_SHARED", ROOT.parent / "shared"))
KODAK = SHARED / "data" / "kodak"
ENCODERS = ("pillow", "mozjpeg", "jpegli", "ours-uniform", "ours")


def _metric_modules():
    try:
        import psnr_hvsm
        from ssimulacra2 import ssimulacra2 as s2
    except ImportError as exc:
        msg = f"{exc}: pip install ssimulacra2==0.3.0 psnr-hvsm==0.3.0"
        raise SystemExit(msg) from exc
    return s2, psnr_hvsm


class Reference:
    """One original, with what the metrics need from it computed once."""

    def __init__(self, rgb: np.ndarray) -> None:
        s2, _ = _metric_modules()
        self.rgb = rgb
        self.luma = _luma(rgb)
        self._pyramid = []
        lin = s2.srgb_to_linear(rgb.astype(np.float64))
        for scale in range(s2.kNumScales):
            xyb = s2.make_positive_xyb(s2.linear_rgb_to_xyb(lin))
            if xyb.shape[0] < 8 or xyb.shape[1] < 8:
                break
            self._pyramid.append((xyb, s2.blur_image(xyb * xyb), s2.blur_image(xyb)))
            if scale < s2.kNumScales - 1:
                lin = s2.downsample(lin, 2, 2)

    def ssimulacra2(self, rgb: np.ndarray) -> float:
        """The package's ``compute_ssimulacra2`` on arrays, the original's side cached."""
        s2, _ = _metric_modules()
        ms = s2.Msssim()
        lin = s2.srgb_to_linear(rgb.astype(np.float64))
        for scale, (img1, sigma1_sq, mu1) in enumerate(self._pyramid):
            img2 = s2.make_positive_xyb(s2.linear_rgb_to_xyb(lin))
            sigma2_sq = s2.blur_image(img2 * img2)
            sigma12 = s2.blur_image(img1 * img2)
            mu2 = s2.blur_image(img2)
            sc = s2.MsssimScale()
            sc.avg_ssim = s2.ssim_map(mu1, mu2, sigma1_sq, sigma2_sq, sigma12)
            sc.avg_edgediff = s2.edge_diff_map(img1, mu1, img2, mu2)
            ms.scales.append(sc)
            if scale < len(self._pyramid) - 1:
                lin = s2.downsample(lin, 2, 2)
        return float(ms.score())

    def psnr_hvs_m(self, rgb: np.ndarray) -> float:
        """PSNR-HVS-M of the BT.601 luma in [0, 1] (the package's ``psnr_hvs_hvsm``)."""
        _, ph = _metric_modules()
        h, w = (self.luma.shape[0] // 8) * 8, (self.luma.shape[1] // 8) * 8  # whole 8x8 tiles only
        with np.errstate(invalid="ignore", divide="ignore"):  # flat tiles: the package divides 0 by 0
            return float(ph.psnr_hvs_hvsm(self.luma[:h, :w], _luma(rgb)[:h, :w])[1])


def _luma(rgb: np.ndarray) -> np.ndarray:
    x = rgb.astype(np.float64) / 255.0
    return 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]


def decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def pillow_at(im: Image.Image, q: int) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=q)
    return buf.getvalue()


def mozjpeg_at(im: Image.Image, q: int) -> bytes:
    import jpeglib

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.jpg")
        with jpeglib.version("mozjpeg403"):
            jpeglib.from_spatial(np.ascontiguousarray(np.asarray(im))).write_spatial(path, qt=q)
        return Path(path).read_bytes()


def jpegli_at(im: Image.Image, q: int) -> bytes:
    import pyjpegli

    return pyjpegli.encode(np.ascontiguousarray(np.asarray(im)).tobytes(), im.width, im.height, q)


def highest_within(encode: Callable[[int], bytes], limit: int) -> bytes:
    """The file at the highest quality 1..100 no larger than ``limit`` (sizes grow with
    quality, so a bisection); quality 1 if even that is larger."""
    lo, hi, best = 1, 100, None
    while lo <= hi:
        mid = (lo + hi) // 2
        data = encode(mid)
        if len(data) <= limit:
            best, lo = data, mid + 1
        else:
            hi = mid - 1
    return best if best is not None else encode(1)


def ours(im: Image.Image, q: int, uniform: bool) -> bytes:
    import pillow_msroi

    return pillow_msroi.encode(im, quality=q, slack=0.0, map=np.ones((8, 8)) if uniform else None)


def encode_all(im: Image.Image, q: int, encoders: tuple[str, ...]) -> dict[str, bytes]:
    budget = len(pillow_at(im, q))
    out: dict[str, bytes] = {}
    for name in encoders:
        if name == "pillow":
            out[name] = highest_within(lambda k: pillow_at(im, k), budget)
        elif name == "mozjpeg":
            out[name] = highest_within(lambda k: mozjpeg_at(im, k), budget)
        elif name == "jpegli":
            out[name] = highest_within(lambda k: jpegli_at(im, k), budget)
        elif name == "ours-uniform":
            out[name] = ours(im, q, uniform=True)
        elif name == "ours":
            out[name] = ours(im, q, uniform=False)
        else:
            raise SystemExit(f"unknown encoder {name!r}; choose from {', '.join(ENCODERS)}")
    return out


def load(path: Path, half: bool = False) -> Image.Image:
    with Image.open(path) as im:
        im = im.convert("RGB")
    if half:  # OSIE stimuli are JPEGs: halving with Lanczos removes most of their artifacts
        im = im.resize((im.width // 2, im.height // 2), Image.LANCZOS)
    return im


def score_image(path: Path, budgets: list[int], encoders: tuple[str, ...], half: bool = False) -> list[dict]:
    im = load(path, half)
    ref = Reference(np.asarray(im))
    rows = []
    for q in budgets:
        budget = len(pillow_at(im, q))
        for name, data in encode_all(im, q, encoders).items():
            rgb = decode(data)
            rows.append({
                "image": path.stem, "budget": q, "budget_bytes": budget, "encoder": name, "bytes": len(data),
                "ssimulacra2": ref.ssimulacra2(rgb), "psnr_hvs_m": ref.psnr_hvs_m(rgb),
            })
    return rows


def parse_images(spec: str) -> list[Path]:
    ids: list[int] = []
    for part in spec.split(","):
        a, _, b = part.partition("-")
        ids += list(range(int(a), int(b or a) + 1))
    return [KODAK / f"kodim{i:02d}.png" for i in ids]


def table(rows: list[dict], budgets: list[int], encoders: tuple[str, ...]) -> str:
    lines = ["| encoder | " + " | ".join(f"Q{q} SSIMULACRA2 | Q{q} PSNR-HVS-M | Q{q} bytes/budget" for q in budgets) + " |"]
    lines.append("|---" * (1 + 3 * len(budgets)) + "|")
    for name in encoders:
        cells = []
        for q in budgets:
            sel = [r for r in rows if r["encoder"] == name and r["budget"] == q]
            if not sel:
                cells += ["", "", ""]
                continue
            cells.append(f"{np.mean([r['ssimulacra2'] for r in sel]):.2f}")
            cells.append(f"{np.mean([r['psnr_hvs_m'] for r in sel]):.2f}")
            cells.append(f"{np.mean([r['bytes'] / r['budget_bytes'] for r in sel]):.4f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def deltas(rows: list[dict], budgets: list[int], ours_name: str, other: str) -> str:
    out = []
    for q in budgets:
        by = {(r["image"], r["encoder"]): r for r in rows if r["budget"] == q}
        imgs = sorted({i for i, e in by if e == ours_name and (i, other) in by})
        if not imgs:
            continue
        d = np.array([by[i, ours_name]["ssimulacra2"] - by[i, other]["ssimulacra2"] for i in imgs])
        h = np.array([by[i, ours_name]["psnr_hvs_m"] - by[i, other]["psnr_hvs_m"] for i in imgs])
        worst = int(np.argmin(d))
        out.append(
            f"Q{q} {ours_name} - {other}: SSIMULACRA2 mean {d.mean():+.2f}, wins {int((d > 0).sum())}/{len(d)}, "
            f"worst {d[worst]:+.2f} ({imgs[worst]}); PSNR-HVS-M mean {h.mean():+.2f}, worst {h.min():+.2f}"
        )
    return "\n".join(out)


def crops(outdir: Path, budget: int = 30) -> None:
    """Side-by-side 2x crops of smooth regions: original | ours, uniform map | ours,
    network map | Pillow | mozjpeg, all at the budget of plain Pillow at ``budget``."""
    regions = {  # (left, top) of a 128x96 crop: sky, dirt, the raft's yellow, blurred leaves
        "kodim03": (330, 10), "kodim05": (620, 400), "kodim14": (560, 340), "kodim23": (440, 10),
    }
    outdir.mkdir(parents=True, exist_ok=True)
    for stem, (x, y) in regions.items():
        im = load(KODAK / f"{stem}.png")
        files = encode_all(im, budget, ("ours-uniform", "ours", "pillow", "mozjpeg"))
        tiles = [np.asarray(im)] + [decode(files[k]) for k in ("ours-uniform", "ours", "pillow", "mozjpeg")]
        tiles = [Image.fromarray(t[y : y + 96, x : x + 128]).resize((256, 192), Image.NEAREST) for t in tiles]
        sheet = Image.new("RGB", (256 * len(tiles) + 4 * (len(tiles) - 1), 192), "white")
        for i, t in enumerate(tiles):
            sheet.paste(t, (i * 260, 0))
        sheet.save(outdir / f"{stem}_q{budget}.png")
        print(stem, {k: len(v) for k, v in files.items()})


def speed(paths: list[Path], budgets: list[int], repeats: int = 5) -> None:
    """Median time of a default save with a given map (the network's, computed once)
    against mozjpeg at the same quality, in this process, image by image."""
    import pillow_msroi
    from pillow_msroi import _roi as roi

    ratios = []
    for pth in paths:
        im = load(pth)
        m = roi.encoding_map(im)
        for q in budgets:
            pillow_msroi.encode(im, quality=q, map=m)  # warm
            ours_t, moz_t = [], []
            for _ in range(repeats):
                t = time.perf_counter()
                pillow_msroi.encode(im, quality=q, map=m)
                ours_t.append(time.perf_counter() - t)
                t = time.perf_counter()
                mozjpeg_at(im, q)
                moz_t.append(time.perf_counter() - t)
            a, b = np.median(ours_t) * 1e3, np.median(moz_t) * 1e3
            ratios.append(a / b)
            print(f"{pth.stem} Q{q}: ours {a:.1f} ms, mozjpeg {b:.1f} ms, ratio {a / b:.2f}", flush=True)
    print(f"mean ratio {np.mean(ratios):.2f}, max {np.max(ratios):.2f}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", default="1-24", help="Kodak numbers, e.g. 1-24 or 2,4,6")
    ap.add_argument("--budgets", type=int, nargs="+", default=[30, 50, 75])
    ap.add_argument("--encoders", nargs="+", default=list(ENCODERS), choices=ENCODERS)
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (the machine is shared)")
    ap.add_argument("--json", type=Path, help="write every row here")
    ap.add_argument("--merge", type=Path, help="rows of an earlier --json run for the encoders not run now")
    ap.add_argument("--crops", type=Path, help="write crops to this folder instead")
    ap.add_argument("--speed", action="store_true", help="time ours against mozjpeg instead")
    args = ap.parse_args(argv)
    if args.crops:
        crops(args.crops)
        return
    paths = parse_images(args.images)
    if args.speed:
        speed(paths, args.budgets)
        return
    enc = tuple(args.encoders)
    t0 = time.time()
    if args.jobs > 1:
        from multiprocessing import Pool

        with Pool(args.jobs) as p:
            rows = sum(p.starmap(score_image, [(pth, args.budgets, enc) for pth in paths]), [])
    else:
        rows = []
        for pth in paths:
            rows += score_image(pth, args.budgets, enc)
            print(pth.stem, f"{time.time() - t0:.0f}s", file=sys.stderr, flush=True)
    if args.merge:
        rows += [r for r in json.loads(args.merge.read_text()) if r["encoder"] not in enc]
        enc = tuple(e for e in ENCODERS if any(r["encoder"] == e for r in rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    print(table(rows, args.budgets, enc))
    for ours_name in ("ours-uniform", "ours"):
        for other in ("pillow", "mozjpeg", "jpegli"):
            if ours_name in enc and other in enc:
                print(deltas(rows, args.budgets, ours_name, other))


if __name__ == "__main__":
    main()
