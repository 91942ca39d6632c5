"""End-to-end semantic save with a given map against a plain-numpy restatement.

The restatement: all ten simplejpeg layers encoded and decoded one after another,
``np.take_along_axis`` with a precomputed level index, and a plain bisection over
Pillow JPEG encodes for the budget.  Both run over the 24 Kodak images per round.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import simplejpeg
from kodak import kodak_paths
from PIL import Image

import pillow_msroi
from pillow_msroi.eval.saliency import centre_gaussian


def centred(h: int, w: int) -> np.ndarray:
    return centre_gaussian(h, w, 5.0)


@pytest.fixture(scope="module")
def kodak():
    cases = []
    for path in kodak_paths():
        im = Image.open(path).convert("RGB")
        small = centred(im.height // 32, im.width // 32)
        details = pillow_msroi.encode_details(im, map=small, quality=50, method="blend")
        cases.append((im, np.asarray(im), small, details.level_map, details.encodes))
    return cases


def pillow_jpeg(im: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def numpy_pipeline(im, rgb, level_map):
    budget = len(pillow_jpeg(im, 50))
    stack = np.stack(
        [simplejpeg.decode_jpeg(simplejpeg.encode_jpeg(rgb, quality=q, colorsubsampling="420")) for q in range(10, 101, 10)]
    )
    blended = Image.fromarray(np.take_along_axis(stack, level_map[None, :, :, None].astype(np.intp), axis=0)[0])
    lo, hi, best = 0, 101, None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        data = pillow_jpeg(blended, mid)
        if len(data) <= budget:
            lo, best = mid, data
        else:
            hi = mid
    return best


def test_numpy_pipeline(timed, kodak):
    timed.pedantic(lambda: [numpy_pipeline(im, rgb, lv) for im, rgb, _, lv, _ in kodak], rounds=5, warmup_rounds=1)


def test_semantic_save(timed, kodak):
    """The paper's method, which the restatement restates."""

    def run():
        for im, _, small, _, _ in kodak:
            buf = io.BytesIO()
            im.save(buf, "JPEG", quality=50, semantic=True, semantic_map=small, semantic_method="blend")

    timed.pedantic(run, rounds=5, warmup_rounds=1)


def test_semantic_save_default(timed, kodak):
    """What ``semantic=True`` runs by default ("auto", here the DCT-domain method)."""

    def run():
        for im, _, small, _, _ in kodak:
            buf = io.BytesIO()
            im.save(buf, "JPEG", quality=50, semantic=True, semantic_map=small)

    timed.pedantic(run, rounds=5, warmup_rounds=1)


def test_budget_search_encodes(kodak, report):
    """Final-quality encodes of the blend's budget search (at most 8; steered to few)."""
    encodes = [n for *_, n in kodak]
    assert max(encodes) <= 8
    report(f"blend budget search on {len(encodes)} Kodak images, Q50: {np.mean(encodes):.2f} encodes on average, "
           f"at most {max(encodes)}")


def test_mozjpeg_encode(timed, kodak, tmp_path):
    """mozjpeg 4.0.3 (jpeglib, its defaults: trellis, progressive scan search) encoding
    the same images at the same quality in this process: the bar the default save is held
    to (issue 11: no slower)."""
    jpeglib = pytest.importorskip("jpeglib")
    path = str(tmp_path / "m.jpg")

    def run():
        with jpeglib.version("mozjpeg403"):
            for _, rgb, _, _, _ in kodak:
                jpeglib.from_spatial(np.ascontiguousarray(rgb)).write_spatial(path, qt=50)

    timed.pedantic(run, rounds=5, warmup_rounds=1)
