"""Fused level assignment + blend against numpy (percentile + digitize + np.take).

Both sides get the same decoded quality layers of a Kodak image and the same map, each in
its natural form: the kernels take the network-sized map (1/32 of the image) and stretch
it on the fly, numpy takes it already stretched to full size (not timed).  Only level
assignment and pixel selection are timed.
"""

from __future__ import annotations

import numpy as np
import pytest
import simplejpeg
from kodak import kodak_paths
from PIL import Image

from pillow_msroi import _blend_cy as blend_cy
from pillow_msroi import _levels as levels
from pillow_msroi import _stretch_cy as stretch_cy


@pytest.fixture(scope="module")
def case():
    rgb = np.asarray(Image.open(kodak_paths()[2]).convert("RGB"))
    h, w = rgb.shape[:2]
    small = np.random.default_rng(0).random((h // 32, w // 32), dtype=np.float32)
    full = stretch_cy.upsample_bilinear(small, h, w)
    layers = [
        simplejpeg.decode_jpeg(simplejpeg.encode_jpeg(rgb, quality=q, colorsubsampling="420"))
        for q in range(10, 101, 10)
    ]
    return small, full, layers, np.stack(layers)


def numpy_levels_and_blend(full, stack):
    deciles = np.percentile(full, np.arange(10, 100, 10))
    index = np.clip(np.digitize(full, deciles) + 1, 1, 9)
    return np.take_along_axis(stack, index[None, :, :, None], axis=0)[0]


def fused_levels_and_blend(small, h, w, layers):
    level_map = levels.assign(small, h, w, 3)
    out = np.empty((h, w, 3), np.uint8)
    for k in range(1, 10):
        blend_cy.blend_level(layers[k], level_map, k, out)
    return out


def test_numpy_levels_and_blend(timed, case):
    _, full, _, stack = case
    timed(numpy_levels_and_blend, full, stack)


def test_fused_levels_and_blend(timed, case):
    small, full, layers, stack = case
    out = timed(fused_levels_and_blend, small, *full.shape, layers)
    agree = (out == numpy_levels_and_blend(full, stack)).all(axis=2).mean()
    assert agree >= 0.99
