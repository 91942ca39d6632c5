"""Tests for pillow_msroi.eval.metrics.

Strategy: PSNR and SSIM against scikit-image; MS-SSIM, VIFp and PSNR-HVS(-M)
against straightforward loop-based restatements of the reference Matlab code
written here independently (direct 2-D convolution, per-block loops), plus
hand-computed cases and properties. Images are scikit-image's bundled samples
and seeded synthetic arrays, so everything is deterministic and offline.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from PIL import Image
from scipy.fft import dctn
from scipy.signal import convolve2d
from skimage import data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from pillow_msroi.eval import metrics

# JPEG luminance quantization table (ITU-T T.81, Annex K, Table K.1). The
# PSNR-HVS tables are derived from it: CSF = 25.73509 / Q, MASK = (10 / Q)^2.
JPEG_Q = np.array(
    [
        [16, 11, 10, 16, 24, 40, 51, 61],
        [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77],
        [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101],
        [72, 92, 95, 98, 112, 100, 103, 99],
    ],
    dtype=float,
)
CSF = np.round(25.73509 / JPEG_Q, 6)
MASK = np.round((10.0 / JPEG_Q) ** 2, 6)


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return data.astronaut()  # 512x512x3 uint8


@pytest.fixture(scope="module")
def camera() -> np.ndarray:
    return data.camera()  # 512x512 uint8, grayscale


def noisy(img: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(img + rng.normal(0.0, sigma, img.shape), 0, 255).astype(np.uint8)


def y601(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(float)
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


def skimage_ssim(x: np.ndarray, y: np.ndarray) -> float:
    return structural_similarity(
        x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255
    )


# ------------------------------------------------- reference restatements


def fspecial_gaussian(n: int, sigma: float) -> np.ndarray:
    """Matlab's fspecial('gaussian', n, sigma), built as a full 2-D grid."""
    r = (n - 1) / 2
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    w = np.exp(-(xx**2 + yy**2) / (2 * sigma**2))
    return w / w.sum()


def filter2_valid(win: np.ndarray, img: np.ndarray) -> np.ndarray:
    # The windows are symmetric, so convolution equals Matlab's correlation.
    return convolve2d(img, win, mode="valid")


def ref_ssim_cs(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """ssim_index_new from Wang's msssim.m: mean SSIM and mean CS."""
    win = fspecial_gaussian(11, 1.5)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu1, mu2 = filter2_valid(win, x), filter2_valid(win, y)
    s1 = filter2_valid(win, x * x) - mu1 * mu1
    s2 = filter2_valid(win, y * y) - mu2 * mu2
    s12 = filter2_valid(win, x * y) - mu1 * mu2
    cs_map = (2 * s12 + c2) / (s1 + s2 + c2)
    ssim_map = (2 * mu1 * mu2 + c1) / (mu1**2 + mu2**2 + c1) * cs_map
    return ssim_map.mean(), cs_map.mean()


def ref_ms_ssim_scales(x: np.ndarray, y: np.ndarray) -> list[tuple[float, float]]:
    out = []
    for level in range(5):
        if level:
            # 2x2 mean of non-overlapping blocks, odd edge dropped.
            h, w = x.shape[0] // 2 * 2, x.shape[1] // 2 * 2
            x = (x[0:h:2, 0:w:2] + x[1:h:2, 0:w:2] + x[0:h:2, 1:w:2] + x[1:h:2, 1:w:2]) / 4
            y = (y[0:h:2, 0:w:2] + y[1:h:2, 0:w:2] + y[0:h:2, 1:w:2] + y[1:h:2, 1:w:2]) / 4
        out.append(ref_ssim_cs(x, y))
    return out


def ref_ms_ssim(x: np.ndarray, y: np.ndarray) -> float:
    weights = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]
    scales = ref_ms_ssim_scales(x, y)
    value = 1.0
    for j in range(4):
        value *= scales[j][1] ** weights[j]
    return value * scales[4][0] ** weights[4]


def ref_vifp(ref: np.ndarray, dist: np.ndarray) -> float:
    """vifp_mscale.m (Sheikh & Bovik), statement by statement."""
    sigma_nsq = 2.0
    num = den = 0.0
    for scale in range(1, 5):
        n = 2 ** (4 - scale + 1) + 1
        win = fspecial_gaussian(n, n / 5)
        if scale > 1:
            ref = filter2_valid(win, ref)[::2, ::2]
            dist = filter2_valid(win, dist)[::2, ::2]
        mu1, mu2 = filter2_valid(win, ref), filter2_valid(win, dist)
        s1 = filter2_valid(win, ref * ref) - mu1 * mu1
        s2 = filter2_valid(win, dist * dist) - mu2 * mu2
        s12 = filter2_valid(win, ref * dist) - mu1 * mu2
        s1[s1 < 0] = 0
        s2[s2 < 0] = 0
        g = s12 / (s1 + 1e-10)
        sv = s2 - g * s12
        m = s1 < 1e-10
        g[m] = 0
        sv[m] = s2[m]
        s1[m] = 0
        m = s2 < 1e-10
        g[m] = 0
        sv[m] = 0
        m = g < 0
        sv[m] = s2[m]
        g[m] = 0
        sv[sv <= 1e-10] = 1e-10
        num += np.sum(np.log10(1 + g**2 * s1 / (sv + sigma_nsq)))
        den += np.sum(np.log10(1 + s1 / sigma_nsq))
    return num / den


def ref_psnrhvsm(img1: np.ndarray, img2: np.ndarray) -> tuple[float, float]:
    """psnrhvsm.m (Ponomarenko), loop for loop; returns (p_hvs, p_hvs_m)."""

    def vari(z):
        return np.var(z.ravel(), ddof=1) * z.size

    def maskeff(z, zdct):
        m = 0.0
        for k in range(8):
            for l in range(8):
                if k or l:
                    m += zdct[k, l] ** 2 * MASK[k, l]
        pop = vari(z)
        if pop != 0:
            pop = (vari(z[:4, :4]) + vari(z[:4, 4:]) + vari(z[4:, 4:]) + vari(z[4:, :4])) / pop
        return math.sqrt(m * pop) / 32

    s1 = s2 = 0.0
    num = 0
    for y in range(0, img1.shape[0] - 7, 8):
        for x in range(0, img1.shape[1] - 7, 8):
            a, b = img1[y : y + 8, x : x + 8], img2[y : y + 8, x : x + 8]
            ad, bd = dctn(a, norm="ortho"), dctn(b, norm="ortho")
            mask = max(maskeff(a, ad), maskeff(b, bd))
            for k in range(8):
                for l in range(8):
                    u = abs(ad[k, l] - bd[k, l])
                    s2 += (u * CSF[k, l]) ** 2
                    if k or l:
                        u = 0.0 if u < mask / MASK[k, l] else u - mask / MASK[k, l]
                    s1 += (u * CSF[k, l]) ** 2
                    num += 1
    return 10 * math.log10(255**2 / (s2 / num)), 10 * math.log10(255**2 / (s1 / num))


# ------------------------------------------------------------------ luma


def test_luma_is_full_range_bt601():
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255], [0, 0, 0]]], np.uint8)
    y = metrics.luma(rgb)
    assert y.dtype == np.float64 and y.shape == (1, 5)
    np.testing.assert_allclose(y[0], [76.245, 149.685, 29.07, 255.0, 0.0], atol=1e-9)


def test_luma_passes_grayscale_through_and_accepts_pil(astronaut, camera):
    np.testing.assert_array_equal(metrics.luma(camera), camera.astype(np.float64))
    np.testing.assert_allclose(metrics.luma(Image.fromarray(astronaut)), y601(astronaut), atol=1e-9)
    # A mode-L image is converted to RGB (R = G = B), whose luma is the gray value.
    np.testing.assert_allclose(metrics.luma(Image.fromarray(camera)), camera, atol=1e-9)


# ------------------------------------------------------------------ PSNR


def test_psnr_matches_skimage_on_luma(astronaut):
    b = noisy(astronaut, 8)
    expected = peak_signal_noise_ratio(y601(astronaut), y601(b), data_range=255)
    assert metrics.psnr(astronaut, b) == pytest.approx(expected, abs=1e-10)


def test_psnr_grayscale_and_data_range(camera):
    b = noisy(camera, 5)
    expected = peak_signal_noise_ratio(camera, b, data_range=255)
    assert metrics.psnr(camera, b) == pytest.approx(expected, abs=1e-10)
    scaled = metrics.psnr(camera / 255.0, b / 255.0, data_range=1.0)
    assert scaled == pytest.approx(expected, abs=1e-10)


def test_psnr_known_noise_level():
    # Unclipped float noise of std 4: MSE ~ 16, PSNR ~ 20 log10(255 / 4) = 36.09 dB.
    rng = np.random.default_rng(1)
    a = np.full((256, 256), 128.0)
    b = a + rng.normal(0, 4, a.shape)
    assert metrics.psnr(a, b) == pytest.approx(20 * math.log10(255 / 4), abs=0.05)


def test_psnr_rgb_matches_skimage_over_all_channels(astronaut):
    b = noisy(astronaut, 6, seed=3)
    expected = peak_signal_noise_ratio(astronaut, b, data_range=255)
    assert metrics.psnr_rgb(astronaut, b) == pytest.approx(expected, abs=1e-10)
    mse = np.mean((astronaut.astype(float) - b) ** 2)
    assert metrics.psnr_rgb(astronaut, b) == pytest.approx(10 * math.log10(255**2 / mse), abs=1e-10)


@pytest.mark.parametrize(
    "fn", [metrics.psnr, metrics.psnr_rgb, metrics.psnr_hvs, metrics.psnr_hvs_m]
)
def test_psnr_type_metrics_are_inf_for_identical_images(fn, astronaut):
    assert fn(astronaut, astronaut.copy()) == math.inf


def test_weighted_psnr_uniform_weights_equal_psnr(astronaut):
    b = noisy(astronaut, 8)
    w = np.full(astronaut.shape[:2], 0.25)
    expected = metrics.psnr(astronaut, b)
    assert metrics.weighted_psnr(astronaut, b, w) == pytest.approx(expected, abs=1e-10)


def test_weighted_psnr_mask_is_psnr_of_region_and_scale_free(astronaut):
    b = noisy(astronaut, 8)
    mask = np.zeros(astronaut.shape[:2], bool)
    mask[100:300, 150:260] = True
    region = metrics.psnr(astronaut[100:300, 150:260], b[100:300, 150:260])
    assert metrics.weighted_psnr(astronaut, b, mask) == pytest.approx(region, abs=1e-10)
    w = np.random.default_rng(2).uniform(0, 1, mask.shape)
    assert metrics.weighted_psnr(astronaut, b, w) == pytest.approx(
        metrics.weighted_psnr(astronaut, b, 7 * w), abs=1e-10
    )
    err = (y601(astronaut) - y601(b)) ** 2
    expected = 10 * math.log10(255**2 / (np.sum(w * err) / np.sum(w)))
    assert metrics.weighted_psnr(astronaut, b, w) == pytest.approx(expected, abs=1e-10)


def test_weighted_psnr_inf_when_weighted_error_is_zero(camera):
    b = camera.copy()
    b[:10] = 0
    w = np.ones(camera.shape)
    w[:10] = 0
    assert metrics.weighted_psnr(camera, b, w) == math.inf


@pytest.mark.parametrize(
    "weights, exc, match",
    [
        (np.ones((10, 10)), ValueError, "shape"),
        (np.ones((64, 64, 1)), ValueError, "shape"),
        (np.zeros((64, 64)), ValueError, "sum to zero"),
        (np.full((64, 64), -1.0), ValueError, "non-negative"),
        (np.full((64, 64), np.nan), ValueError, "NaN"),
        (np.full((64, 64), 1 + 1j), TypeError, "real-valued"),
    ],
)
def test_weighted_psnr_rejects_bad_weights(weights, exc, match):
    a = np.zeros((64, 64))
    with pytest.raises(exc, match=match):
        metrics.weighted_psnr(a, a + 1, weights)


# ------------------------------------------------------------------ SSIM


def test_ssim_matches_skimage(astronaut, camera):
    b = noisy(astronaut, 10)
    expected = skimage_ssim(y601(astronaut), y601(b))
    assert metrics.ssim(astronaut, b) == pytest.approx(expected, abs=1e-10)
    blurred = np.asarray(Image.fromarray(camera).resize((128, 128)).resize((512, 512)))
    assert metrics.ssim(camera, blurred) == pytest.approx(
        skimage_ssim(camera.astype(float), blurred.astype(float)), abs=1e-10
    )


def test_ssim_identical_is_one_and_decreases_with_noise(camera):
    assert metrics.ssim(camera, camera) == pytest.approx(1.0, abs=1e-12)
    values = [metrics.ssim(camera, noisy(camera, s)) for s in (2, 5, 10, 20)]
    assert values == sorted(values, reverse=True)


# --------------------------------------------------------------- MS-SSIM


def test_ms_ssim_matches_loop_restatement(astronaut):
    a = astronaut[100:300, 150:333]  # 200x183: odd width exercises the halving
    b = noisy(a, 12)
    expected = ref_ms_ssim(y601(a), y601(b))
    assert metrics.ms_ssim(a, b) == pytest.approx(expected, abs=1e-10)


def test_ms_ssim_vqmt_compat_leaves_coarsest_ssim_unweighted(camera):
    a = camera[:192, :192]
    b = noisy(a, 15)
    scales = ref_ms_ssim_scales(a.astype(float), b.astype(float))
    # VQMT: prod(cs_j^w_j, j<5) * ssim_5, i.e. the paper's value * ssim_5^(1 - 0.1333).
    expected = metrics.ms_ssim(a, b) * scales[4][0] ** (1 - 0.1333)
    assert metrics.ms_ssim(a, b, vqmt_compat=True) == pytest.approx(expected, abs=1e-12)


def test_ms_ssim_properties(camera):
    assert metrics.ms_ssim(camera, camera) == pytest.approx(1.0, abs=1e-12)
    values = [metrics.ms_ssim(camera, noisy(camera, s)) for s in (2, 5, 10, 20, 40)]
    assert values == sorted(values, reverse=True)
    assert 0 < values[-1] < values[0] < 1
    # Anti-correlated content gives negative contrast-structure terms: clipped, not NaN.
    rng = np.random.default_rng(4)
    x = rng.uniform(0, 255, (176, 176))
    assert metrics.ms_ssim(x, 255 - x) == 0.0


def test_ms_ssim_needs_176_pixels():
    a = np.zeros((175, 300))
    with pytest.raises(ValueError, match="at least 176x176"):
        metrics.ms_ssim(a, a)


# ------------------------------------------------------------------ VIFp


def test_vifp_matches_loop_restatement(astronaut):
    a = astronaut[50:250, 200:391]  # 200x191: odd sizes at intermediate scales
    b = noisy(a, 10)
    assert metrics.vifp(a, b) == pytest.approx(ref_vifp(y601(a), y601(b)), abs=1e-10)
    # Including degenerate windows: flat areas in either image, and an
    # inverted (negative-gain) area.
    c = y601(a)
    c[:80, :90] = 77.0
    d = y601(b)
    d[120:, 100:] = 200.0
    d[:60, 100:] = 255.0 - c[:60, 100:]
    assert metrics.vifp(c, d) == pytest.approx(ref_vifp(c, d), abs=1e-10)


def test_vifp_properties(camera):
    a = camera[:256, :256]
    assert metrics.vifp(a, a) == pytest.approx(1.0, abs=1e-8)
    values = [metrics.vifp(a, noisy(a, s)) for s in (2, 5, 10, 20)]
    assert values == sorted(values, reverse=True)
    assert all(0 < v < 1 for v in values)
    # Linear contrast stretch adds no noise, so VIF exceeds 1 (Sheikh & Bovik).
    stretched = 128 + 1.3 * (a.astype(float) - 128)
    assert metrics.vifp(a, stretched) > 1.0
    assert math.isnan(metrics.vifp(np.full((80, 80), 9.0), np.full((80, 80), 9.0)))


def test_vifp_needs_65_pixels():
    a = np.zeros((64, 100))
    with pytest.raises(ValueError, match="at least 65x65"):
        metrics.vifp(a, a)


# ---------------------------------------------------------- PSNR-HVS(-M)


def test_hvs_tables_follow_from_the_jpeg_quantization_table():
    np.testing.assert_allclose(metrics._HVS_CSF, CSF, atol=1.5e-6)
    np.testing.assert_allclose(metrics._HVS_MASK, MASK, atol=1.5e-6)


def test_psnr_hvs_single_dc_difference_by_hand():
    # 64x64 flat image = 64 blocks. Adding c = 2 to one block changes only its
    # DC coefficient, by 8 * c = 16 (orthonormal DCT: DC = sum / 8). The DC is
    # never masked, so both metrics see
    #   S = (16 * CSF[0,0])^2 / (64 blocks * 64 coefficients)
    #     = (16 * 1.608443)^2 / 4096 = 25.735088^2 / 4096 = 0.1616931
    #   PSNR-HVS = PSNR-HVS-M = 10 log10(65025 / 0.1616931) = 56.04389 dB.
    a = np.full((64, 64), 100.0)
    b = a.copy()
    b[8:16, 16:24] += 2.0
    assert metrics.psnr_hvs(a, b) == pytest.approx(56.04389, abs=1e-4)
    assert metrics.psnr_hvs_m(a, b) == pytest.approx(56.04389, abs=1e-4)


def test_psnr_hvs_single_ac_coefficient_by_hand():
    # One block of a flat 64x64 image (64 blocks) gets coefficient (0, 4) =
    # 40. Its basis function is (1/sqrt(8)) * (1/2) * cos(pi (2x + 1) / 4)
    # = +-1/8, so the block's columns read 128 + 5 * (+ - - + + - - +).
    a = np.full((64, 64), 128.0)
    b = a.copy()
    b[8:16, 16:24] += 5.0 * np.array([1, -1, -1, 1, 1, -1, -1, 1])
    # PSNR-HVS: S = (40 * CSF[0,4])^2 / 4096 = (40 * 1.072295)^2 / 4096
    #             = 42.8918^2 / 4096 = 0.4491471 -> 10 log10(65025 / S) = 51.60692 dB.
    assert metrics.psnr_hvs(a, b) == pytest.approx(51.60692, abs=1e-4)
    # PSNR-HVS-M: the flat block masks nothing, so the mask is b's:
    #   AC energy  = 40^2 * MASK[0,4] = 1600 * 0.173611 = 277.7776
    #   pop        = 4 quadrants * (400 * 16/15) / (1600 * 64/63) = 1.05
    #                (each 4x4 quadrant holds a quarter of the +-5 pattern)
    #   E_norm     = sqrt(277.7776 * 1.05) / 32 = 0.5336952
    #   threshold  = E_norm / MASK[0,4] = 3.074086, u = 40 - 3.074086 = 36.92591
    #   S          = (36.92591 * 1.072295)^2 / 4096 = 0.3827640
    #   PSNR-HVS-M = 10 log10(65025 / 0.3827640) = 52.30149 dB.
    assert metrics.psnr_hvs_m(a, b) == pytest.approx(52.30149, abs=1e-4)
    # The larger of the two masks is used, so the order does not matter.
    assert metrics.psnr_hvs_m(b, a) == pytest.approx(52.30149, abs=1e-4)


def test_psnr_hvs_constant_shift_relates_to_psnr(camera):
    # A global shift c puts DC differences of 8c in every block and nothing
    # else, so S = (8c * 1.608443)^2 / 64 = MSE * 1.608443^2:
    # PSNR-HVS = PSNR - 20 log10(1.608443) = PSNR - 4.12811 dB.
    a = camera.astype(float)
    b = a + 3.0
    expected = metrics.psnr(a, b) - 20 * math.log10(1.608443)
    assert metrics.psnr_hvs(a, b) == pytest.approx(expected, abs=1e-9)
    assert metrics.psnr_hvs_m(a, b) == pytest.approx(expected, abs=1e-9)


def test_psnr_hvs_known_white_noise_level():
    # The orthonormal DCT keeps white noise white: every coefficient error has
    # variance sigma^2, so E[S] = sigma^2 * mean(CSF^2) and the expected
    # value is 10 log10(255^2 / (25 * mean(CSF^2))).
    rng = np.random.default_rng(5)
    a = np.full((256, 256), 128.0)
    b = a + rng.normal(0, 5, a.shape)
    expected = 10 * math.log10(255**2 / (25 * np.mean(CSF**2)))
    assert metrics.psnr_hvs(a, b) == pytest.approx(expected, abs=0.1)
    assert metrics.psnr_hvs_m(a, b) > metrics.psnr_hvs(a, b)


def test_psnr_hvs_matches_loop_restatement_of_reference(astronaut):
    a = y601(astronaut[200:245, 100:171])  # 45x71: 5x8 blocks plus partial edges
    b = y601(noisy(astronaut[200:245, 100:171], 9))
    hvs, hvs_m = ref_psnrhvsm(a, b)
    assert metrics.psnr_hvs(a, b) == pytest.approx(hvs, abs=1e-9)
    assert metrics.psnr_hvs_m(a, b) == pytest.approx(hvs_m, abs=1e-9)


def test_psnr_hvs_ignores_partial_edge_blocks(camera):
    a = camera[:70, :53].astype(float)
    b = a.copy()
    b[64:, :] += 20  # rows 64..69 and columns 48..52 belong to no full block
    b[:, 48:] -= 20
    assert metrics.psnr_hvs(a, b) == math.inf
    assert metrics.psnr_hvs_m(a, b) == math.inf


def test_psnr_hvs_m_not_below_psnr_hvs_and_monotone(astronaut):
    previous = math.inf
    for sigma in (2, 5, 10, 20):
        b = noisy(astronaut, sigma)
        hvs, hvs_m = metrics.psnr_hvs(astronaut, b), metrics.psnr_hvs_m(astronaut, b)
        assert hvs_m >= hvs
        assert hvs < previous
        previous = hvs


# ----------------------------------------------------------- all_metrics


def test_all_metrics_equals_individual_functions(astronaut):
    a = astronaut[:256, :256]
    b = noisy(a, 7)
    w = np.random.default_rng(6).uniform(0, 1, a.shape[:2])
    result = metrics.all_metrics(a, b, weights=w)
    assert set(result) == {
        "psnr", "ssim", "ms_ssim", "vifp", "psnr_hvs", "psnr_hvs_m", "psnr_rgb", "ssimulacra2", "roi_psnr"
    }
    expected = {
        "psnr": metrics.psnr(a, b),
        "ssim": metrics.ssim(a, b),
        "ms_ssim": metrics.ms_ssim(a, b),
        "vifp": metrics.vifp(a, b),
        "psnr_hvs": metrics.psnr_hvs(a, b),
        "psnr_hvs_m": metrics.psnr_hvs_m(a, b),
        "psnr_rgb": metrics.psnr_rgb(a, b),
        "ssimulacra2": metrics.ssimulacra2(a, b),
        "roi_psnr": metrics.weighted_psnr(a, b, w),
    }
    assert result == pytest.approx(expected, abs=1e-12)
    assert all(type(v) is float for v in result.values())


def test_all_metrics_identical_images_and_pil_input(astronaut):
    img = Image.fromarray(astronaut[:192, :200])
    result = metrics.all_metrics(img, img.copy())
    assert "roi_psnr" not in result
    for key in ("psnr", "psnr_hvs", "psnr_hvs_m", "psnr_rgb"):
        assert result[key] == math.inf
    for key in ("ssim", "ms_ssim", "vifp"):
        assert result[key] == pytest.approx(1.0, abs=1e-8)
    assert result["ssimulacra2"] == pytest.approx(100.0)


# ---------------------------------------------------------- input errors


@pytest.mark.parametrize(
    "a, b, exc, match",
    [
        (np.zeros((8, 8)), np.zeros((8, 9)), ValueError, "differ in shape"),
        (np.zeros((8, 8, 3)), np.zeros((8, 8)), ValueError, "differ in shape"),
        (np.zeros(64), np.zeros(64), ValueError, "HxW"),
        (np.zeros((8, 8, 4)), np.zeros((8, 8, 4)), ValueError, "HxWx3"),
        (np.zeros((2, 8, 8, 3)), np.zeros((2, 8, 8, 3)), ValueError, "HxWx3"),
        (np.zeros((0, 8)), np.zeros((0, 8)), ValueError, "empty"),
        (np.full((8, 8), np.nan), np.zeros((8, 8)), ValueError, "NaN"),
        ([[1.0, 2.0]], [[1.0, 2.0]], TypeError, "numpy array or a PIL Image"),
        (np.zeros((8, 8), bool), np.zeros((8, 8), bool), TypeError, "dtype"),
        (np.zeros((8, 8), complex), np.zeros((8, 8), complex), TypeError, "dtype"),
    ],
)
def test_bad_inputs_are_rejected(a, b, exc, match):
    with pytest.raises(exc, match=match):
        metrics.psnr(a, b)


@pytest.mark.parametrize("fn", [metrics.ssim, metrics.psnr_hvs, metrics.psnr_hvs_m])
def test_too_small_images_are_rejected(fn):
    a = np.zeros((7, 30))
    with pytest.raises(ValueError, match="at least"):
        fn(a, a)


@pytest.mark.parametrize("data_range", [0, -1, float("nan"), "255"])
def test_bad_data_range_is_rejected(data_range):
    a = np.zeros((8, 8))
    with pytest.raises(ValueError, match="data_range"):
        metrics.psnr(a, a + 1, data_range=data_range)


# ----------------------------------------------------------------------------- metrics nobody here wrote


def _jpeg_round_trip(img: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"))


@pytest.mark.parametrize("quality", [20, 50, 90])
def test_psnr_hvs_and_hvs_m_equal_the_pypi_package(quality):
    # psnr-hvsm (PyPI) computes both on luma in [0, 1] over whole 8x8 tiles.
    psnr_hvsm = pytest.importorskip("psnr_hvsm")
    from skimage import data as skdata

    img = skdata.chelsea()  # 300x451: not a multiple of 8 across
    b = _jpeg_round_trip(img, quality)
    la, lb = metrics.luma(img) / 255.0, metrics.luma(b) / 255.0
    h, w = la.shape[0] // 8 * 8, la.shape[1] // 8 * 8
    with np.errstate(divide="ignore", invalid="ignore"):  # the package divides 0 by 0 on flat tiles
        hvs, hvsm = psnr_hvsm.psnr_hvs_hvsm(la[:h, :w], lb[:h, :w])
    assert metrics.psnr_hvs(img, b) == pytest.approx(float(hvs), abs=1e-9)
    assert metrics.psnr_hvs_m(img, b) == pytest.approx(float(hvsm), abs=1e-9)


def test_ssimulacra2_is_the_packages_and_orders_qualities():
    pytest.importorskip("ssimulacra2")
    from skimage import data as skdata

    img = skdata.chelsea()[:128, :160]
    assert metrics.ssimulacra2(img, img) == pytest.approx(100.0)
    scores = [metrics.ssimulacra2(img, _jpeg_round_trip(img, q)) for q in (20, 60, 95)]
    assert scores[0] < scores[1] < scores[2] < 100.0
    with pytest.raises(ValueError, match="RGB"):
        metrics.ssimulacra2(img[..., 0], img[..., 0])
