"""``encode()``: validate options -> map -> the method's ``encode`` (``_dct`` or ``_blend``)."""

from __future__ import annotations

from typing import Any

from PIL import Image, JpegImagePlugin

from . import _blend, _dct, _roi, _writer
from ._encoded import Encoded
from ._maps import prepare_map
from ._options import (
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


def _source_grid(im: Image.Image, jpeg: dict[str, Any]) -> list[list[int]] | None:
    """A JPEG source's quantization tables when the file keeps its subsampling (so its
    grid is the file's), else None."""
    tables = _source_tables(im)
    if tables is None or im.mode not in ("L", "RGB"):
        return None
    def chroma(subsampling: int) -> int:
        return 2 if subsampling == -1 else subsampling  # -1: libjpeg's default, 4:2:0

    if im.mode == "RGB" and chroma(JpegImagePlugin.get_sampling(im)) != chroma(jpeg.get("subsampling", -1)):
        return None
    return tables


def _source_tables(im: Image.Image) -> list[list[int]] | None:
    """A JPEG source's quantization tables (natural order, by table id), else None."""
    tables = getattr(im, "quantization", None)
    if im.format != "JPEG" or not tables:
        return None
    return [list(tables[k]) for k in sorted(tables)]


def _keep(im: Image.Image, jpeg: dict[str, Any]) -> dict[str, Any]:
    """``quality="keep"``: the JPEG source's own tables and subsampling, as Pillow's plain
    ``quality="keep"`` save takes them (the same file as ``qtables=``, ``subsampling=``)."""
    tables = _source_tables(im)
    if tables is None:
        msg = "Cannot use 'keep' when original image is not a JPEG"
        raise ValueError(msg)
    return {**jpeg, "qtables": tables, "subsampling": JpegImagePlugin.get_sampling(im)}


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
    _writer.check_mode(image)
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
        return _roi.encoding_map(im)
    except ImportError as exc:  # onnxruntime, imported on the first use of the network
        msg = f"semantic encoding without a map needs the MSROI network: {exc}; or pass a map (semantic_map= / map= / --map)"
        raise OSError(msg) from exc


#: Every method: ``encode(view, map, options, jpeg) -> Encoded``.
METHODS = {"dct": _dct.encode, "blend": _blend.encode}


def encode_image(
    im: Image.Image, options: SemanticOptions, map_: Any, jpeg: dict[str, Any]
) -> Encoded:
    """The pipeline for already validated options (shared by ``encode`` and the save hook)."""
    _check_image(im)
    w, h = im.size
    options = options.resolve(im.mode, jpeg)
    jpeg = {**jpeg, "subsampling": _resolve_subsampling(im, jpeg)}
    if options.quality == "keep":
        jpeg = _keep(im, jpeg)
    small = prepare_map(_network_map(im) if map_ is None else map_, w, h)
    return METHODS[options.method](_writer.view(im), small, options, jpeg, _source_grid(im, jpeg))
