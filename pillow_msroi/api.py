"""``encode()``: validate options -> map -> levels -> blend -> budgeted final encode."""

from __future__ import annotations

import math
from concurrent.futures import wait
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, JpegImagePlugin

from . import blend, budget, dct, levels, maps, pool, roi, writer
from .options import (
    DEFAULT_METHOD,
    DEFAULT_QUALITY,
    DEFAULT_SLACK,
    JPEG_OPTIONS,
    SUBSAMPLING_NAMES,
    SemanticOptions,
    check_jpeg_options,
    check_method,
    check_quality,
    check_rule,
    check_slack,
)


@dataclass(frozen=True)
class Encoded:
    """A semantic JPEG and how it was made."""

    data: bytes
    #: Quality of the final encode; None when nothing fit and ``data`` is the plain JPEG.
    quality: int | None
    #: Largest allowed size: plain JPEG at the caller's quality times (1 + slack).
    budget: int
    #: Size of that plain JPEG.
    plain_bytes: int
    #: uint8 (height, width) level of every pixel, 1..9 = JPEG layer Q20..Q100.
    level_map: np.ndarray
    #: Qualities of the layers that were encoded and blended.
    layers: tuple[int, ...]
    #: Final-quality encodes the budget search needed (blend: at most 8; dct: passes).
    encodes: int
    #: Selection rule used (blend); None for dct.
    rule: int | None
    #: The method that ran ("blend" or "dct"; "auto" is resolved).
    method: str
    #: method="dct": multiplier of every block's price of a bit (1: perceptual.PRICE); else None.
    strength: float | None = None

    @property
    def fallback(self) -> bool:
        """True when even quality 1 exceeded the budget and the plain JPEG was returned."""
        return self.quality is None


def encode(
    image: Image.Image,
    *,
    quality: int = DEFAULT_QUALITY,
    map: Any = None,
    rule: int | None = None,
    slack: float = DEFAULT_SLACK,
    method: str = DEFAULT_METHOD,
    **jpeg_options: Any,
) -> bytes:
    """Semantic JPEG of ``image`` as bytes, never larger than plain JPEG at ``quality``
    times ``1 + slack``.

    ``map`` is a 2-D array or a mode L/F image of any size whose larger values mark the
    regions that deserve the bytes; without it the MSROI network makes one.  ``method``
    is "auto" (DCT-domain quantization, or the paper's blend where only it applies),
    "dct" or "blend"; ``rule`` picks one of the paper's six selection rules and implies
    the blend under "auto".  Other keywords are Pillow's JPEG save
    options (subsampling, optimize, progressive, exif, icc_profile, dpi, comment,
    restart_marker_blocks, restart_marker_rows, ...) and apply to the plain reference and
    the final file alike.
    """
    return encode_details(
        image, quality=quality, map=map, rule=rule, slack=slack, method=method, **jpeg_options
    ).data


def encode_details(
    image: Image.Image,
    *,
    quality: int = DEFAULT_QUALITY,
    map: Any = None,
    rule: int | None = None,
    slack: float = DEFAULT_SLACK,
    method: str = DEFAULT_METHOD,
    **jpeg_options: Any,
) -> Encoded:
    """Like :func:`encode`, returning the file with its final quality, budget and level map."""
    unknown = sorted(set(jpeg_options) - JPEG_OPTIONS - {"qtables"})
    if unknown:
        msg = f"encode() got an unexpected keyword argument {unknown[0]!r}"
        raise TypeError(msg)
    options = SemanticOptions(
        quality=check_quality(quality),
        rule=check_rule(rule, "rule"),
        slack=check_slack(slack, "slack"),
        method=check_method(method, "method"),
    )
    return encode_image(image, options, map, check_jpeg_options(dict(jpeg_options)))


def _resolve_subsampling(im: Image.Image, jpeg: dict[str, Any]) -> int:
    """Pillow's subsampling option as 0/1/2 or -1 (libjpeg default), 'keep' resolved."""
    value = jpeg.get("subsampling", -1)
    if value == "keep":
        if im.format != "JPEG":
            msg = "Cannot use 'keep' when original image is not a JPEG"
            raise ValueError(msg)
        value = JpegImagePlugin.get_sampling(im)
    return SUBSAMPLING_NAMES.get(value, value)


#: libjpeg's limit on each side (JPEG_MAX_DIMENSION); Pillow reports it only as a broken stream.
JPEG_MAX_SIDE = 65500


def _check_image(image: Any) -> None:
    if not isinstance(image, Image.Image):
        msg = f"image must be a PIL.Image.Image, got {type(image).__name__}; open files with PIL.Image.open"
        raise TypeError(msg)
    writer.check_mode(image)
    w, h = image.size
    if w < 1 or h < 1:
        msg = f"cannot write empty image ({w}x{h})"
        raise ValueError(msg)
    if w > JPEG_MAX_SIDE or h > JPEG_MAX_SIDE:
        msg = f"cannot write a {w}x{h} image as JPEG: libjpeg allows at most {JPEG_MAX_SIDE} pixels per side; resize or tile it"
        raise OSError(msg)


def _network_map(im: Image.Image) -> np.ndarray:
    # The network's map at its own resolution: the kernels stretch it on the fly.
    try:
        return roi.encoding_map(im)
    except ImportError as exc:  # onnxruntime, imported on the first use of the network
        msg = f"semantic encoding without a map needs the MSROI network: {exc}; or pass a map (semantic_map= / map= / --map)"
        raise OSError(msg) from exc


def encode_image(
    im: Image.Image, options: SemanticOptions, map_: Any, jpeg: dict[str, Any]
) -> Encoded:
    """The pipeline for already validated options (shared by ``encode`` and the save hook)."""
    _check_image(im)
    w, h = im.size
    options = options.resolve(im.mode, jpeg)
    subsampling = _resolve_subsampling(im, jpeg)
    jpeg = {**jpeg, "subsampling": subsampling}
    source = writer.view(im)
    small = maps.prepare(_network_map(im) if map_ is None else map_, w, h)
    if options.method == "dct":
        return _encode_dct(source, small, options, jpeg)
    level_map = levels.assign(small, h, w, options.rule)

    # The plain reference encodes while the layers are being made.
    plain_job = pool.shared().submit(writer.write, source, {**jpeg, "quality": options.quality})
    try:
        blended, layers = blend.blend(source, level_map, subsampling)
    finally:
        wait([plain_job])  # not left running past an error either
    plain = plain_job.result()
    limit = math.floor(len(plain) * (1.0 + options.slack))
    final = blend.to_image(blend.layout_of(im.mode), blended)
    final.info = dict(source.info)
    fit = budget.highest_quality_within(
        lambda q: writer.write(final, {**jpeg, "quality": q}), limit, guess=options.quality
    )
    data = fit.data if fit.data is not None else plain
    return Encoded(
        data=data,
        quality=fit.quality,
        budget=limit,
        plain_bytes=len(plain),
        level_map=level_map,
        layers=layers,
        encodes=fit.encodes,
        rule=options.rule,
        method=options.method,
    )


def _encode_dct(source: Image.Image, small: np.ndarray, options: SemanticOptions, jpeg: dict[str, Any]) -> Encoded:
    """method="dct": one table per component, bits priced per block by masking and the map
    (see dct.py and perceptual.py).

    There are no quality layers: ``level_map`` is empty, ``layers`` is (), ``encodes``
    counts the quantization passes and ``rule`` is not used.
    """
    fit = dct.encode_dct(source, small, options.quality, options.slack, jpeg)
    return Encoded(
        data=fit.data,
        quality=fit.quality,
        budget=fit.budget,
        plain_bytes=fit.plain_bytes,
        level_map=np.empty((0, 0), dtype=np.uint8),
        layers=(),
        encodes=fit.encodes,
        rule=options.rule,
        method=options.method,
        strength=fit.strength,
    )
