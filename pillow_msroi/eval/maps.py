"""Maps for the benchmarks: the network's (as scored, or as the encoder uses it), a
centred Gaussian, and the spectral residual."""

from __future__ import annotations

import functools

import numpy as np
from PIL import Image

from .._maps import normalize
from .saliency import centre_gaussian

#: Maps ``bench --map-kind`` accepts (the same names as ``bench-maps --maps`` minus variants).
MAP_KINDS = ("network", "centre", "spectral")


@functools.lru_cache(maxsize=8)
def centre_map(height: int, width: int) -> np.ndarray:
    return centre_gaussian(height, width)


def spectral_residual(image: Image.Image | np.ndarray, *, side: int = 64, sigma: float = 2.5) -> np.ndarray:
    """Spectral residual saliency (Hou & Zhang, CVPR 2007), float32 (H, W) in [0, 1].

    The grey image is shrunk so its longer side is ``side`` pixels; the log amplitude
    spectrum minus its 3x3 local mean (the "residual", what the average natural-image
    spectrum does not predict) is recombined with the original phase; the squared inverse
    transform is smoothed by a Gaussian of ``sigma`` small-image pixels (2.5, as in the
    authors' released code; the paper's text says 8) and stretched back to full size.
    """
    from scipy import ndimage  # scipy is slow to import; only this and the metrics need it

    im = Image.fromarray(np.asarray(image)) if isinstance(image, np.ndarray) else image
    width, height = im.size
    scale = side / max(width, height)
    small_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    grey = np.asarray(im.convert("L").resize(small_size, Image.BILINEAR), dtype=np.float64)
    spectrum = np.fft.fft2(grey)
    # The epsilon keeps log finite for exactly zero coefficients (flat synthetic images).
    log_amplitude = np.log(np.abs(spectrum) + 1e-12)
    residual = log_amplitude - ndimage.uniform_filter(log_amplitude, size=3, mode="nearest")
    saliency = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))) ** 2
    saliency = ndimage.gaussian_filter(saliency, sigma, mode="nearest")
    full = Image.fromarray(saliency.astype(np.float32), "F").resize((width, height), Image.BILINEAR)
    return normalize(np.asarray(full, dtype=np.float32))

def _network_map(image: Image.Image, kind: str = "default") -> np.ndarray:
    from .._roi import roi_map

    return np.asarray(roi_map(image, kind=kind), dtype=np.float32)

def _network_encoding_map(image: Image.Image, kind: str = "default") -> np.ndarray:
    from .._roi import encoding_map
    from .._stretch_cy import upsample_bilinear

    return upsample_bilinear(encoding_map(image, kind=kind), image.height, image.width)

def map_for(kind: str, image: Image.Image, encoding: bool = False) -> np.ndarray:
    """The ``kind`` map of ``image`` at its size; the network may raise OSError/ImportError.

    With ``encoding``, a network map is the one ``semantic=True`` encodes with by default
    (``roi.encoding_map``, flattened by ``ENCODING_GAMMA``), stretched to the image;
    without, it is ``roi_map`` itself, the map scored against fixations.
    """
    if kind == "centre":
        return centre_map(image.height, image.width)
    if kind == "spectral":
        return spectral_residual(image)
    if kind == "network" or kind.startswith("network-"):
        net_kind = kind.removeprefix("network-") if kind != "network" else "default"
        return _network_encoding_map(image, net_kind) if encoding else _network_map(image, net_kind)
    raise ValueError(f"unknown map kind {kind!r}")

def _network_unavailable_message(exc: BaseException) -> str:
    return (
        f"the MSROI network is not available ({exc}); "
        "pass --map-kind centre (or spectral) to benchmark with a map that needs no model"
    )
