"""``msroi``: compress images semantically, and show the network's maps, from the shell.

``compress`` is a thin layer over ``pillow_msroi._batch`` (and :mod:`pillow_msroi.dask`
with ``--dask``): finding files, naming outputs, the atomic write and the manifest rows
live there, usable from Python as well.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from . import __version__
from . import _batch as batch
from ._batch import atomic_output
from ._maps import prepare_map
from ._options import DEFAULT_METHOD, DEFAULT_QUALITY, DEFAULT_RULE, DEFAULT_SLACK, MAX_SLACK, METHODS
from ._roi import ENCODING_GAMMA, KINDS, encoding_map, roi_map
from ._stretch_cy import upsample_bilinear
from .eval import cli as eval_cli

class CliError(Exception):
    """A problem with the arguments or one output, reported with exit status 2."""


def _bounded(kind: Callable[[str], Any], lo: float | None, hi: float | None, what: str) -> Callable[[str], Any]:
    """An argparse type: ``kind`` of the text, within lo..hi, else a message saying so."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if (lo is not None and value < lo) or (hi is not None and value > hi) or value != value:
            raise argparse.ArgumentTypeError(f"{text} is not {what}")
        return value

    return parse


def _jpeg_name(text: str) -> str:
    try:
        return batch.check_output_name(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _manifest_name(text: str) -> str:
    try:
        batch.manifest_format(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="msroi", description="Content-aware JPEG for Pillow.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    c = sub.add_parser(
        "compress", help="encode images, folders and glob patterns as semantic JPEGs",
        description="Encode images as semantic JPEGs. Outputs that exist are skipped (pass --force), so an "
        "interrupted run resumes; the exit status is 0 only if no file failed.",
    )
    c.add_argument("inputs", nargs="+", metavar="IN", help="image files, folders (their images; -r: subfolders too) and glob patterns such as 'photos/**/*.png'")
    c.add_argument("-r", "--recursive", action="store_true", help="take the images of folders' subfolders too")
    dest = c.add_mutually_exclusive_group(required=True)
    dest.add_argument("-o", "--output", metavar="OUT", type=_jpeg_name, help="output file (one input only), named .jpg, .jpeg, .jpe or .jfif")
    dest.add_argument("--out-dir", metavar="DIR", help="folder for the outputs (created), mirroring the input folders, named with .jpg")
    c.add_argument("--quality", type=_bounded(int, 1, 100, "an integer quality 1..100"), default=DEFAULT_QUALITY, help="quality of the plain JPEG that sets the byte budget, 1..100 (default %(default)s)")
    c.add_argument("--rule", type=int, choices=range(1, 7), help=f"selection rule 1..6 of the blend (default {DEFAULT_RULE}; implies --method blend under auto)")
    c.add_argument("--slack", type=_bounded(float, 0.0, MAX_SLACK, f"a fraction 0..{MAX_SLACK:g}"), default=DEFAULT_SLACK, help="extra bytes allowed over plain JPEG, as a fraction (default %(default)s)")
    c.add_argument("--method", default=DEFAULT_METHOD, choices=METHODS, help="encoding method (default %(default)s: dct where it applies)")
    c.add_argument("--map", metavar="MAP", help="region-of-interest map image (one input only); default: the MSROI network")
    c.add_argument("--subsampling", choices=batch.SUBSAMPLINGS, help="chroma subsampling (default: Pillow's)")
    c.add_argument("--optimize", action="store_true", help="optimized Huffman tables")
    c.add_argument("--progressive", action="store_true", help="progressive JPEG")
    c.add_argument("--force", action="store_true", help="overwrite existing outputs (and allow an output to be an input)")
    c.add_argument(
        "--max-pixels", type=_bounded(int, 1, None, "a positive number of pixels"), metavar="N",
        help=f"largest input accepted, in pixels (default: Pillow's decompression-bomb limit, {Image.MAX_IMAGE_PIXELS:,})",
    )
    c.add_argument("-j", "--jobs", type=_bounded(int, 1, None, "a positive number of processes"), metavar="N",
                   help=f"worker processes, each loading the network once (default: the CPU count, {os.cpu_count()})")
    c.add_argument("-q", "--quiet", action="store_true", help="no progress and no summary; errors are still printed")
    c.add_argument("--manifest", metavar="FILE", type=_manifest_name,
                   help="write one row per file (input, output, status, bytes, plain JPEG bytes, quality, method, seconds, error) to FILE.csv or FILE.jsonl")
    c.add_argument("--dask", metavar="SCHEDULER", help="run on a Dask cluster (address such as tcp://host:8786; needs pillow-msroi[dask]); IN and --out-dir may be fsspec URLs (s3://...)")
    m = sub.add_parser(
        "map", help="save the map the encoder uses for an image (or the network's raw map) and a heat-map overlay",
        description=f"Save the region-of-interest map of an image as an 8-bit grey image. By default it is the map "
        f"the encoder uses: the network's map raised to the power {ENCODING_GAMMA} and normalized, stretched to the "
        "image; --raw saves the network's own map instead (sharply peaked, mostly dark).",
    )
    m.add_argument("input", metavar="IN", help="an image Pillow can open")
    m.add_argument("-o", "--output", metavar="MAP", required=True, help="the map as an 8-bit grey image (PNG by its name)")
    m.add_argument("--overlay", metavar="OVERLAY", help="also save the map as a heat map over the photo")
    m.add_argument("--raw", action="store_true", help="the network's raw map (as roi_map() returns it) instead of the encoding map")
    m.add_argument("--kind", default="default", choices=KINDS, help="which map of the network (default: the model's default)")
    m.add_argument("--alpha", type=_bounded(float, 0.0, 1.0, "an opacity 0..1"), default=0.5, help="opacity of the heat map in the overlay, 0..1 (default %(default)s)")
    m.add_argument("--force", action="store_true", help="allow overwriting the input file")
    m.add_argument("--max-pixels", type=_bounded(int, 1, None, "a positive number of pixels"), metavar="N", help="largest input accepted, in pixels (default: Pillow's limit)")
    c.set_defaults(func=_compress)
    m.set_defaults(func=_map)
    eval_cli.add_parsers(sub)
    return parser


def _options(args: argparse.Namespace) -> batch.SaveOptions:
    try:
        map_ = batch.read_map(args.map) if args.map is not None else None
        return batch.SaveOptions(
            quality=args.quality, method=args.method, rule=args.rule, slack=args.slack, map=map_,
            subsampling=args.subsampling, optimize=args.optimize, progressive=args.progressive,
            max_pixels=args.max_pixels,
        )
    except (OSError, ValueError, TypeError) as exc:
        raise CliError(f"--map {args.map}: {exc}" if args.map is not None else str(exc)) from exc


def _plan(args: argparse.Namespace, options: batch.SaveOptions) -> tuple[list[batch.Job], Iterator[batch.Row]]:
    try:
        if args.dask is not None:
            if args.jobs is not None:
                raise CliError("--jobs is for local processes; with --dask the cluster's workers do the work")
            if args.out_dir is None:
                raise CliError("--dask writes to --out-dir (a folder or an fsspec URL such as s3://bucket/out)")
            from . import dask as msroi_dask

            jobs = msroi_dask.plan(args.inputs, args.out_dir, recursive=args.recursive, force=args.force)
            _check_map(args, jobs)
            return jobs, msroi_dask.run(jobs, options, scheduler=args.dask, force=args.force)
        sources = batch.discover(args.inputs, recursive=args.recursive, exclude=args.out_dir)
        jobs = batch.plan(sources, output=args.output, out_dir=args.out_dir, force=args.force)
    except (batch.BatchError, ImportError) as exc:
        raise CliError(str(exc)) from exc
    _check_map(args, jobs)
    return jobs, batch.run(jobs, options, processes=args.jobs, force=args.force)


def _check_map(args: argparse.Namespace, jobs: list[batch.Job]) -> None:
    if args.map is not None and len(jobs) != 1:
        raise CliError(f"--map belongs to one image, but the inputs name {len(jobs)} files; pass one input with it")


class _Progress:
    """A tqdm bar with rate and ETA on a terminal (when tqdm is installed), one line per
    file otherwise, nothing with --quiet.  Errors always go to stderr."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total, self.done, self.quiet, self.bar = total, 0, quiet, None
        if not quiet and sys.stderr.isatty():
            try:
                from tqdm import tqdm
            except ImportError:  # the [cli] extra; plain lines do without it
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(total=total, unit="img", file=sys.stderr, dynamic_ncols=True, smoothing=0.1)

    def __call__(self, row: batch.Row) -> None:
        self.done += 1
        if row.status == "failed":
            message = f"msroi: error: {row.line()}"
            if self.bar is not None:
                self.bar.write(message, file=sys.stderr)
            else:
                print(message, file=sys.stderr, flush=True)
        elif self.bar is None and not self.quiet:
            print(f"[{self.done}/{self.total}] {row.line()}", flush=True)
        if self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _compress(args: argparse.Namespace) -> int:
    options = _options(args)
    jobs, rows = _plan(args, options)
    summary = batch.Summary()
    progress = _Progress(len(jobs), args.quiet)
    t0 = time.perf_counter()
    manifest_file = None
    try:
        if args.manifest is not None:
            try:
                Path(args.manifest).parent.mkdir(parents=True, exist_ok=True)
                manifest_file = open(args.manifest, "w", newline="", encoding="utf-8")
            except OSError as exc:
                raise CliError(f"--manifest {args.manifest}: cannot write ({exc.strerror or exc})") from exc
        manifest = batch.Manifest(manifest_file, batch.manifest_format(args.manifest)) if manifest_file else None
        try:
            for row in rows:
                summary.add(row)
                progress(row)
                if manifest is not None:
                    manifest.write(row)
        except (OSError, ValueError) as exc:  # the cluster cannot be reached, say
            raise CliError(str(exc)) from exc
    finally:
        progress.close()
        if manifest_file is not None:
            manifest_file.close()
    summary.seconds = time.perf_counter() - t0
    if not args.quiet:
        print(f"msroi: {summary.text()}", flush=True)
    return 1 if summary.failed else 0


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


def shown_map(im: Image.Image, kind: str = "default", raw: bool = False) -> np.ndarray:
    """The map ``msroi map`` shows, float32 (height, width) in [0, 1]: by default the one
    the encoder uses without a map (``encoding_map``, normalized and stretched over the
    image bilinearly, as the encoder's kernels stretch it); ``raw``: ``roi_map()``."""
    if raw:
        return roi_map(im, kind=kind)
    small = prepare_map(encoding_map(im, kind=kind), im.width, im.height)
    return upsample_bilinear(small, im.height, im.width)


def _map(args: argparse.Namespace) -> int:
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
    try:
        im, _ = batch.open_image(src, str(src), args.max_pixels)
    except batch.InputError as exc:
        raise CliError(f"{src}: {exc}") from exc
    try:
        roi = shown_map(im, args.kind, args.raw)
    except (ValueError, TypeError, OSError, ImportError) as exc:
        raise CliError(f"{src}: {exc}") from exc
    grey = Image.fromarray((roi * 255.0 + 0.5).astype(np.uint8), "L")
    _save_image_atomic(grey, outputs[0], "-o")
    label = f"raw network map ({args.kind})" if args.raw else f"encoding map ({args.kind} network map ** {ENCODING_GAMMA})"
    line = f"{src} -> {outputs[0]}: {label}, mean {float(roi.mean()):.3f}"
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
