"""The network's output on one fixed generated image, pinned to stored values.

Everything else about ``roi_map`` (shapes, ranges, determinism, object beats background)
holds for a network fed the wrong colours, scale or size too.  These values do not: on
this image a BGR input moves the maps by about a third of their range, a mean off by 10
or a scale off by 10 % by 5-18 %, bicubic or nearest resizing, or resizing without
Pillow's ``reducing_gap``, by 2-37 %; the tolerance is 0.5 % of the range, far above
onnxruntime's float noise between CPUs (~1e-5).

After a deliberate change of the model or its input pipeline, rewrite the values with
``PYTHONPATH=$PWD python tests/test_network_pin.py --write`` and say why in the commit.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from pillow_msroi import _roi as roi

PINNED = Path(__file__).parent / "data" / "network_pin.npz"
#: Largest allowed difference, as a fraction of the pinned map's range.
TOLERANCE = 0.005


def pin_image() -> Image.Image:
    """1536x1152 RGB: colour gradients, a red disc, a blue box, a skin-toned oval and a
    white line.  Larger than the network's input, so resizing reduces it (with Pillow's
    reducing_gap step), and unlike in its R and B channels, so a swap shows."""
    w, h = 1536, 1152
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 40 + 180 * xx / w
    g = 60 + 120 * yy / h
    b = 200 - 150 * (xx + yy) / (w + h)
    im = Image.fromarray(np.stack([r, g, b], -1).round().astype(np.uint8))
    draw = ImageDraw.Draw(im)
    draw.ellipse((900, 240, 1260, 600), fill=(230, 40, 30))
    draw.rectangle((180, 660, 600, 990), fill=(20, 40, 200))
    draw.ellipse((360, 180, 540, 420), fill=(240, 200, 170))
    draw.line((0, 1140, 1535, 750), fill=(250, 250, 250), width=18)
    return im


@pytest.fixture(scope="module")
def image() -> Image.Image:
    return pin_image()


@pytest.mark.parametrize("kind", ["readout", "msroi"])
def test_network_output_is_pinned(image, kind):
    expected = np.load(PINNED)[kind]
    got = roi.small_map(image, kind=kind)
    assert got.shape == expected.shape
    span = float(expected.max() - expected.min())
    worst = float(np.abs(got - expected).max()) / span
    assert worst <= TOLERANCE, f"{kind} map moved by {worst:.2%} of its range (allowed {TOLERANCE:.1%})"


def test_default_kind_is_the_pinned_readout(image):
    np.testing.assert_array_equal(roi.small_map(image), roi.small_map(image, kind="readout"))


def test_encoding_map_is_the_pinned_map_flattened(image):
    # The README's figure, not the module's constant: "raised to the power 0.2".
    expected = np.load(PINNED)["readout"].astype(np.float64)
    flat = ((expected - expected.min()) / (expected.max() - expected.min())) ** 0.2
    np.testing.assert_allclose(roi.encoding_map(image), flat, atol=0.02)


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/test_network_pin.py --write")
    im = pin_image()
    np.savez_compressed(PINNED, **{kind: roi.small_map(im, kind=kind) for kind in ("readout", "msroi")})
    print(f"wrote {PINNED} ({PINNED.stat().st_size} bytes)")
