"""Saliency scores on cases whose values follow from the definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pillow_msroi.eval.saliency import auc_judd, cc, centre_gaussian, nss


def test_nss_by_hand():
    m = np.array([[0.0, 0.0], [0.0, 1.0]])  # mean 1/4, std sqrt(3)/4
    assert nss(m, np.array([1]), np.array([1])) == pytest.approx(math.sqrt(3))
    assert nss(m, np.array([0]), np.array([0])) == pytest.approx(-1 / math.sqrt(3))
    assert nss(np.ones((3, 3)), np.array([1]), np.array([1])) == 0.0  # flat map: no information


def test_auc_judd_ranks():
    m = np.arange(100, dtype=np.float64).reshape(10, 10)  # distinct values, row-major
    top = np.arange(90, 100)  # the ten highest pixels
    assert auc_judd(m, top % 10, top // 10) == pytest.approx(1.0)
    bottom = np.arange(10)
    assert auc_judd(m, bottom % 10, bottom // 10) == pytest.approx(0.0, abs=0.06)
    rng = np.random.default_rng(0)
    noise = rng.random((200, 200))
    fx, fy = rng.integers(0, 200, 2000), rng.integers(0, 200, 2000)
    assert auc_judd(noise, fx, fy) == pytest.approx(0.5, abs=0.02)  # chance


def test_cc_is_pearson():
    a = np.random.default_rng(1).random((20, 30))
    assert cc(a, 2 * a + 3) == pytest.approx(1.0)
    assert cc(a, -a) == pytest.approx(-1.0)
    assert cc(np.ones((4, 4)), a[:4, :4]) == 0.0


def test_centre_gaussian_sigma():
    g = centre_gaussian(100, 200, 4.0)
    assert g.dtype == np.float32 and g.max() == pytest.approx(1.0, abs=1e-3)
    # Pixel centres at x + 0.5, sigma w/4 = 50 px: 50 px to the right of pixel 99 is one sigma further.
    x0, x1 = (99.5 - 100) / 50, (149.5 - 100) / 50
    assert g[50, 149] / g[50, 99] == pytest.approx(math.exp(-0.5 * (x1**2 - x0**2)), rel=1e-5)
    assert np.array_equal(centre_gaussian(100, 200), g)
