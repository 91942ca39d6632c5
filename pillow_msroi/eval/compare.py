"""``msroi compare``: one picture of what the semantic JPEG does to an image.

The original, Pillow's plain JPEG at equal bytes (the highest quality whose file is no
larger than the semantic one) and the semantic JPEG, side by side: full frames, then 2x
crops of the most and the least favoured regions of the map, with bytes and scores.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .. import _budget
from .._api import encode_details
from .._maps import prepare_map
from .._roi import encoding_map
from .._stretch_cy import upsample_bilinear
from . import metrics

#: Side of the square crops, in image pixels (shown at twice that).
CROP = 128
#: Width of each full frame in the picture.
FRAME_WIDTH = 384
_MARGIN, _LINE = 8, 16


@dataclass(frozen=True)
class Panel:
    """One column of the picture: a name, its decoded pixels and what is printed under it."""

    name: str
    pixels: np.ndarray
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Comparison:
    picture: Image.Image
    panels: tuple[Panel, ...]
    #: (left, top) of the most and the least favoured crops, in image pixels.
    favoured: tuple[int, int]
    unfavoured: tuple[int, int]
    #: Summary lines (also under the picture's title).
    text: tuple[str, ...]


def _decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def _plain(image: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def extreme_windows(full_map: np.ndarray, side: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """Top-left corners of the ``side`` x ``side`` windows with the highest and the lowest
    mean map value (on a grid of a quarter of the side; windows clipped to the image)."""
    h, w = full_map.shape
    side_y, side_x = min(side, h), min(side, w)
    integral = np.pad(full_map.astype(np.float64), ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    step = max(1, min(side_y, side_x) // 4)
    ys = np.unique(np.r_[np.arange(0, h - side_y + 1, step), h - side_y])
    xs = np.unique(np.r_[np.arange(0, w - side_x + 1, step), w - side_x])
    y0, x0 = np.meshgrid(ys, xs, indexing="ij")
    sums = integral[y0 + side_y, x0 + side_x] - integral[y0, x0 + side_x] - integral[y0 + side_y, x0] + integral[y0, x0]
    hi, lo = np.unravel_index(np.argmax(sums), sums.shape), np.unravel_index(np.argmin(sums), sums.shape)
    return (int(x0[hi]), int(y0[hi])), (int(x0[lo]), int(y0[lo]))


def _region_psnr(a: np.ndarray, b: np.ndarray, corner: tuple[int, int], side: int) -> float:
    x, y = corner
    return metrics.psnr(a[y : y + side, x : x + side], b[y : y + side, x : x + side])


def _ssimulacra2(a: np.ndarray, b: np.ndarray) -> str:
    try:
        return f"SSIMULACRA2 {metrics.ssimulacra2(a, b):.1f}"
    except ImportError:
        return "SSIMULACRA2 n/a (pip install ssimulacra2)"


def compare(image: Image.Image, *, quality: int = 75, map: Any = None, method: str = "auto",
            crop: int = CROP) -> Comparison:  # fmt: skip
    """The comparison picture of ``image`` (any mode Pillow saves as JPEG; shown as RGB).
    A JPEG source is encoded as it is, so the semantic file may stay on its grid."""
    rgb = image.convert("RGB")
    original = np.asarray(rgb)
    source = image if image.mode == "RGB" else rgb
    semantic = encode_details(source, quality=quality, map=map, method=method)
    fit = _budget.highest_quality_within(lambda q: _plain(rgb, q), len(semantic.data), guess=quality)
    plain = fit.data if fit.data is not None else _plain(rgb, 1)
    small = prepare_map(encoding_map(rgb) if map is None else map, rgb.width, rgb.height)
    full_map = upsample_bilinear(small, rgb.height, rgb.width)
    favoured, unfavoured = extreme_windows(full_map, crop)
    panels = [Panel("original", original, (f"{rgb.width}x{rgb.height}",))]
    for name, data, q in (
        (f"plain JPEG at equal bytes (quality {fit.quality})", plain, fit.quality),
        (f"semantic JPEG ({semantic.method}, quality {quality}, tables {semantic.quality})", semantic.data, semantic.quality),
    ):
        px = _decode(data)
        panels.append(Panel(name, px, (
            f"{len(data):,} bytes, PSNR {metrics.psnr(original, px):.2f} dB, {_ssimulacra2(original, px)}",
            f"most favoured crop PSNR {_region_psnr(original, px, favoured, crop):.2f} dB",
            f"least favoured crop PSNR {_region_psnr(original, px, unfavoured, crop):.2f} dB",
        )))  # fmt: skip
    text = (
        f"quality {quality}: semantic {len(semantic.data):,} bytes (budget {semantic.budget:,}), "
        f"plain at equal bytes {len(plain):,} bytes (quality {fit.quality})",
        *(f"{p.name}: {'; '.join(p.lines)}" for p in panels[1:]),
    )
    picture = _draw(panels, full_map, favoured, unfavoured, crop, text[0])
    return Comparison(picture, tuple(panels), favoured, unfavoured, text)


def _draw(panels: list[Panel], full_map: np.ndarray, favoured: tuple[int, int], unfavoured: tuple[int, int],
          crop: int, title: str) -> Image.Image:  # fmt: skip
    font = ImageFont.load_default(size=13)
    h, w = panels[0].pixels.shape[:2]
    scale = FRAME_WIDTH / w
    frame_h = max(1, round(h * scale))
    zoom = 2 * crop
    col_w = max(FRAME_WIDTH, zoom) + _MARGIN
    text_h = 4 * _LINE
    height = _LINE * 2 + frame_h + 2 * (zoom + _LINE) + text_h + 4 * _MARGIN
    canvas = Image.new("RGB", (_MARGIN + col_w * len(panels), height), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((_MARGIN, _MARGIN), title, fill="black", font=font)
    top = _MARGIN + 2 * _LINE
    for k, panel in enumerate(panels):
        x = _MARGIN + k * col_w
        frame = Image.fromarray(panel.pixels).resize((FRAME_WIDTH, frame_h), Image.Resampling.LANCZOS)
        canvas.paste(frame, (x, top))
        for corner, colour in ((favoured, "lime"), (unfavoured, "red")):
            cx, cy = (round(v * scale) for v in corner)
            side = round(crop * scale)
            draw.rectangle((x + cx, top + cy, x + cx + side, top + cy + side), outline=colour, width=2)
        y = top + frame_h + _MARGIN
        for label, corner in (("most favoured (green), 2x", favoured), ("least favoured (red), 2x", unfavoured)):
            cx, cy = corner
            tile = Image.fromarray(panel.pixels[cy : cy + crop, cx : cx + crop])
            draw.text((x, y), label, fill="black", font=font)
            canvas.paste(tile.resize((tile.width * 2, tile.height * 2), Image.Resampling.NEAREST), (x, y + _LINE))
            y += zoom + _LINE + _MARGIN // 2
        draw.text((x, y), panel.name, fill="black", font=font)
        for i, line in enumerate(panel.lines):
            draw.text((x, y + (i + 1) * _LINE), line, fill="black", font=font)
    return canvas
