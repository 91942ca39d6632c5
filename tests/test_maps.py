"""_maps.prepare_map: larger-than-image maps are area-averaged per side, smaller ones kept."""

from __future__ import annotations

import numpy as np
import pytest

from pillow_msroi import _maps as maps


@pytest.mark.parametrize(
    ("shape", "image", "expected"),
    [
        ((10, 6), (20, 30), (10, 6)),  # smaller: kept for the kernels to stretch
        ((30, 6), (20, 15), (15, 6)),  # taller only: shrunk in height alone
        ((10, 40), (20, 15), (10, 20)),  # wider only
        ((30, 40), (20, 15), (15, 20)),
    ],
)
def test_a_map_is_shrunk_only_where_larger_than_the_image(shape, image, expected):
    arr = np.random.default_rng(0).random(shape)
    assert maps.fit_to(arr, *image).shape == expected


def test_shrinking_averages_areas():
    # An integer factor: each value is the mean of its 2x3 block.
    arr = np.random.default_rng(1).random((8, 12))
    shrunk = maps.fit_to(arr, 4, 4)
    expected = arr.reshape(4, 2, 4, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(shrunk, expected, rtol=1e-5)
