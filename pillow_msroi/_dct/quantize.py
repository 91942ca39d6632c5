"""Quantization: every block's levels for one table quality and strength, by the trellis
in csrc/_quantize_cy.pyx at each block's price (field.py), in parallel block-row ranges.

Per block, a dynamic programme over the zero runs chooses, for every coefficient, zero,
its rounded level or the level below, minimizing squared error in quantization steps
plus the block's price times the Huffman bits of the run/size symbols.  The first
``KEEP_LOW`` AC coefficients keep a level where rounding gives one.
"""

from __future__ import annotations

import numpy as np

from .. import _pool
from ._quantize_cy import trellis_quantize
from ._transform_cy import ZIGZAG
from .coefficients import Coefficients
from .tables import quant_table

#: Chroma blocks' price of a bit relative to luma's (the fit's 0.71 gained 0.06
#: SSIMULACRA2, within the noise of rate control: left at 1).
CHROMA_PRICE = 1.0
#: Squared error weight per frequency: ``(step / smallest step) ** FREQ_BETA`` (0.25
#: lost 0.3 SSIMULACRA2 and 0.35 dB PSNR-HVS-M on the tuning images).
FREQ_BETA = 0.0
#: AC coefficients (zigzag 1..KEEP_LOW) that keep a nonzero rounded level in every block.
KEEP_LOW = 2
#: Every AC symbol's cost where no code lengths are known (a progressive file's first pass).
FLAT_BITS = np.full(256, 8.0, dtype=np.float32)


def freq_weight(qtable: np.ndarray) -> np.ndarray:
    """Weight of squared error (in steps) per zigzag position: ``(q_k / q_min) ** FREQ_BETA``,
    between error in steps (0: what the table's shape says the eye forgives) and error in
    pixels (2: what PSNR counts)."""
    q = qtable.astype(np.float64)[ZIGZAG]
    return ((q / q.min()) ** FREQ_BETA).astype(np.float32)


def quantize(coefs: Coefficients, qtables: dict[int, np.ndarray], strength: float,
             ac_bits: dict[int, np.ndarray], prices: list[np.ndarray] | None = None) -> None:  # fmt: skip
    """Levels of every block into ``coefs.out``, table ``qtables[t]`` for the components of
    table id ``t``, every block's price (``prices``, else ``coefs.prices``) times ``strength``."""
    weights = {t: freq_weight(q) for t, q in qtables.items()}
    args = []
    for price, t in zip(coefs.prices if prices is None else prices, coefs.tables):
        factor = np.float32(strength * (CHROMA_PRICE if t == 1 else 1.0))
        scaled = np.where(price < 0, price, price * factor).astype(np.float32)
        args.append((qtables[t], scaled, weights[t], ac_bits.get(t, FLAT_BITS)))
    parts = coefs.parts

    def part(k: int) -> None:
        # Blocks are quantized independently: each worker takes a share of block rows.
        for coef, out, (qt, price, fw, bits) in zip(coefs.coefs, coefs.out, args):
            rows = slice(len(coef) * k // parts, len(coef) * (k + 1) // parts)
            if rows.start < rows.stop:
                trellis_quantize(coef[rows], qt, price[rows], fw, bits, KEEP_LOW, out[rows])

    _pool.run_all(part, range(parts))


def table_set(coefs: Coefficients, quality: int) -> dict[int, np.ndarray]:
    """The quality's table for each table id the components use (the semantic luma shape
    where the map is not uniform)."""
    return {t: quant_table(quality, chroma=t == 1, semantic=coefs.semantic) for t in set(coefs.tables)}
