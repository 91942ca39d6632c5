"""The encoders a benchmark compares: plain Pillow, mozjpeg, jpegli and the semantic methods.

Every library method beyond ``blend`` (``METHODS``) joins under its own name, with a
``METHOD-centre`` control that uses a centred Gaussian instead of the map; any other
encoder is one :func:`register` call, e.g.::

    register(Encoder("blend-r3-optimize", semantic_encoder(rule=3, optimize=True), semantic=True))
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .._api import encode_details
from .._options import DEFAULT_RULE, METHODS
from .maps import centre_map

_MOZJPEG = "mozjpeg403"


@dataclass(frozen=True)
class Sample:
    """One test image as every encoder sees it."""

    name: str
    image: Image.Image  # RGB
    pixels: np.ndarray  # uint8 (H, W, 3): the reference for the metrics
    roi: np.ndarray  # float32 (H, W) in [0, 1]: the run's encoding map, also roi_psnr's weights
    slack: float

@dataclass(frozen=True)
class Coded:
    """An encoded file and the JPEG quality it was finally written at."""

    data: bytes
    quality: int | None  # None: a semantic encoder fell back to the plain JPEG

@dataclass(frozen=True)
class Encoder:
    """A named way to make a JPEG of a sample at a nominal quality."""

    name: str
    encode: Callable[[Sample, int], Coded]
    #: Its files are the byte targets of the equal-bytes protocol.
    semantic: bool = False
    #: Re-encoded at the bytes of every semantic file.
    competitor: bool = False
    #: Why it cannot run here, or None when it can (checked once per run).
    unavailable: Callable[[], str | None] = lambda: None


ENCODERS: dict[str, Encoder] = {}


def register(encoder: Encoder) -> Encoder:
    """Add ``encoder`` to the registry (replacing one of the same name) and return it."""
    if "@" in encoder.name:
        raise ValueError(f"encoder names cannot contain '@' (it marks matched rows): {encoder.name!r}")
    ENCODERS[encoder.name] = encoder
    return encoder

def _pillow_encoder(**options: Any) -> Callable[[Sample, int], Coded]:
    def run(sample: Sample, quality: int) -> Coded:
        buf = io.BytesIO()
        sample.image.save(buf, "JPEG", quality=quality, **options)
        return Coded(buf.getvalue(), quality)

    return run

def semantic_encoder(
    rule: int | None = DEFAULT_RULE, method: str = "blend", centre: bool = False, **jpeg: Any
) -> Callable[[Sample, int], Coded]:
    """``encode_details`` with the sample's map (or, with ``centre``, a centred Gaussian)."""

    def run(sample: Sample, quality: int) -> Coded:
        roi = centre_map(*sample.roi.shape) if centre else sample.roi
        result = encode_details(
            sample.image, quality=quality, map=roi, rule=rule, slack=sample.slack, method=method, **jpeg
        )
        return Coded(result.data, result.quality)

    return run

def _mozjpeg_unavailable() -> str | None:
    try:
        import jpeglib
    except ImportError:
        return "jpeglib is not installed (pip install jpeglib)"
    if _MOZJPEG not in jpeglib.version.versions():
        return f"this jpeglib build lacks {_MOZJPEG}"
    return None

def _mozjpeg(sample: Sample, quality: int) -> Coded:
    """mozjpeg 4.0.3 with its defaults (progressive, trellis quantisation, its own tables)."""
    import jpeglib

    # jpeglib only writes files; the folder goes away with the file in it.
    with tempfile.TemporaryDirectory(prefix="msroi-bench-") as tmp:
        path = os.path.join(tmp, "out.jpg")
        with jpeglib.version(_MOZJPEG):
            jpeglib.from_spatial(sample.pixels).write_spatial(path, qt=quality)
        return Coded(Path(path).read_bytes(), quality)


def _jpegli_unavailable() -> str | None:
    try:
        import pyjpegli  # noqa: F401
    except ImportError:
        return "pyjpegli is not installed (pip install pyjpegli)"
    return None


def _jpegli(sample: Sample, quality: int) -> Coded:
    """jpegli (libjxl's JPEG encoder, PyPI ``pyjpegli``) with its defaults: adaptive
    quantization, its own tables, 4:2:0 chroma."""
    import pyjpegli

    rgb = np.ascontiguousarray(sample.pixels)
    return Coded(pyjpegli.encode(rgb.tobytes(), rgb.shape[1], rgb.shape[0], quality), quality)


register(Encoder("jpeg", _pillow_encoder(), competitor=True))
register(Encoder("jpeg-optimize", _pillow_encoder(optimize=True), competitor=True))
register(Encoder("mozjpeg", _mozjpeg, competitor=True, unavailable=_mozjpeg_unavailable))
register(Encoder("jpegli", _jpegli, competitor=True, unavailable=_jpegli_unavailable))
for _rule in range(1, 7):
    register(Encoder(f"blend-r{_rule}", semantic_encoder(rule=_rule), semantic=True))
register(Encoder("blend-centre", semantic_encoder(centre=True), semantic=True))
# Methods beyond the paper's blend (e.g. "dct") join with their centred-map control;
# "auto" is one of the others, so it would only repeat it.
for _method in METHODS:
    if _method not in ("blend", "auto"):
        register(Encoder(_method, semantic_encoder(rule=None, method=_method), semantic=True))
        register(Encoder(f"{_method}-centre", semantic_encoder(rule=None, method=_method, centre=True), semantic=True))
