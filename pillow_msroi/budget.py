"""Byte budget: the highest JPEG quality whose file fits, in at most eight encodes.

File size grows with quality almost monotonically, so the answer is found by bisection
over 1..100.  The probes are steered by interpolating log(size) between the nearest
measured qualities (JPEG size is close to exponential in quality around the usual
range), but every probe is kept where plain bisection would still finish within the
remaining encodes, so the bound holds for any image.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

MAX_ENCODES = 8
Q_MIN, Q_MAX = 1, 100
#: d ln(size) / d quality near the middle of the scale, for the first step only.
_SLOPE = 0.02


@dataclass(frozen=True)
class Fit:
    """Outcome of a budget search."""

    quality: int | None  # None: not even Q_MIN fits
    data: bytes | None  # the file at ``quality``
    encodes: int
    sizes: dict[int, int]  # every probe: quality -> bytes


def _estimate(sizes: dict[int, int], budget: int, lo: int, hi: int) -> float:
    """Quality where the file size should reach the budget, from the probes next to it."""
    below = max((q for q in sizes if q <= lo), default=None)
    above = min((q for q in sizes if q >= hi), default=None)
    target = math.log(max(budget, 1))
    if below is not None and above is not None and above > below:
        a, b = math.log(max(sizes[below], 1)), math.log(max(sizes[above], 1))
        if b > a:
            return below + (target - a) * (above - below) / (b - a)
        return (lo + hi) / 2
    known = below if below is not None else above
    if known is None:
        return (lo + hi) / 2
    return known + (target - math.log(max(sizes[known], 1))) / _SLOPE


def highest_quality_within(
    encode: Callable[[int], bytes], budget: int, guess: int | None = None
) -> Fit:
    """Largest quality ``q`` in 1..100 with ``len(encode(q)) <= budget``.

    ``lo`` is the best quality known to fit (0: none yet) and ``hi`` the lowest known not
    to (101: none yet); with ``k`` encodes left, a probe ``m`` must leave each side no more
    than ``2**(k-1) - 1`` untested qualities, which bounds the search by MAX_ENCODES.
    """
    lo, hi = Q_MIN - 1, Q_MAX + 1
    sizes: dict[int, int] = {}
    best: bytes | None = None
    for used in range(MAX_ENCODES):
        if hi - lo <= 1:
            break
        left = MAX_ENCODES - used
        reach = 1 << (left - 1)
        low_ok, high_ok = max(lo + 1, hi - reach), min(hi - 1, lo + reach)
        estimate = guess if (guess is not None and not sizes) else _estimate(sizes, budget, lo, hi)
        probe = min(max(int(math.floor(estimate)), low_ok), high_ok)
        data = encode(probe)
        sizes[probe] = len(data)
        if len(data) <= budget:
            lo, best = probe, data
        else:
            hi = probe
    return Fit(lo if lo >= Q_MIN else None, best, len(sizes), sizes)
