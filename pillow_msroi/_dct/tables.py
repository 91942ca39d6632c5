"""Quantization tables: the ITU T.81 Annex K tables scaled by libjpeg's quality law."""

from __future__ import annotations

import numpy as np

from .._budget import table_scale

#: ITU T.81 Annex K.1 luminance and chrominance tables (natural order), which libjpeg
#: scales by quality.
_LUMA = np.array(
    [
        16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
        14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
        18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
        49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
    ],
    dtype=np.int64,
)  # fmt: skip
_CHROMA = np.array(
    [17, 18, 24, 47] + [99] * 4 + [18, 21, 26, 66] + [99] * 4
    + [24, 26, 56] + [99] * 5 + [47, 66] + [99] * 38,
    dtype=np.int64,
)


def quant_table(quality: int, chroma: bool) -> np.ndarray:
    """libjpeg's table at ``quality`` (``jpeg_set_quality`` with baseline limits), natural order."""
    base = _CHROMA if chroma else _LUMA
    return np.clip((base * table_scale(quality) + 50) // 100, 1, 255).astype(np.uint16)


def nominal_step(quality: int, chroma: bool) -> float:
    """The table's DC step before rounding: it moves smoothly with quality, so prices of
    bits scaled by it do too (the rounded entry jumps by up to a third at high quality)."""
    base = _CHROMA if chroma else _LUMA
    return max(float(base[0]) * table_scale(quality) / 100.0, 1.0)
