"""Numpy restatements of the native kernels, and compositions of the whole-image kernels
that the fused ones must equal; shared by the tests and fuzz/fuzz_native.py."""

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


def reference_transform(
    nat, px: np.ndarray, to_ycbcr: bool, sampling: list[tuple[int, int]], islow: list[bool] | None = None
) -> list[np.ndarray]:
    """What ``nat.transform`` must give over all MCU rows: the whole-image kernels in
    sequence (colour planes padded to whole MCUs, each component downsampled by its
    factor, the DCT: the integer one for components marked in ``islow``), each tested
    against its own numpy/scipy restatement."""
    hmax, vmax = max(h for h, _ in sampling), max(v for _, v in sampling)
    h, w = px.shape[:2]
    pad_h, pad_w = -(-h // (8 * vmax)) * 8 * vmax, -(-w // (8 * hmax)) * 8 * hmax
    planes = nat.color_planes(px, pad_h, pad_w, len(sampling), to_ycbcr)
    out = []
    for c, (plane, (ch, cv)) in enumerate(zip(planes, sampling)):
        fh, fv = hmax // ch, vmax // cv
        if fh != 1 or fv != 1:
            plane = nat.downsample(np.ascontiguousarray(plane), fh, fv)
            # libjpeg pads the image to a whole row group, downsamples, then repeats the
            # last downsampled row down to the MCU's end (jcprepct.c).
            real = -(-h // vmax) * cv
            plane[real:] = plane[real - 1]
        out.append(nat.forward_dct(plane, islow=bool(islow and islow[c])))
    return out
