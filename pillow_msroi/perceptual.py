"""The perceptual quantizer of ``method="dct"``: tables, masking field and trellis.

Three pieces decide the levels of every block (the kernels are in
csrc/_perceptual_cy.pyx):

* **Tables.**  One table per component kind, from a small parametric family over the
  radial frequency ``r = sqrt(u**2 + v**2) / 7``: ``step = s * (1 + a * r**p)``, the DC
  entry ``s * dc``, chroma a multiple of luma.  ``s`` follows libjpeg's quality law, so
  rate control searches a quality 1..100 as before.  The parameters were fitted for
  SSIMULACRA2 at equal bytes on OSIE training images (``bench/perceptual_tune.py``).
* **Masking field.**  Texture hides quantization error, smooth areas and the flat side of
  an edge show it: each block's price of a bit grows with its luma activity (weighted
  mean square of its AC coefficients), ``(1 + activity / ACT_KNEE) ** ACT_GAMMA`` capped
  at ``ACT_MAX``, after taking part of the minimum over the 3x3 neighbourhood so that a
  block beside a flat one stays careful.  Chroma blocks take the mean of the luma blocks
  they cover.  Smooth blocks get a price near zero: their few small coefficients are
  kept, so flat areas stay gradients rather than 8x8 tiles.
* **Trellis.**  Per block, a dynamic programme over the zero runs chooses, for every
  coefficient, zero, its rounded level or the level below, minimizing squared error in
  quantization steps plus the block's price times the Huffman bits of the run/size
  symbols.  The first ``KEEP_LOW`` AC coefficients keep a level where rounding gives one.

The semantic map multiplies the field by ``MAP_RANGE ** (mean - m)`` (``m`` the block's
map value in [0, 1], ``mean`` its image mean), so within ``[1 / MAP_RANGE, MAP_RANGE]``: favoured
blocks pay less for a bit, the others more, but even these keep their low frequencies.
A uniform map leaves the field as it is.
"""

from __future__ import annotations

import heapq

import numpy as np

from . import _native, _perceptual_cy

#: Luma table: DC step and AC steps ``1 + LUMA_A * r ** LUMA_P``, in units of ``s``.
LUMA_DC = 0.71
LUMA_A = 4.2
LUMA_P = 1.5
#: Chroma table: ``CHROMA_SCALE * s * (1 + CHROMA_A * r ** CHROMA_P)``, DC alike.
CHROMA_SCALE = 1.1
CHROMA_A = 3.0
CHROMA_P = 1.5
#: ``s`` at libjpeg scale 100 (quality 50).
BASE_STEP = 16.0
#: Price of a bit (squared quantization steps) in a block of zero activity, at strength 1.
PRICE = 0.028
#: Chroma blocks' price of a bit relative to luma's (the fit's 0.71 gained 0.06
#: SSIMULACRA2, within the noise of rate control: left at 1).
CHROMA_PRICE = 1.0
#: Squared error weight per frequency: ``(step / smallest step) ** FREQ_BETA`` (0.25
#: lost 0.3 SSIMULACRA2 and 0.35 dB PSNR-HVS-M on the tuning images).
FREQ_BETA = 0.0
#: The masking field: knee (squared pixel units), exponent, cap, and the share of the
#: 3x3 neighbourhood's minimum.
ACT_KNEE = 30.0
ACT_GAMMA = 0.5
ACT_MAX = 40.0
ACT_NEIGHBOUR = 0.5
#: AC coefficients (zigzag 1..KEEP_LOW) that keep a nonzero rounded level in every block.
KEEP_LOW = 2
#: The semantic map's range of prices: at most this factor either way.  bench/map_tune.py
#: on OSIE training images (map power 0.2), fixation-weighted PSNR against mozjpeg at
#: equal bytes, Q30/Q50 budgets: range 4 +0.52/+2.41 dB (16 images), 10 +0.94/+3.01
#: (16), 25 +1.26/+2.84 (16); on 8 others 10 +0.51/+2.11, 40 +0.86/+2.45, 100
#: +1.01/+2.67, while SSIMULACRA2 falls by 0.4-0.9 from 10 to 100.  40 takes most of
#: the gain; every block still keeps its low frequencies.
MAP_RANGE = 40.0
#: How much of the masking a favoured block gives up: its field is raised to
#: ``1 - MAP_MASKING * m`` (people look at the texture there).  On 8 OSIE training images
#: (bench/map_tune.py --seed 5), 0.5 and 1 gained 0.1-0.2 dB fixation-weighted PSNR
#: against mozjpeg and moved SSIMULACRA2 by -0.9..+0.4: within the noise, left at 0.
MAP_MASKING = 0.0

_RADIUS = np.hypot(*np.meshgrid(np.arange(8), np.arange(8), indexing="ij")).ravel() / 7.0
#: Activity weights per zigzag position: all AC alike.
_ACT_WEIGHT = np.ones(64, dtype=np.float32)
_ZIGZAG = _native.ZIGZAG


def _law(quality: int) -> float:
    """libjpeg's percentage scaling for a quality 1..100."""
    quality = min(max(int(quality), 1), 100)
    return 5000.0 / quality if quality < 50 else 200.0 - 2.0 * quality


def base_table(chroma: bool) -> np.ndarray:
    """The family's table at libjpeg scale 100 (float, natural order)."""
    if chroma:
        t = CHROMA_SCALE * (1.0 + CHROMA_A * _RADIUS**CHROMA_P)
        t[0] = CHROMA_SCALE * LUMA_DC
    else:
        t = 1.0 + LUMA_A * _RADIUS**LUMA_P
        t[0] = LUMA_DC
    return BASE_STEP * t


def quant_table(quality: int, chroma: bool) -> np.ndarray:
    """The table at ``quality`` (libjpeg's scaling law), uint16 natural order, 1..255."""
    return np.clip(np.floor(base_table(chroma) * _law(quality) / 100.0 + 0.5), 1, 255).astype(np.uint16)


def masking(luma: np.ndarray, grids: list[tuple[int, int]]) -> list[np.ndarray]:
    """Price multiplier per block from the luma coefficients, for each component's
    grid: ``(fv, fh)`` luma blocks per block of that component."""
    act = _perceptual_cy.block_activity(luma, _ACT_WEIGHT).astype(np.float64)
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


def prices(field: np.ndarray, means: np.ndarray) -> np.ndarray:
    """Per block price of a bit at strength 1: masking times the map's factor; -1 marks
    the padding blocks (outside the image), of which the quantizer keeps only DC."""
    m = np.clip(means, 0.0, 1.0)
    p = PRICE * field ** (1.0 - MAP_MASKING * m) * map_factor(means)
    return np.where(means < 0, -1.0, p).astype(np.float32)


def freq_weight(qtable: np.ndarray) -> np.ndarray:
    """Weight of squared error (in steps) per zigzag position: ``(q_k / q_min) ** FREQ_BETA``,
    between error in steps (0: what the table's shape says the eye forgives) and error in
    pixels (2: what PSNR counts)."""
    q = qtable.astype(np.float64)[_ZIGZAG]
    return ((q / q.min()) ** FREQ_BETA).astype(np.float32)


def quantize(coef: np.ndarray, qtable: np.ndarray, price: np.ndarray, strength: float,
             ac_bits: np.ndarray, out: np.ndarray, chroma: bool = False) -> int:
    """Trellis levels of ``coef`` (rows of zigzag blocks) into ``out``."""
    factor = np.float32(strength * (CHROMA_PRICE if chroma else 1.0))
    scaled = np.where(price < 0, price, price * factor).astype(np.float32)
    return _perceptual_cy.trellis_quantize(coef, qtable, scaled, freq_weight(qtable), ac_bits, KEEP_LOW, out)


def code_lengths(freq: np.ndarray) -> np.ndarray:
    """Huffman code length per symbol for symbol counts ``freq`` (256), as float32 bits
    for the trellis: the optimal lengths, limited to 16 as JPEG requires by moving
    depth from the longest codes; symbols that did not occur are priced one bit over the
    longest code (at most 16), so a pass may still choose them when they pay."""
    freq = np.asarray(freq, dtype=np.float64)
    used = np.flatnonzero(freq > 0)
    out = np.full(256, 16.0, dtype=np.float32)
    if len(used) == 0:
        return out
    if len(used) == 1:
        out[used] = 1.0
        out[freq <= 0] = 2.0
        return out
    depth = np.zeros(256, dtype=np.int64)
    heap = [(float(freq[s]), i, [int(s)]) for i, s in enumerate(used)]
    heapq.heapify(heap)
    tie = len(heap)
    while len(heap) > 1:
        fa, _, a = heapq.heappop(heap)
        fb, _, b = heapq.heappop(heap)
        depth[a + b] += 1
        heapq.heappush(heap, (fa + fb, tie, a + b))
        tie += 1
    lengths = np.minimum(depth[used], 16)
    out[used] = lengths
    out[freq <= 0] = min(int(lengths.max()) + 1, 16)
    return out
