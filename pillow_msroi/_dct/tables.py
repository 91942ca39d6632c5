"""Quantization tables: one per component kind from a small parametric family over the
radial frequency, scaled by libjpeg's quality law.

``step = s * (1 + a * r**p)`` with ``r = sqrt(u**2 + v**2) / 7``, the DC entry ``s *
LUMA_DC``, chroma a multiple of luma; ``s`` follows libjpeg's quality law, so rate control
searches a quality 1..100 as for libjpeg's tables.  The parameters were fitted for
SSIMULACRA2 at equal bytes on OSIE training images (``bench/perceptual_tune.py``).  An
image whose map favours some blocks takes a flatter luma shape (``LUMA_A_MAP``): the
favoured blocks keep the finer high frequencies, the rest's higher price thins them.
"""

from __future__ import annotations

import numpy as np

from .._budget import law_scale

#: Luma table: DC step and AC steps ``1 + LUMA_A * r ** LUMA_P``, in units of ``s``.
LUMA_DC = 0.71
LUMA_A = 4.2
LUMA_P = 1.5
#: ``LUMA_A`` where a semantic map steers the field: finer high frequencies, which the
#: favoured blocks keep (where people look, fine detail is seen: the steep table's high
#: frequencies cost 0.9 dB fixation-weighted PSNR against 3.0 at Q30, 0.3 dB at Q50)
#: while the others' price thins them.  A map must favour enough blocks (field.favours).
#: 30 OSIE training images, bench/experiments/map_tune.py: see bench/RESULTS.md.
LUMA_A_MAP = 3.0
#: Chroma table: ``CHROMA_SCALE * s * (1 + CHROMA_A * r ** CHROMA_P)``, DC alike.
CHROMA_SCALE = 1.1
CHROMA_A = 3.0
CHROMA_P = 1.5
#: ``s`` at libjpeg scale 100 (quality 50).
BASE_STEP = 16.0

_RADIUS = np.hypot(*np.meshgrid(np.arange(8), np.arange(8), indexing="ij")).ravel() / 7.0


def base_table(chroma: bool, semantic: bool = False) -> np.ndarray:
    """The family's table at libjpeg scale 100 (float, natural order); ``semantic``: the
    luma shape for an image whose map is not uniform (``LUMA_A_MAP``)."""
    if chroma:
        t = CHROMA_SCALE * (1.0 + CHROMA_A * _RADIUS**CHROMA_P)
        t[0] = CHROMA_SCALE * LUMA_DC
    else:
        t = 1.0 + (LUMA_A_MAP if semantic else LUMA_A) * _RADIUS**LUMA_P
        t[0] = LUMA_DC
    return BASE_STEP * t


def quant_table(quality: int, chroma: bool, semantic: bool = False) -> np.ndarray:
    """The table at ``quality`` (libjpeg's scaling law), uint16 natural order, 1..255."""
    scale = law_scale(min(max(int(quality), 1), 100))
    return np.clip(np.floor(base_table(chroma, semantic) * scale / 100.0 + 0.5), 1, 255).astype(np.uint16)
