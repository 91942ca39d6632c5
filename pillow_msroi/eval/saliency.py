"""Saliency metrics (NSS, AUC-Judd, CC) and baselines, numpy only.

Fixations are given as 0-based integer pixel coordinates inside the image.
"""

from __future__ import annotations

import numpy as np

__all__ = ["auc_judd", "cc", "centre_gaussian", "fixation_density", "gaussian_blur", "nss"]


def nss(saliency: np.ndarray, fix_x: np.ndarray, fix_y: np.ndarray) -> float:
    """Normalized scanpath saliency: mean of the standardised map at the fixations."""
    s = np.asarray(saliency, dtype=np.float64)
    std = s.std()
    if std == 0 or len(fix_x) == 0:
        return 0.0
    return float(((s[fix_y, fix_x] - s.mean()) / std).mean())


def auc_judd(saliency: np.ndarray, fix_x: np.ndarray, fix_y: np.ndarray) -> float:
    """AUC-Judd: thresholds at the map values of the fixations; false positives are
    the other pixels above each threshold (Judd et al. 2009, as in the MIT benchmark,
    without its random tie-breaking jitter so results are deterministic)."""
    s = np.asarray(saliency, dtype=np.float64).ravel()
    n_pix = s.size
    at_fix = np.sort(np.asarray(saliency, dtype=np.float64)[fix_y, fix_x])[::-1]
    n_fix = at_fix.size
    if n_fix == 0 or n_pix <= n_fix:
        return 0.5
    ascending = np.sort(s)
    above = n_pix - np.searchsorted(ascending, at_fix, side="left")  # pixels >= threshold
    hits = np.arange(1, n_fix + 1, dtype=np.float64)
    tp = np.concatenate(([0.0], hits / n_fix, [1.0]))
    fp = np.concatenate(([0.0], (above - hits) / (n_pix - n_fix), [1.0]))
    return float(np.sum((fp[1:] - fp[:-1]) * (tp[1:] + tp[:-1]) / 2))


def cc(saliency: np.ndarray, density: np.ndarray) -> float:
    """Pearson correlation between a map and the blurred fixation density."""
    a = np.asarray(saliency, dtype=np.float64).ravel()
    b = np.asarray(density, dtype=np.float64).ravel()
    a = a - a.mean()
    b = b - b.mean()
    denom = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denom) if denom > 0 else 0.0


def _gaussian_matrix(n: int, sigma: float) -> np.ndarray:
    """(n, n) matrix applying a zero-padded 1-D Gaussian blur along one axis."""
    idx = np.arange(n, dtype=np.float64)
    m = np.exp(-0.5 * ((idx[:, None] - idx[None, :]) / sigma) ** 2)
    return m / (sigma * np.sqrt(2 * np.pi))


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur with zero padding (mass near borders is lost, as in the usual toolboxes' 'same' conv)."""
    a = np.asarray(image, dtype=np.float64)
    return _gaussian_matrix(a.shape[0], sigma) @ a @ _gaussian_matrix(a.shape[1], sigma).T


def fixation_density(fix_x: np.ndarray, fix_y: np.ndarray, height: int, width: int,
                     sigma_fraction: float = 0.025) -> np.ndarray:
    """Fixation counts blurred by a Gaussian of sigma = ``sigma_fraction`` x the longer side."""
    counts = np.zeros((height, width), dtype=np.float64)
    np.add.at(counts, (fix_y, fix_x), 1.0)
    return gaussian_blur(counts, sigma_fraction * max(height, width))


def centre_gaussian(height: int, width: int, divisor: float = 4.0) -> np.ndarray:
    """Centred Gaussian with sigma = (width / divisor, height / divisor); 4 is the usual
    fixation baseline, the benchmarks' centred ROI map uses 5."""
    y = (np.arange(height) + 0.5 - height / 2) / (height / divisor)
    x = (np.arange(width) + 0.5 - width / 2) / (width / divisor)
    return np.exp(-0.5 * (y[:, None] ** 2 + x[None, :] ** 2)).astype(np.float32)
