"""``msroi``: compress images semantically, and show the network's maps, from the shell.

Outputs are written atomically (temporary file in the target folder, then rename), so an
error or Ctrl-C never leaves a half file, and an input is never overwritten without
``--force``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from . import __version__
from ._api import encode_details
from ._maps import MAP_MODES, as_map_array
from ._modes import is_wide, wide_to_l
from ._options import DEFAULT_METHOD, DEFAULT_QUALITY, DEFAULT_RULE, DEFAULT_SLACK, METHODS
from ._roi import KINDS, roi_map
from .eval import cli as eval_cli


class CliError(Exception):
    """A problem with one input or output, reported and skipped."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="msroi", description="Content-aware JPEG for Pillow.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    c = sub.add_parser("compress", help="encode images as semantic JPEGs")
    c.add_argument("inputs", nargs="+", metavar="IN", help="images Pillow can open")
    dest = c.add_mutually_exclusive_group(required=True)
    dest.add_argument("-o", "--output", metavar="OUT", help="output file (one input only)")
    dest.add_argument("--out-dir", metavar="DIR", help="folder for the outputs, named IN's stem + .jpg")
    c.add_argument("--quality", type=int, default=DEFAULT_QUALITY, help="quality of the plain JPEG that sets the byte budget (default %(default)s)")
    c.add_argument("--rule", type=int, choices=range(1, 7), help=f"selection rule 1..6 of the blend (default {DEFAULT_RULE}; implies --method blend under auto)")
    c.add_argument("--slack", type=float, default=DEFAULT_SLACK, help="extra bytes allowed over plain JPEG, as a fraction (default %(default)s)")
    c.add_argument("--method", default=DEFAULT_METHOD, choices=METHODS, help="encoding method (default %(default)s: dct where it applies)")
    c.add_argument("--map", metavar="MAP", help="region-of-interest map image (one input only); default: the MSROI network")
    c.add_argument("--subsampling", choices=("4:4:4", "4:2:2", "4:2:0"), help="chroma subsampling (default: Pillow's)")
    c.add_argument("--optimize", action="store_true", help="optimized Huffman tables")
    c.add_argument("--progressive", action="store_true", help="progressive JPEG")
    c.add_argument("--force", action="store_true", help="allow overwriting an input file")
    c.add_argument(
        "--max-pixels", type=int, metavar="N",
        help=f"largest input accepted, in pixels (default: Pillow's decompression-bomb limit, {Image.MAX_IMAGE_PIXELS:,})",
    )
    m = sub.add_parser("map", help="save the MSROI network's map of an image (and a heat-map overlay)")
    m.add_argument("input", metavar="IN", help="an image Pillow can open")
    m.add_argument("-o", "--output", metavar="MAP", required=True, help="the map as an 8-bit grey image (PNG by its name)")
    m.add_argument("--overlay", metavar="OVERLAY", help="also save the map as a heat map over the photo")
    m.add_argument("--kind", default="default", choices=KINDS, help="which map of the network (default: the model's default)")
    m.add_argument("--alpha", type=float, default=0.5, help="opacity of the heat map in the overlay, 0..1 (default %(default)s)")
    m.add_argument("--force", action="store_true", help="allow overwriting the input file")
    m.add_argument("--max-pixels", type=int, metavar="N", help="largest input accepted, in pixels (default: Pillow's limit)")
    c.set_defaults(func=_compress)
    m.set_defaults(func=_map)
    eval_cli.add_parsers(sub)
    return parser


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` that replaces it only if the block succeeds."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_atomic(path: Path, data: bytes) -> None:
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def _jpeg_ready(im: Image.Image) -> Image.Image:
    """Images JPEG cannot hold as they are (alpha, palette, 16-bit) become RGB or L."""
    if im.mode in ("1", "L", "RGB", "CMYK", "YCbCr"):
        return im
    if is_wide(im.mode):
        return wide_to_l(im)
    if "A" in im.getbands() or im.mode == "P" and "transparency" in im.info:
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("L" if im.mode == "LA" else "RGB")
    return im.convert("RGB")


def _targets(args: argparse.Namespace) -> list[tuple[Path, Path]]:
    inputs = [Path(p) for p in args.inputs]
    if args.output is not None:
        if len(inputs) != 1:
            raise CliError("-o/--output takes one input; use --out-dir for several")
        pairs = [(inputs[0], Path(args.output))]
    else:
        out_dir = Path(args.out_dir)
        if not out_dir.is_dir():
            raise CliError(f"--out-dir {out_dir} is not a folder; create it first")
        pairs = [(p, out_dir / f"{p.stem}.jpg") for p in inputs]
        names = [o for _, o in pairs]
        if len(set(names)) != len(names):
            raise CliError("two inputs would be written to the same output name; use separate runs")
    if args.map is not None and len(inputs) != 1:
        raise CliError("--map belongs to one image; pass one input with it")
    resolved = {p.resolve() for p in inputs}
    for _, out in pairs:
        if out.resolve() in resolved and not args.force:
            raise CliError(f"{out} is an input; refusing to overwrite it (pass --force)")
    return pairs


def _open(src: Path, max_pixels: int | None) -> tuple[Image.Image, dict]:
    """Read an input fully; images above the decompression-bomb limit are refused.

    Pillow itself only warns between its limit and twice that; the CLI refuses all of it
    unless the user raises the limit, and checks the size before any pixel is decoded.
    """
    limit = Image.MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        with Image.open(src) as opened:
            pixels = opened.width * opened.height
            if limit is not None and pixels > limit:
                msg = (
                    f"{src}: {opened.width}x{opened.height} is {pixels:,} pixels, more than the limit of "
                    f"{limit:,} (Pillow's decompression-bomb guard); pass --max-pixels to allow it"
                )
                raise CliError(msg)
            opened.load()
            return _jpeg_ready(opened), dict(opened.info)
    except (OSError, SyntaxError, ValueError) as exc:
        raise CliError(f"{src}: cannot read as an image ({exc})") from exc
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def _compress_one(src: Path, out: Path, args: argparse.Namespace, map_) -> str:
    im, info = _open(src, args.max_pixels)
    jpeg = {k: info[k] for k in ("exif", "icc_profile", "dpi") if info.get(k)}
    if args.subsampling:
        jpeg["subsampling"] = args.subsampling
    if args.optimize:
        jpeg["optimize"] = True
    if args.progressive:
        jpeg["progressive"] = True
    try:
        result = encode_details(
            im, quality=args.quality, map=map_, rule=args.rule, slack=args.slack, method=args.method, **jpeg
        )
    except (ValueError, TypeError, OSError) as exc:
        raise CliError(f"{src}: {exc}") from exc
    try:
        write_atomic(out, result.data)
    except OSError as exc:
        raise CliError(f"{out}: cannot write ({exc.strerror or exc})") from exc
    size = len(result.data)
    change = 100.0 * (size - result.plain_bytes) / result.plain_bytes
    final = f"q{result.quality}" if result.quality is not None else "plain (nothing smaller fit)"
    return f"{src} -> {out}: {size:,} bytes, plain JPEG q{args.quality} {result.plain_bytes:,} ({change:+.1f} %), final {final}"


def _compress(args: argparse.Namespace) -> int:
    pairs = _targets(args)
    map_ = None
    if args.map is not None:
        try:
            with Image.open(args.map) as m:
                map_ = as_map_array(m if m.mode in MAP_MODES else m.convert("L"), "--map")
        except OSError as exc:
            raise CliError(f"--map {args.map}: cannot read as an image ({exc})") from exc
        except ValueError as exc:
            raise CliError(str(exc)) from exc
    failed = 0
    for src, out in pairs:
        try:
            print(_compress_one(src, out, args, map_), flush=True)
        except CliError as exc:
            print(f"msroi: error: {exc}", file=sys.stderr, flush=True)
            failed += 1
    return 1 if failed else 0


def heat_colors(values: np.ndarray) -> np.ndarray:
    """uint8 RGB of a [0, 1] map: dark blue -> cyan -> yellow -> red, like the usual "jet"."""
    anchors = np.array([0.0, 0.35, 0.65, 1.0])
    rgb = np.array([[0, 0, 128], [0, 200, 255], [255, 230, 0], [220, 0, 0]], dtype=np.float64)
    v = np.clip(values, 0.0, 1.0)
    out = np.stack([np.interp(v, anchors, rgb[:, c]) for c in range(3)], axis=-1)
    return (out + 0.5).astype(np.uint8)


def _save_image_atomic(im: Image.Image, path: Path, label: str) -> None:
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise CliError(f"{label} {path}: unknown image extension; use e.g. .png")
    try:
        with atomic_output(path) as tmp:
            im.save(tmp, format=fmt)
    except (OSError, ValueError, KeyError) as exc:
        raise CliError(f"{label} {path}: cannot write ({exc})") from exc


def _map(args: argparse.Namespace) -> int:
    if not 0.0 <= args.alpha <= 1.0:
        raise CliError(f"--alpha must be in 0..1, got {args.alpha}")
    src = Path(args.input)
    outputs = [Path(args.output)] + ([Path(args.overlay)] if args.overlay else [])
    if len({o.resolve() for o in outputs}) != len(outputs):
        raise CliError("-o and --overlay name the same file")
    for out in outputs:
        if out.resolve() == src.resolve() and not args.force:
            raise CliError(f"{out} is the input; refusing to overwrite it (pass --force)")
    for out in outputs:  # checked before the network runs, so nothing is half done
        if Image.registered_extensions().get(out.suffix.lower()) is None:
            raise CliError(f"{out}: unknown image extension; use e.g. .png")
    im, _ = _open(src, args.max_pixels)
    try:
        roi = roi_map(im, kind=args.kind)
    except (ValueError, TypeError, OSError, ImportError) as exc:
        raise CliError(f"{src}: {exc}") from exc
    grey = Image.fromarray((roi * 255.0 + 0.5).astype(np.uint8), "L")
    _save_image_atomic(grey, outputs[0], "-o")
    line = f"{src} -> {outputs[0]}: {args.kind} map, mean {float(roi.mean()):.3f}"
    if args.overlay:
        photo = np.asarray(im.convert("RGB"), dtype=np.float64)
        blended = (1.0 - args.alpha) * photo + args.alpha * heat_colors(roi)
        _save_image_atomic(Image.fromarray((blended + 0.5).astype(np.uint8), "RGB"), outputs[1], "--overlay")
        line += f"; overlay {outputs[1]}"
    print(line, flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except CliError as exc:
        print(f"msroi: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("msroi: interrupted; no partial output was left", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
