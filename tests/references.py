"""Numpy restatements of the native kernels, shared by the tests and fuzz/fuzz_native.py."""

from __future__ import annotations

import numpy as np


def reference_upsample(src: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear with pixel centres aligned and edges clamped, in float64."""

    def axis(n_out: int, n_in: int):
        s = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        lo = np.floor(s).astype(int)
        return lo, np.minimum(lo + 1, n_in - 1), s - lo

    y0, y1, fy = axis(height, src.shape[0])
    x0, x1, fx = axis(width, src.shape[1])
    s = np.asarray(src, dtype=np.float64)
    top = s[y0][:, x0] * (1 - fx) + s[y0][:, x1] * fx
    bottom = s[y1][:, x0] * (1 - fx) + s[y1][:, x1] * fx
    return top * (1 - fy)[:, None] + bottom * fy[:, None]
