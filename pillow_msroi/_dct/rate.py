"""Rate control: the table quality and strength whose file fits the byte budget, in a few
counting passes (a pass quantizes and counts symbols, which gives the size exactly but for
byte stuffing), then one written pass.

Two knobs: the table quality and the strength, a multiplier of every block's price of a
bit (field.PRICE at 1).  A few passes find the highest quality that fits at
:data:`STRENGTH`, then the next quality up with a slightly higher price is tried to spend
the rest, and only the result is written."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .._budget import quality_at, table_scale
from .coefficients import Coefficients
from .markers import Header, assemble
from .quantize import quantize, table_set
from .scans import ScanCoder, code_lengths

#: Multiplier of every block's price of a bit (field.PRICE) at which rate control first
#: searches the table quality.
STRENGTH = 1.0
#: Whether a progressive file's first pass learns the image's Huffman code lengths for
#: the trellis (its header has no AC tables; learnt lengths gain ~0.5 SSIMULACRA2 there,
#: nothing over Annex K's tables in a baseline file, measured on 6 Kodak images).
LEARN_BITS = True
#: First guess of the table's scale: ``ln scale = G0 + G1 ln scale(quality) + G2 ln bpp``
#: (bpp of the plain JPEG), fitted for the perceptual tables on the odd Kodak images at
#: qualities 20..90 (3.9 passes on average on the even ones at Q30/50/75, at most 6).
GUESS = (0.133, 0.815, 0.024)
#: The same for the semantic luma table (a map that favours some blocks), fitted with the
#: network's map on the odd Kodak images at qualities 20..90 (residual sd 0.046 in ln
#: scale), bench/experiments/first_guess.py: 4.3 passes on the even ones at Q30/50/75
#: (4.9 with GUESS).  Re-fitted on the final code it gives (-0.095, 0.907, 0.091), within
#: the residual; left as is.
GUESS_MAP = (-0.127, 0.914, 0.102)
#: d ln(size) / d ln(libjpeg table scale), measured on Kodak.
SCALE_EXPONENT = -1.0
#: d ln(size) / d ln(strength), measured on Kodak (-0.12 .. -0.28 at table qualities 60..88).
ELASTICITY = -0.18
#: A file this close under the budget (as a fraction) ends the search.
TOLERANCE = 0.01
#: Quality probes steered by the size law before the search falls back to bisection.
MODEL_PASSES = 5
#: Passes allowed to fit the next quality up by strengthening the map.
FILL_PASSES = 2
#: Bounds of the elasticity the fill re-measures (two probes can be close and noisy).
FILL_ELASTICITY = (-3.0, -0.05)
#: The fill's highest strength, in multiples of the caller's: at the default elasticity
#: 2.5x takes a file ~15 % down, more than a quality step below ~95.
FILL_MAX = 2.5
#: Strengths tried at the finest table when plain rounding does not fit (a progressive
#: file's budget): nearly plain rounding first.
FINEST_STRENGTHS = (0.05, 0.25)
#: Written passes allowed to bring the real file under the budget after the search.
FINAL_PASSES = 4
#: Byte stuffing (a 0x00 after each 0xFF in the scan), as a fraction of the scan: 0.3 to
#: 0.6 % on Kodak; the search prices it at the high end.
STUFFING = 0.006


class Passes:
    """Quantization and entropy-coding passes over one image's coefficients for one file
    header; the last pass's levels and counts are kept for writing."""

    def __init__(
        self, coefs: Coefficients, header: Header, tables: dict[int, np.ndarray] | None = None,
        prices: list[np.ndarray] | None = None,
    ) -> None:
        """``tables``: one table per table id for every pass (a JPEG source's own); without,
        each pass takes its quality's from tables.py.  ``prices``: per block, instead of
        the coefficients' own (a source's grid keeps its favoured blocks at 0)."""
        if not coefs.fits(header):
            msg = "internal error: the plain JPEG's frame differs from the one the image was transformed for"
            raise RuntimeError(msg)
        self.coefs = coefs
        self.header = header
        self.coder = ScanCoder(coefs, header)
        self.state: tuple[int, float] | None = None  # (quality, strength) that ``coefs.out`` holds
        self.counts: list[np.ndarray] | None = None  # per scan, of the levels in ``coefs.out``
        self.qtables: dict[int, np.ndarray] = {}  # quality's table per table id, for the file
        self.bits: dict[int, np.ndarray] = {}  # AC code lengths per table id (learn_bits)
        self.fixed = tables
        self.prices = prices

    @property
    def semantic(self) -> bool:
        """Whether the tables take the semantic luma shape (rate control's first guess)."""
        return self.coefs.semantic

    def quantize(self, quality: int, strength: float) -> None:
        """Levels of every block for one table quality and map strength (kept for ``write``)."""
        if (quality, strength) == self.state:
            return
        self.state = (quality, strength)
        self.counts = None
        self.qtables = self.fixed if self.fixed is not None else table_set(self.coefs, quality)
        quantize(self.coefs, self.qtables, strength, {**self.header.ac_bits, **self.bits}, self.prices)

    def learn_bits(self, quality: int, strength: float) -> None:
        """Price the trellis's symbols by this image's own Huffman code lengths: those of
        the levels at ``quality`` and ``strength`` (one pass), for all later passes."""
        self.quantize(quality, strength)
        if self.counts is None:
            self.counts = self.coder.count()
        tables = self.coefs.tables
        for t in set(tables):
            freq = sum(
                c[512 + 256 * t : 512 + 256 * (t + 1)]
                for scan, c in zip(self.coder.script, self.counts)
                if scan.se > 0 and any(tables[k] == t for k in scan.components)
            )
            self.bits[t] = code_lengths(freq)
        self.state = None
        self.counts = None

    def _coded(self, emit: bool) -> list:
        if self.counts is None:
            self.counts = self.coder.count()
        return self.coder.code(self.counts, emit)

    def _assemble(self, scans: list) -> bytes:
        return assemble(self.header, self.qtables, self.coefs.tables, list(zip(self.coder.script, scans)))

    def estimate(self, quality: int, strength: float) -> int:
        """File size for one table quality and strength, from counted symbols: exact but for
        byte stuffing (priced at ``STUFFING``) and the padding before restart markers."""
        self.quantize(quality, strength)
        counted = self._coded(emit=False)
        interval = self.header.restart_interval
        size = len(self._assemble([(b"", huffman) for _, huffman in counted]))
        for scan, (bits, _) in zip(self.coder.script, counted):
            rows, cols = self.coder.mcu_grid(scan)
            restarts = (rows * cols - 1) // interval if interval else 0
            # A marker is 2 bytes after 0..7 padding bits (a little more with stuffing).
            size += math.ceil(bits / 8 * (1.0 + STUFFING) + 2.6 * restarts)
        return size

    def write(self) -> bytes:
        """The JPEG file of the levels of the last ``quantize``."""
        return self._assemble(self._coded(emit=True))


@dataclass(frozen=True)
class Outcome:
    """What rate control chose; ``data`` None when nothing fit the limit."""

    data: bytes | None
    quality: int | None
    strength: float
    passes: int


def rate_control(passes: Passes, plain_size: int, limit: int, quality: int, strength: float = STRENGTH) -> Outcome:
    """The best file within ``limit``: the search over counted sizes, then written passes
    until the real file (with its byte stuffing) fits."""
    h = passes.header
    # GUESS_MAP was fitted from quality 20 up; below, the plain fit extrapolates better.
    fit_of = GUESS_MAP if passes.semantic and quality >= 20 else GUESS
    guess = _first_guess(quality, 8 * plain_size / (h.width * h.height), fit_of)
    learn = LEARN_BITS and not h.ac_bits  # progressive: no AC tables before the first scan
    if learn:
        passes.learn_bits(guess, strength)
    fit = _fit(passes.estimate, limit, guess, strength)
    used = fit.passes + learn
    if fit.quality == 100 and strength > 0:
        # At the finest table, plain rounding is what plain quality 100 does: keep every
        # level when it fits, rather than trading any for bytes the budget does not need;
        # else the weakest price that fits.
        for s_try in (0.0, *(k * strength for k in FINEST_STRENGTHS)):
            used += 1
            if passes.estimate(100, s_try) <= limit:
                fit = _Fit(100, s_try, used)
                break
    if fit.quality is None:
        return Outcome(None, None, strength, used)
    # The search priced byte stuffing; the real file may still be a little larger, which
    # a slightly stronger map takes back.
    q, s = fit.quality, fit.strength
    for _ in range(FINAL_PASSES):
        passes.quantize(q, s)
        data = passes.write()
        used += 1
        if len(data) <= limit:
            return Outcome(data, q, s, used)
        s = max(s, 0.1) * (len(data) / limit * (1.0 + TOLERANCE / 4)) ** (1.0 / -ELASTICITY)
    return Outcome(None, None, strength, used)


#: ``quality="keep"`` tries a higher price only where the file at the default strength is
#: within this factor of the limit (the price's elasticity, -0.18, makes more an 8-fold price).
KEEP_REACH = 1.25


def keep_control(
    passes: Passes, limit: int, strength: float = STRENGTH, reach: float = KEEP_REACH, fill: float = 0.0
) -> Outcome:
    """A JPEG source's grid: the passes' fixed tables (the source's); the file at
    ``strength``, or, where that is over ``limit`` by at most ``reach``, at the lowest
    higher strength found that fits (the favoured blocks' levels never change: their
    price is 0).  ``reach`` 1: only the default price (and the stuffing's margin).
    ``fill``: no file where the grid's (counted) size is under this share of ``limit``."""
    used, s = 1, strength
    size = passes.estimate(0, s)
    if size > limit * reach:
        return Outcome(None, None, strength, used)  # beyond what a higher price buys back
    if size < limit * fill:
        return Outcome(None, None, strength, used)  # the budget is for finer tables
    for _ in range(FINAL_PASSES + FILL_PASSES):
        passes.quantize(0, s)
        data = passes.write()
        used += 1
        if len(data) <= limit:
            return Outcome(data, None, s, used)
        s = max(s, 0.1) * (len(data) / limit * (1.0 + TOLERANCE)) ** (1.0 / -ELASTICITY)
    return Outcome(None, None, strength, used)


def _law_scale(quality: int) -> int:
    """libjpeg's scale for the size law: Q100's 0 acts as 1 (all table entries are 1)."""
    return max(table_scale(quality), 1)


def _first_guess(quality: int, bits_per_pixel: float, fit: tuple[float, float, float] = GUESS) -> int:
    """Typical final table quality at the default strength, from the caller's quality and
    how many bits per pixel plain JPEG spends there (Kodak fit, within ~1 quality)."""
    g0, g1, g2 = fit
    log_scale = g0 + g1 * math.log(_law_scale(quality)) + g2 * math.log(max(bits_per_pixel, 1e-3))
    return min(100, max(quality, round(quality_at(math.exp(log_scale)))))


@dataclass(frozen=True)
class _Fit:
    quality: int | None
    strength: float
    passes: int


def _fit(size_of: Callable[[int, float], int], limit: int, guess: int, strength: float) -> _Fit:
    """The largest file within ``limit`` over table quality and map strength, in few passes.

    First the highest table quality that fits at ``strength`` (``_fit_quality``); a
    quality step is several percent of the file, so what is left of the budget then goes
    to the next quality up with a stronger map (``_fill``).
    """
    lo, sizes, passes = _fit_quality(size_of, limit, guess, strength)
    if lo < 1:
        return _Fit(None, strength, passes)
    best = _Fit(lo, strength, passes)
    if lo == 100 or strength <= 0 or sizes[lo] >= limit * (1.0 - TOLERANCE):
        return best
    return _fill(size_of, limit, lo, sizes, strength, best)


def _fit_quality(
    size_of: Callable[[int, float], int], limit: int, guess: int, strength: float
) -> tuple[int, dict[int, int], int]:
    """The highest table quality that fits at ``strength`` (0: none), the sizes probed and
    the passes used.  File size goes nearly as ``scale ** SCALE_EXPONENT`` (``scale``:
    libjpeg's table scaling of the quality), so each probe is steered by that law,
    calibrated on the nearest probes; after ``MODEL_PASSES`` steered probes the search
    bisects, so any image ends within ``MODEL_PASSES + 7`` passes."""
    lo, hi = 0, 101
    sizes: dict[int, int] = {}
    passes, probe = 0, guess
    while True:
        size = size_of(probe, strength)
        passes += 1
        sizes[probe] = size
        if size <= limit:
            lo = probe
        else:
            hi = probe
        if hi - lo <= 1 or (lo == probe and size >= limit * (1.0 - TOLERANCE)):
            break
        if passes >= MODEL_PASSES:
            probe = (lo + hi) // 2
            continue
        below = max((q for q in sizes if q <= lo), default=None)
        above = min((q for q in sizes if q >= hi), default=None)
        exponent = SCALE_EXPONENT
        if below is not None and above is not None and sizes[above] > sizes[below]:
            span = math.log(_law_scale(above) / _law_scale(below))
            exponent = math.log(sizes[above] / sizes[below]) / span if span < 0 else SCALE_EXPONENT
        aim = limit * (1.0 - TOLERANCE / 2) / size
        target = math.floor(quality_at(_law_scale(probe) * aim ** (1.0 / exponent)))
        if lo >= 1 and target <= lo and strength > 0:
            break  # lo + 1 should not fit: the fill tries it with a stronger map
        probe = min(max(target, lo + 1), hi - 1)
    return lo, sizes, passes


def _fill(
    size_of: Callable[[int, float], int], limit: int, lo: int, sizes: dict[int, int], strength: float, best: _Fit
) -> _Fit:
    """Quality ``lo + 1`` with a map strong enough to fit (size ~ ``strength **
    ELASTICITY``), in at most ``FILL_PASSES``; the largest fitting probe is taken.  A
    probe must be larger than ``lo``'s file (one that fits lower overshot) and price bits
    at most ``FILL_MAX`` times the caller's strength (beyond, the map would be much
    stronger for a few bytes).  The exponent is re-measured only between measured sizes,
    within ``FILL_ELASTICITY``."""
    passes = best.passes
    # Size of lo + 1 at the caller's strength: measured, or predicted by the size law.
    measured = lo + 1 in sizes
    over = sizes[lo + 1] if measured else sizes[lo] * (_law_scale(lo + 1) / _law_scale(lo)) ** SCALE_EXPONENT
    elasticity, s_prev, size_prev = ELASTICITY, strength, over
    taken, taken_size = best, sizes[lo]
    for _ in range(FILL_PASSES):
        s_next = s_prev * (limit * (1.0 - TOLERANCE / 2) / size_prev) ** (1.0 / elasticity)
        s_next = min(s_next, FILL_MAX * strength)
        if s_next == s_prev:
            break  # the cap reached: another probe would measure the same file
        size = size_of(lo + 1, s_next)
        passes += 1
        if taken_size < size <= limit:
            taken, taken_size = _Fit(lo + 1, s_next, passes), size
            if size >= limit * (1.0 - TOLERANCE):
                break
        if measured and size != size_prev:
            e = math.log(size / size_prev) / math.log(s_next / s_prev)
            lo_e, hi_e = FILL_ELASTICITY
            elasticity = min(max(e, lo_e), hi_e) if e < 0 else elasticity
        measured, s_prev, size_prev = True, s_next, size
    return _Fit(taken.quality, taken.strength, passes)
