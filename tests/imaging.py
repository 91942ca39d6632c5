"""Deterministic test images and maps, and a JPEG marker reader (shared by tests and benchmarks)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def synthetic_rgb(width: int, height: int, seed: int = 0) -> Image.Image:
    """A photo-like image: smooth gradients, edges, a disc and mild noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    r = 128 + 90 * np.sin(xx / max(width, 1) * 6.0 + seed)
    g = 128 + 90 * np.cos(yy / max(height, 1) * 4.0)
    b = 255 * ((xx // 23 + yy // 17) % 2)
    disc = (xx - width * 0.6) ** 2 + (yy - height * 0.4) ** 2 < (min(width, height) * 0.2) ** 2
    r[disc], g[disc], b[disc] = 240, 30, 60
    rgb = np.stack([r, g, b], axis=-1) + rng.normal(0, 6, (height, width, 3))
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))


def centred_map(width: int, height: int) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    return np.exp(-(((xx - width / 2) / (width / 5)) ** 2 + ((yy - height / 2) / (height / 5)) ** 2) / 2)


def markers(data: bytes) -> list[int]:
    """Marker codes of a JPEG up to the start of scan (the header segments, in order)."""
    assert data[:2] == b"\xff\xd8", "not a JPEG (no SOI)"
    out, pos = [], 2
    while pos < len(data):
        assert data[pos] == 0xFF, f"bad marker at {pos}"
        code = data[pos + 1]
        out.append(code)
        if code == 0xDA:
            break
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        pos += 2 + length
    return out




def plain_jpeg(im: Image.Image, **options) -> bytes:
    """Pillow's own JPEG of ``im``, with the semantic hook out of the way."""
    import pillow_msroi

    buf = io.BytesIO()
    pillow_msroi.unregister()
    try:
        im.save(buf, "JPEG", **options)
    finally:
        pillow_msroi.register()
    return buf.getvalue()
