"""The adaptive quantization field: each block's price of a bit, from local masking and
the semantic map (jpegli's idea, applied by the trellis rather than per-block tables).

Texture hides quantization error, smooth areas and the flat side of an edge show it:
each block's price grows with its luma activity (weighted mean square of its AC
coefficients), ``(1 + activity / ACT_KNEE) ** ACT_GAMMA`` capped at ``ACT_MAX``, after
taking part of the minimum over the 3x3 neighbourhood so that a block beside a flat one
stays careful.  Chroma blocks take the mean of the luma blocks they cover.  Smooth blocks
get a price near zero: their few small coefficients are kept, so flat areas stay
gradients rather than 8x8 tiles.

The semantic map multiplies the field by ``MAP_RANGE ** (mean - m)`` (``m`` the block's
map value in [0, 1], ``mean`` its image mean), so within ``[1 / MAP_RANGE, MAP_RANGE]``:
favoured blocks pay less for a bit, the others more, but even these keep their low
frequencies (quantize.KEEP_LOW); favoured blocks also give up part of their masking
(``MAP_MASKING``).  A uniform map leaves the field as it is.
"""

from __future__ import annotations

import numpy as np

from ._quantize_cy import block_activity

#: Price of a bit (squared quantization steps) in a block of zero activity, at strength 1.
PRICE = 0.028
#: The masking field: knee (squared pixel units), exponent, cap, and the share of the
#: 3x3 neighbourhood's minimum.
ACT_KNEE = 30.0
ACT_GAMMA = 0.5
ACT_MAX = 40.0
ACT_NEIGHBOUR = 0.5
#: The semantic map's range of prices: at most this factor either way.  bench/map_tune.py
#: on OSIE training images (map power 0.2), fixation-weighted PSNR against mozjpeg at
#: equal bytes, Q30/Q50 budgets: range 4 +0.52/+2.41 dB (16 images), 10 +0.94/+3.01
#: (16), 25 +1.26/+2.84 (16); on 8 others 10 +0.51/+2.11, 40 +0.86/+2.45, 100
#: +1.01/+2.67, while SSIMULACRA2 falls by 0.4-0.9 from 10 to 100.  40 takes most of
#: the gain; every block still keeps its low frequencies.
MAP_RANGE = 40.0
#: How much of the masking a favoured block gives up: its field is raised to
#: ``1 - MAP_MASKING * m`` (where people look, texture hides less).  30 OSIE training
#: images (bench/experiments/map_tune.py), fixation-weighted PSNR against mozjpeg at
#: equal bytes, Q30/Q50 budgets: 0 -> 0.5 gained +0.16/+0.20 dB with the steep luma table
#: and +0.12/+0.11 with the semantic one (tables.LUMA_A_MAP); SSIMULACRA2 against Pillow
#: moved -0.75/+0.37 and -0.32/+0.22.
MAP_MASKING = 0.5

#: Activity weights per zigzag position: all AC alike.
_ACT_WEIGHT = np.ones(64, dtype=np.float32)


def masking(luma: np.ndarray, grids: list[tuple[int, int]]) -> list[np.ndarray]:
    """Price multiplier per block from the luma coefficients, for each component's
    grid: ``(fv, fh)`` luma blocks per block of that component."""
    act = block_activity(luma, _ACT_WEIGHT).astype(np.float64)
    if ACT_NEIGHBOUR > 0:
        padded = np.pad(act, 1, mode="edge")
        h, w = act.shape
        low = np.min([padded[i : i + h, j : j + w] for i in range(3) for j in range(3)], axis=0)
        act = (1.0 - ACT_NEIGHBOUR) * act + ACT_NEIGHBOUR * low
    field = np.minimum((1.0 + act / ACT_KNEE) ** ACT_GAMMA, ACT_MAX)
    out = []
    for fv, fh in grids:
        if fv == fh == 1:
            out.append(field)
            continue
        rows, cols = field.shape[0] // fv, field.shape[1] // fh
        out.append(field[: rows * fv, : cols * fh].reshape(rows, fv, cols, fh).mean(axis=(1, 3)))
    return out


def map_factor(means: np.ndarray) -> np.ndarray:
    """Price multiplier from map means per block (-1: padding, left out of the mean)."""
    inside = means >= 0
    m = np.clip(means, 0.0, 1.0)
    centre = float(m[inside].mean()) if inside.any() else 0.0
    return MAP_RANGE ** np.clip(centre - m, -1.0, 1.0)


#: A map favours some blocks, and the image takes the semantic luma table
#: (tables.LUMA_A_MAP), when at least this share of its blocks pay at most half the
#: price (map value 0.19 or more above the mean): a map that lifts a few pixels does not
#: turn the whole image's table.
FAVOURED_SHARE = 0.01


def favours(means: np.ndarray) -> bool:
    """Whether the map means per block (-1: padding) favour enough blocks for the
    semantic luma table."""
    inside = means >= 0
    if not inside.any():
        return False
    return float((map_factor(means)[inside] <= 0.5).mean()) >= FAVOURED_SHARE


def keep_favoured(prices: np.ndarray, means: np.ndarray, share: float) -> np.ndarray:
    """Prices with the ``share`` of blocks the map favours most (by map mean, among the
    blocks inside the image) set to 0: plain rounding, which on a JPEG source's own grid
    gives its levels back (``quality="keep"``).  A map of one value favours every block."""
    inside = means >= 0
    if not inside.any():
        return prices
    edge = float(np.quantile(means[inside], 1.0 - share))
    return np.where(inside & (means >= edge), np.float32(0.0), prices).astype(np.float32)


def prices(field: np.ndarray, means: np.ndarray) -> np.ndarray:
    """Per block price of a bit at strength 1: masking times the map's factor; -1 marks
    the padding blocks (outside the image), of which the quantizer keeps only DC."""
    m = np.clip(means, 0.0, 1.0)
    p = PRICE * field ** (1.0 - MAP_MASKING * m) * map_factor(means)
    return np.where(means < 0, -1.0, p).astype(np.float32)
