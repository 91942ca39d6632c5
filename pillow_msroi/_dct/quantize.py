"""Quantization: every block's levels for one table quality and map strength, by the
rate-distortion kernel in csrc/_quantize_cy.pyx, in parallel block-row ranges."""

from __future__ import annotations

import numpy as np

from .. import _pool
from ._quantize_cy import quantize_rd
from .coefficients import Coefficients
from .tables import nominal_step, quant_table

#: A block of weight ``w`` pays ``(BASE + strength * w) * step**2`` per bit.
BASE = 0.0
#: Every AC symbol's cost where the plain file has no AC table to price it (progressive).
FLAT_BITS = np.full(256, 8.0, dtype=np.float32)


def quantize(coefs: Coefficients, quality: int, strength: float, ac_bits: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """Levels of every block into ``coefs.out``; returns the quality's table per table id."""
    ids = set(coefs.tables)
    qtables = {t: quant_table(quality, chroma=t == 1) for t in ids}
    steps2 = {t: nominal_step(quality, chroma=t == 1) ** 2 for t in ids}
    args = [
        (qtables[t], steps2[t] * BASE, steps2[t] * strength, ac_bits.get(t, FLAT_BITS))
        for t in coefs.tables
    ]
    parts = coefs.parts

    def part(k: int) -> None:
        # Blocks are quantized independently: each worker takes a share of block rows.
        for coef, weight, out, (qt, base, scale, bits) in zip(coefs.coefs, coefs.weights, coefs.out, args):
            rows = slice(len(coef) * k // parts, len(coef) * (k + 1) // parts)
            if rows.start < rows.stop:
                quantize_rd(coef[rows], qt, weight[rows], base, scale, bits, out[rows])

    _pool.run_all(part, range(parts))
    return qtables
