"""``method="dct"``: a perceptual JPEG encoder whose bits the semantic map steers, one
JPEG stage per module.

The image is transformed once (libjpeg's colour conversion and downsampling, then a float
DCT, or libjpeg's integer DCT on a JPEG source's own grid); each pass quantizes all blocks
with one table per component from a parametric family (a libjpeg-style quality scales
it) by a trellis whose price of a bit is set per block by local masking (texture hides
error, smooth areas show it) times the map's bounded factor.  The file stays one
standard JPEG (baseline, or progressive on request) with optimal Huffman tables.

=================  ==============================================================
``tables``         quantization tables: the parametric family and its quality law
``markers``        header of Pillow's plain file in, the file's markers out
``coefficients``   transform driver (csrc/_transform_cy.pyx), scratch, map means
``field``          the adaptive quantization field: masking times the map
``quantize``       the trellis driver (csrc/_quantize_cy.pyx)
``scans``          scan script, Huffman coding driver (csrc/_entropy_cy.pyx), code lengths
``rate``           rate control over table quality and strength; a source's grid
=================  ==============================================================

The file's structure is taken from Pillow's plain encode of the same image with the
caller's options, which is needed anyway for the budget: its frame header gives the
sampling factors (``subsampling``, ``"keep"`` and libjpeg's default resolved as Pillow
resolves them), component ids and whether it is progressive, its DRI the restart
interval, and its APPn/COM segments (JFIF with dpi, EXIF, ICC profile, XMP, comment,
Adobe) are copied verbatim.  The transform only needs the frame's components, which a
Pillow encode of a 16x16 corner with the same options gives at once, so the image is
transformed while the plain reference is still being encoded.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from .. import _budget, _writer
from .._encoded import Encoded
from .._options import SemanticOptions, dct_unsupported
from .coefficients import Coefficients
from .markers import parse_header
from .field import keep_favoured
from .rate import KEEP_REACH, STRENGTH, Outcome, Passes, keep_control, rate_control

__all__ = ["encode"]


def encode(
    im: Image.Image, small: np.ndarray, options: SemanticOptions, jpeg: dict[str, Any],
    source: list[list[int]] | None = None, strength: float = STRENGTH,
) -> Encoded:
    """Semantic JPEG of ``im`` made in the DCT domain, never larger than Pillow's plain
    JPEG at ``options.quality`` with the options ``jpeg`` times ``1 + options.slack``.

    ``im`` is a private view (:func:`_writer.view`), ``small`` the normalized float32 map
    (any size up to the image's), ``jpeg`` the caller's Pillow options with subsampling
    resolved.  The file is baseline unless the caller asks for ``progressive``.  There are
    no quality layers: ``level_map`` is empty, ``layers`` is (), ``encodes`` counts the
    quantization passes and ``rule`` is None.

    ``source``: the quantization tables of a JPEG source whose subsampling the file keeps.
    Its grid is tried first (:func:`_keep`; ``quality`` is then reported as "keep"); with
    a numeric quality, the encoder's own tables take over where that does not fit.
    """
    unsupported = dct_unsupported(im.mode, jpeg)
    if unsupported:
        raise ValueError(unsupported)
    small = np.ascontiguousarray(small, dtype=np.float32)
    quality = options.quality
    if quality == "keep":
        source = jpeg["qtables"]

    def transform() -> Coefficients:
        corner = _writer.view(im.crop((0, 0, min(im.width, 16), min(im.height, 16))))
        frame = parse_header(_writer.write(corner, _budget.plain_options(jpeg, quality)))
        return Coefficients(im, small, frame, islow=_integer_dct(frame, quality, source))

    reference, coefs = _budget.plain_reference(im, jpeg, quality, options.slack, transform)
    header = parse_header(reference.data)
    if not coefs.fits(header):  # the corner should always agree; never trust it blindly
        coefs = Coefficients(im, small, header, islow=_integer_dct(header, quality, source))
    on_grid = source is not None
    try:
        # A numeric budget takes the source's grid only at the default price: thinning the
        # rest further to fit cost 7 SSIMULACRA2 points against the own tables (Caltech and
        # OSIE JPEGs at Q50, bench/experiments/jpeg_sources.py).
        # ... and only where its file spends most of the budget: a budget well above the
        # source's own is for finer tables.
        reach, fill = (KEEP_REACH, 0.0) if quality == "keep" else (1.0, GRID_FILL)
        out = _keep(coefs, header, source, reference.limit, strength, reach, fill) if on_grid else None
        if quality != "keep" and (out is None or out.data is None):
            on_grid = False
            out = rate_control(Passes(coefs, header), len(reference.data), reference.limit, quality, strength)
    finally:
        coefs.release()
    fallback = out.data is None
    return Encoded(
        data=reference.data if fallback else out.data,
        quality=None if fallback else "keep" if on_grid else out.quality,
        budget=reference.limit,
        plain_bytes=len(reference.data),
        level_map=np.empty((0, 0), dtype=np.uint8),
        layers=(),
        encodes=out.passes,
        rule=None,
        method="dct",
        strength=out.strength,
    )


def _integer_dct(frame: Any, quality: int | str, source: list[list[int]] | None) -> bool | list[bool]:
    """Which components take libjpeg's integer DCT rather than the float one: all on a
    JPEG source's grid (its own levels come back only so); at quality 100, a colour file's
    chroma, where plain rounding then gives plain quality 100's levels (the float DCT's
    were 0.03-0.05 dB worse there, its luma 0.06 dB better: bench/experiments/quality100.py)."""
    if source is not None:
        return True
    comps = frame.components
    if quality == 100 and len(comps) == 3 and frame.adobe_transform != 0:
        return [False, True, True]
    return False


#: A numeric quality takes a JPEG source's grid only where that file (counted at the
#: default price) spends at least this share of the budget.  Grid files measured with
#: encode_details on the first 8 OSIE stimuli and 8 Caltech faces (saved near quality 75)
#: filled 95-98 % of a Q75 budget (a small synthetic source in the tests: 88 %), 67 % of
#: Q90's and 31 % of Q100's: there the grid capped the file at the source's quality,
#: whatever quality was asked.  bench/experiments/jpeg_sources.py --quality 75 90 100: the
#: own tables then gain 3.0 dB at Q90 in the map's top 10 % over plain JPEG.
GRID_FILL = 0.8


#: ``quality="keep"``: the share of blocks (those the map favours most) that keep the
#: source's levels exactly; the rest is thinned at the default price.
KEEP_SHARE = 0.2


def _keep(
    coefs: Coefficients, header: Any, source: list[list[int]], limit: int, strength: float, reach: float, fill: float
) -> Outcome:
    """The source's own tables (luma, chroma; a third table's components take the second,
    as the frame's table ids 0/1 do); the favoured blocks keep its levels."""
    tables = {t: np.asarray(source[min(t, len(source) - 1)], dtype=np.uint16) for t in set(coefs.tables)}
    prices = [keep_favoured(p, m, KEEP_SHARE) for p, m in zip(coefs.prices, coefs.means)]
    return keep_control(Passes(coefs, header, tables, prices), limit, strength, reach, fill)
