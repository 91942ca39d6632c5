"""The paper's six selection rules: from map values to quality levels.

Level ``k`` (1..9) selects the JPEG layer at quality ``10 * (k + 1)``, so 1..9 is Q20..Q100;
every rule's result is clamped to that range.  Each rule is a threshold test on the map
value, so it is expressed here as sorted *edges* and a *table*: the level of a value is
``table[number of edges at or below it]`` (rule 1: strictly below, since it asks for
"value > mean"; rule 2 uses ``floor(value * 10 / max)`` directly).

Statistics describe the map stretched to full image size, which is never materialised:
the mean and maximum (rules 1, 2) are exact, streamed by a kernel; percentiles (rules
3-6) are exact for images up to ``STATS_MIN`` pixels and taken on a regular grid of the
stretched map above that (``grid_size``), where the levels agree with the exact full-size computation on
at least 99 % of pixels (tested).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._stretch_cy import assign_levels, mean_max, sample_bilinear

MIN_LEVEL = 1
MAX_LEVEL = 9
#: Bounds of the statistics grid; within them it has 16 points per pixel of the map, as a
#: grid over a smooth (small) map is far more accurate than random sampling, and a map
#: already at image size needs the dense end.
STATS_MIN, STATS_MAX = 1 << 14, 1 << 18


def quality_of(level: int) -> int:
    """JPEG quality of a level's layer."""
    return 10 * (level + 1)


def _clamped(values: list[int]) -> np.ndarray:
    return np.clip(np.asarray(values), MIN_LEVEL, MAX_LEVEL).astype(np.uint8)


@dataclass(frozen=True)
class Thresholds:
    """One rule's thresholds on one map: the arguments of ``assign_levels``."""

    edges: np.ndarray  # float64, ascending
    table: np.ndarray  # uint8, levels 1..9
    strict: bool = False
    divisor: float = 0.0


# Level of each count of edges at or below a value (rule 2: of each floor(value*10/max)).
_RULE_TABLES = {
    1: _clamped([6, 9]),
    2: _clamped([k - 1 + 3 for k in range(11)]),
    3: _clamped([k + 1 for k in range(10)]),
    4: _clamped([4, 6, 8, 9]),
    5: _clamped([2, 8]),
    6: _clamped([7, 9]),
}


def grid_size(small: np.ndarray) -> int:
    return min(STATS_MAX, max(STATS_MIN, 16 * small.size))


def stats_sample(small: np.ndarray, height: int, width: int, max_samples: int | None = None) -> np.ndarray:
    """Values of the map stretched to ``height`` x ``width``: all of them, or a regular grid
    of about ``max_samples`` pixel centres (strips included)."""
    if max_samples is None:
        max_samples = grid_size(small)
    if height * width <= max_samples:
        n_rows, n_cols = height, width
    else:
        n_rows = min(height, max_samples, max(1, round(math.sqrt(max_samples * height / width))))
        n_cols = min(width, max(1, max_samples // n_rows))
    rows = ((np.arange(n_rows) + 0.5) * (height / n_rows)).astype(np.intp)
    cols = ((np.arange(n_cols) + 0.5) * (width / n_cols)).astype(np.intp)
    return sample_bilinear(small, height, width, rows, cols).ravel()


def thresholds(rule: int, small: np.ndarray, height: int, width: int) -> Thresholds:
    """The rule's edges for ``small`` stretched to ``height`` x ``width``."""
    table = _RULE_TABLES[rule]
    if rule in (1, 2):
        mean, vmax = mean_max(small, height, width)
        if rule == 1:
            return Thresholds(np.array([mean]), table, strict=True)
        if vmax <= 0.0:  # all-zero map: every value*10//max is taken as 0
            return Thresholds(np.array([np.inf]), table[:2])
        return Thresholds(np.empty(0), table, divisor=vmax)
    values = stats_sample(small, height, width).astype(np.float64)
    if rule == 3:
        # "Index of the first decile edge above the value, +1" = np.digitize(v, deciles) + 1.
        return Thresholds(np.percentile(values, np.arange(10, 100, 10)), table)
    if rule == 4:
        return Thresholds(np.percentile(values, [20, 60, 90]), table)
    if rule in (5, 6):
        return Thresholds(np.array([np.median(values)]), table)
    msg = f"unknown rule {rule}"
    raise ValueError(msg)


def assign(small: np.ndarray, height: int, width: int, rule: int) -> np.ndarray:
    """uint8 (height, width) level map of a normalized float32 map under ``rule``."""
    th = thresholds(rule, small, height, width)
    return assign_levels(small, height, width, th.edges, th.table, th.strict, th.divisor)
