"""Byte budget: Pillow's plain JPEG sets it, libjpeg's quality law steers the search for the
highest quality whose file fits, in at most eight encodes.

File size grows with quality almost monotonically, so the answer is found by bisection
over 1..100.  The probes are steered by a size law: log(size) is close to linear in the
log of libjpeg's table scale (``5000/q`` below 50, ``200 - 2q`` above), with a slope near
-1/2 for one probe and interpolated between two.  Until the answer is bracketed the probe
aims just past the estimate, so the next probe only has to split a small bracket.  Every
probe is kept where plain bisection would still finish within the remaining encodes, so
the bound holds for any image; on Kodak blends at Q50 the search takes 3.7 encodes on
average (``bench/test_pipeline_speed.py::test_budget_search_encodes``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import wait
from dataclasses import dataclass
from typing import Any, TypeVar

from PIL import Image

from . import _pool, _writer

T = TypeVar("T")

MAX_ENCODES = 8
Q_MIN, Q_MAX = 1, 100
#: -d ln(size) / d ln(scale) for the first extrapolation: a typical value for JPEG files
#: between Q30 and Q90 (libjpeg tables, 4:2:0).
EXPONENT = 0.5


def table_scale(quality: int) -> int:
    """libjpeg's percentage scaling of the base tables at a quality 1..100, exactly as
    ``jpeg_quality_scaling`` computes it (0 at quality 100)."""
    quality = min(max(int(quality), 1), 100)
    return 5000 // quality if quality < 50 else 200 - 2 * quality


def law_scale(q: float) -> float:
    """The same law continuous in ``q`` and at least 1: what file sizes follow."""
    return 5000.0 / q if q < 50 else max(200.0 - 2.0 * q, 1.0)


def quality_at(scale: float) -> float:
    """Inverse of libjpeg's quality -> scale mapping, continuous."""
    return 5000.0 / scale if scale > 100.0 else (200.0 - scale) / 2.0


@dataclass(frozen=True)
class Reference:
    """Pillow's plain JPEG of the image at the caller's quality and options, and the byte
    limit it sets for the semantic file."""

    data: bytes
    limit: int


def plain_options(jpeg: dict[str, Any], quality: int | str) -> dict[str, Any]:
    """Pillow's options for the plain JPEG at ``quality``; "keep" is carried by the source's
    ``qtables`` already in ``jpeg`` (quality -1: the tables as they are)."""
    return {**jpeg, "quality": -1 if quality == "keep" else quality}


def plain_reference(
    im: Image.Image, jpeg: dict[str, Any], quality: int | str, slack: float, meanwhile: Callable[[], T]
) -> tuple[Reference, T]:
    """The plain JPEG, encoded in the shared pool while ``meanwhile()`` runs in this
    thread, and what ``meanwhile`` returned.  The encode is waited for even when
    ``meanwhile`` fails, so nothing is left running past an error."""
    job = _pool.shared().submit(_writer.write, im, plain_options(jpeg, quality))
    try:
        result = meanwhile()
    finally:
        wait([job])
    plain = job.result()
    return Reference(plain, math.floor(len(plain) * (1.0 + slack))), result


@dataclass(frozen=True)
class Fit:
    """Outcome of a budget search."""

    quality: int | None  # None: not even Q_MIN fits
    data: bytes | None  # the file at ``quality``
    encodes: int


def _estimate(sizes: dict[int, int], budget: int, lo: int, hi: int) -> float:
    """Quality where the file size should reach the budget, from the probes next to it."""
    below = max((q for q in sizes if q <= lo), default=None)
    above = min((q for q in sizes if q >= hi), default=None)
    target = math.log(max(budget, 1))
    if below is not None and above is not None:
        a, b = math.log(max(sizes[below], 1)), math.log(max(sizes[above], 1))
        if b > a:
            xa, xb = math.log(law_scale(below)), math.log(law_scale(above))
            return quality_at(math.exp(xa + (target - a) * (xb - xa) / (b - a)))
        return (lo + hi) / 2
    known = below if below is not None else above
    if known is None:
        return (lo + hi) / 2
    x = math.log(law_scale(known)) - (target - math.log(max(sizes[known], 1))) / EXPONENT
    return quality_at(math.exp(x))


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
        if guess is not None and not sizes:
            probe = guess
        else:
            estimate = _estimate(sizes, budget, lo, hi)
            if hi > Q_MAX:  # nothing known to be over yet: aim over, to close the bracket
                probe = math.ceil(estimate)
            elif lo < Q_MIN:  # nothing known to fit yet: aim under
                probe = math.floor(estimate) - 1
            else:
                probe = math.floor(estimate)
        probe = min(max(probe, low_ok), high_ok)
        data = encode(probe)
        sizes[probe] = len(data)
        if len(data) <= budget:
            lo, best = probe, data
        else:
            hi = probe
    return Fit(lo if lo >= Q_MIN else None, best, len(sizes))
