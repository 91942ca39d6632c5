"""The six selection rules against a restatement of the paper's text."""

from __future__ import annotations

import numpy as np
import pytest

from pillow_msroi import _levels as levels
from pillow_msroi import _stretch_cy as stretch_cy


def paper_levels(v: np.ndarray, rule: int) -> np.ndarray:
    """DEVELOPERS.md's rules, written out with numpy on the full-size map."""
    v = v.astype(np.float64)
    if rule == 1:
        lv = np.where(v > v.mean(), 9, 6)
    elif rule == 2:
        lv = (v * 10 // v.max()) - 1 + 3
    elif rule == 3:
        lv = np.digitize(v, np.percentile(v, np.arange(10, 100, 10))) + 1
    elif rule == 4:
        p20, p60, p90 = np.percentile(v, [20, 60, 90])
        lv = np.select([v < p20, v < p60, v < p90], [4, 6, 8], 9)
    elif rule == 5:
        lv = np.where(v < np.median(v), 2, 8)
    else:
        lv = np.where(v < np.median(v), 7, 9)
    return np.clip(lv, 1, 9).astype(np.uint8)


def smooth_map(shape, seed):
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


@pytest.mark.parametrize("rule", range(1, 7))
@pytest.mark.parametrize(("small", "size"), [((7, 9), (97, 131)), ((1, 1), (5, 3)), ((31, 17), (31, 17)), ((3, 4), (1, 1))])
def test_rules_match_paper_exactly_when_stats_are_exact(rule, small, size):
    src = smooth_map(small, rule)
    h, w = size
    assert h * w <= levels.STATS_MIN
    full = stretch_cy.upsample_bilinear(src, h, w)
    np.testing.assert_array_equal(levels.assign(src, h, w, rule), paper_levels(full, rule))


@pytest.mark.parametrize("rule", range(1, 7))
def test_rules_on_random_full_size_maps(rule):
    src = np.random.default_rng(rule + 40).random((120, 200), dtype=np.float32)
    np.testing.assert_array_equal(levels.assign(src, 120, 200, rule), paper_levels(src, rule))


@pytest.mark.parametrize("rule", range(1, 7))
@pytest.mark.parametrize(
    "make",
    [
        lambda: smooth_map((12, 8), 1),  # a network-sized map
        lambda: smooth_map((2, 2), 2),  # very coarse
        lambda: smooth_map((700, 1000), 3),  # full-size noise
        lambda: (np.hypot(*np.mgrid[-350:350, -500:500]) < 200).astype(np.float32),  # a sharp disc
    ],
)
def test_sampled_statistics_agree_with_full_size(rule, make):
    src = make()
    h, w = 700, 1000
    assert h * w > levels.STATS_MAX
    got = levels.assign(src, h, w, rule)
    expected = paper_levels(stretch_cy.upsample_bilinear(src, h, w), rule)
    assert (got == expected).mean() >= 0.99


@pytest.mark.parametrize("rule", range(1, 7))
def test_constant_map_gives_one_level(rule):
    got = levels.assign(np.zeros((4, 4), np.float32), 50, 40, rule)
    assert len(np.unique(got)) == 1
    assert 1 <= got[0, 0] <= 9


@pytest.mark.parametrize("size", [(1, 70000), (70000, 1), (3, 40000), (300, 300)])
def test_stats_sample_covers_strips(size):
    h, w = size
    small = np.arange(6, dtype=np.float32).reshape(2, 3)
    sample = levels.stats_sample(small, h, w)
    full = stretch_cy.upsample_bilinear(small, h, w)
    assert 0 < sample.size <= levels.STATS_MIN * 1.01
    assert full.min() <= sample.min() and sample.max() <= full.max()
    assert abs(sample.mean() - full.mean()) < 0.05


def test_quality_of_levels():
    assert [levels.quality_of(k) for k in (1, 9)] == [20, 100]
