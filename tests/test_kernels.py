"""Native kernels against numpy restatements."""

from __future__ import annotations

import numpy as np
import pytest
from references import reference_upsample
from skimage.transform import resize

from pillow_msroi import _blend_cy as blend_cy
from pillow_msroi import _stretch_cy as stretch_cy
from pillow_msroi._dct import _transform_cy as transform_cy


SIZES = [(1, 1), (1, 7), (7, 1), (3, 5), (17, 31), (32, 48)]
OUT_SIZES = [(1, 1), (1, 13), (13, 1), (33, 47), (100, 75), (512, 768)]


@pytest.mark.parametrize("src_shape", SIZES)
@pytest.mark.parametrize("out_shape", OUT_SIZES)
def test_upsample_matches_numpy(src_shape, out_shape):
    rng = np.random.default_rng(src_shape[0] * 100 + out_shape[1])
    src = rng.random(src_shape, dtype=np.float32)
    got = stretch_cy.upsample_bilinear(src, *out_shape)
    assert got.dtype == np.float32 and got.shape == out_shape
    np.testing.assert_allclose(got, reference_upsample(src, *out_shape), atol=1e-5, rtol=0)


@pytest.mark.parametrize("out_shape", [(31, 45), (128, 192), (97, 61)])
def test_upsample_matches_scikit_image(out_shape):
    src = np.random.default_rng(3).random((8, 12), dtype=np.float32)
    expected = resize(src.astype(np.float64), out_shape, order=1, mode="edge", anti_aliasing=False)
    np.testing.assert_allclose(stretch_cy.upsample_bilinear(src, *out_shape), expected, atol=1e-5)


def test_sample_bilinear_is_a_subgrid_of_upsample():
    src = np.random.default_rng(4).random((9, 7), dtype=np.float32)
    full = stretch_cy.upsample_bilinear(src, 101, 67)
    rows = np.array([0, 5, 50, 100], dtype=np.intp)
    cols = np.array([66, 3, 0], dtype=np.intp)
    np.testing.assert_array_equal(stretch_cy.sample_bilinear(src, 101, 67, rows, cols), full[np.ix_(rows, cols)])


def test_kernel_errors():
    src = np.zeros((2, 2), np.float32)
    with pytest.raises(ValueError, match="at least 1x1"):
        stretch_cy.upsample_bilinear(src, 0, 5)
    with pytest.raises(ValueError, match="at least one pixel"):
        stretch_cy.upsample_bilinear(np.zeros((0, 3), np.float32), 4, 4)
    with pytest.raises(IndexError, match="row 9"):
        stretch_cy.sample_bilinear(src, 9, 9, np.array([9], np.intp), np.array([0], np.intp))
    with pytest.raises(ValueError, match="ascending"):
        stretch_cy.assign_levels(src, 4, 4, np.array([2.0, 1.0]), np.array([1, 2, 3], np.uint8))
    with pytest.raises(ValueError, match="3 entries"):
        stretch_cy.assign_levels(src, 4, 4, np.array([1.0, 2.0]), np.array([1, 2], np.uint8))
    with pytest.raises(ValueError, match="is 3x2, output is 4x2"):
        blend_cy.blend_level(np.zeros((2, 3, 3), np.uint8), np.zeros((2, 4), np.uint8), 1, np.zeros((2, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="needs 4"):
        blend_cy.blend_level(np.zeros((2, 2, 3), np.uint8), np.zeros((2, 2), np.uint8), 1, np.zeros((2, 2, 4), np.uint8))
    with pytest.raises(ValueError, match="must be adjacent"):
        blend_cy.blend_level(np.zeros((2, 4, 3), np.uint8)[:, ::2], np.zeros((2, 2), np.uint8), 1, np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(ValueError, match="read-only|readonly|buffer"):  # out must be writable
        out = np.zeros((2, 2, 3), np.uint8)
        out.flags.writeable = False
        blend_cy.blend_level(np.zeros((2, 2, 3), np.uint8), np.zeros((2, 2), np.uint8), 1, out)


@pytest.mark.parametrize("shape", [(1, 1), (5, 3), (17, 33), (64, 48)])
@pytest.mark.parametrize("channels", [(1, 1), (3, 3), (4, 4), (4, 3)])
def test_blend_level_matches_numpy(shape, channels):
    layer_c, out_c = channels
    rng = np.random.default_rng(shape[0] + 10 * layer_c + out_c)
    levels = rng.integers(1, 10, shape, dtype=np.uint8)
    out = np.zeros((*shape, out_c), np.uint8)
    expected = out.copy()
    for level in range(1, 10):
        layer = rng.integers(0, 256, (*shape, layer_c), dtype=np.uint8)
        copied = blend_cy.blend_level(layer, levels, level, out)
        mask = levels == level
        expected[mask] = layer[mask][:, :out_c]
        assert copied == mask.sum()
    np.testing.assert_array_equal(out, expected)


def test_blend_level_on_windows():
    rng = np.random.default_rng(9)
    layer = rng.integers(0, 256, (20, 30, 4), dtype=np.uint8)
    levels = rng.integers(0, 3, (20, 30), dtype=np.uint8)
    out = np.zeros((20, 30, 4), np.uint8)
    blend_cy.blend_level(layer[5:15, 7:29], levels[5:15, 7:29], 2, out[5:15, 7:29])
    expected = np.zeros_like(out)
    window = (slice(5, 15), slice(7, 29))
    mask = levels[window] == 2
    expected[window][mask] = layer[window][mask]
    np.testing.assert_array_equal(out, expected)


def test_assign_levels_counts_edges():
    src = np.array([[0.0, 0.25, 0.5, 0.75, 1.0]], np.float32)
    edges = np.array([0.25, 0.75])
    table = np.array([1, 5, 9], np.uint8)
    inclusive = stretch_cy.assign_levels(src, 1, 5, edges, table)
    strict = stretch_cy.assign_levels(src, 1, 5, edges, table, True)
    np.testing.assert_array_equal(inclusive, [[1, 5, 5, 9, 9]])
    np.testing.assert_array_equal(strict, [[1, 1, 5, 5, 9]])
    scaled = stretch_cy.assign_levels(src, 1, 5, np.empty(0), np.arange(2, 13, dtype=np.uint8), False, 1.0)
    np.testing.assert_array_equal(scaled, [[2, 4, 7, 9, 12]])
