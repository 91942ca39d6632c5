"""The ``bench`` and ``bench-maps`` subcommands of ``msroi``.

Importing this module is cheap (no scipy, matplotlib or jpeglib): the commands import
what they need when they run, and say which extra to install when it is missing.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import io
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .._options import DEFAULT_SLACK
from .._roi import KINDS
from . import BenchError
from .encoders import ENCODERS
from .maps import MAP_KINDS
from .fixations import DATASET_TITLES, DEFAULT_MAPS, bench_maps
from .runner import CURVE_QUALITIES, DEFAULT_QUALITIES, run_bench

#: What ``msroi bench`` imports beyond the runtime dependencies: the ``bench`` extra.
_BENCH_MODULES = ("scipy",)


def _require_bench_extra() -> None:
    missing = [m for m in _BENCH_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        raise BenchError(
            f"the benchmarks need {', '.join(missing)}, which is not installed: "
            "pip install 'pillow-msroi[bench]'"
        )


def _qualities(text: str) -> int:
    q = int(text)
    if not 1 <= q <= 100:
        raise argparse.ArgumentTypeError(f"quality must be 1..100, got {q}")
    return q

def _positive(text: str) -> int:
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n

def _png_name(text: str) -> Path:
    if Path(text).suffix.lower() != ".png":
        raise argparse.ArgumentTypeError(f"{text}: the comparison is a PNG; give a .png name")
    return Path(text)


def _add_compare(subparsers: Any) -> None:
    c = subparsers.add_parser(
        "compare", help="one PNG: original, plain JPEG at equal bytes and semantic JPEG, with 2x crops"
    )
    c.add_argument("input", metavar="IN", type=Path, help="an image Pillow can open")
    c.add_argument("-o", "--output", type=_png_name, metavar="OUT.png",
                   help="the picture (default: IN's name + _compare.png, in the current folder)")  # fmt: skip
    c.add_argument("--quality", type=_qualities, default=75, help="quality that sets the byte budget (default %(default)s)")
    c.add_argument("--map", metavar="MAP", help="region-of-interest map image (default: the MSROI network)")
    c.add_argument("--method", default="auto", choices=("auto", "dct", "blend"), help="semantic method (default %(default)s)")
    c.set_defaults(func=_cmd_compare)


def add_parsers(subparsers: Any) -> None:
    """Add the ``bench``, ``bench-maps`` and ``compare`` subcommands (``func=`` set) to
    argparse subparsers."""
    _add_compare(subparsers)
    b = subparsers.add_parser("bench", help="compare encoders against plain JPEG at equal bytes")
    b.add_argument("folder", metavar="DIR", type=Path, help="folder of test images")
    b.add_argument("--out", required=True, type=Path, help="folder for results.csv, summary.md and plots")
    b.add_argument("--quality", action="extend", nargs="+", type=_qualities, metavar="Q",
                   help=f"qualities compared at equal bytes (default {' '.join(map(str, DEFAULT_QUALITIES))})")  # fmt: skip
    b.add_argument("--curve-quality", action="extend", nargs="+", type=_qualities, metavar="Q",
                   help=f"extra qualities for the rate-distortion curves (default {CURVE_QUALITIES[0]}..{CURVE_QUALITIES[-1]} by 10)")  # fmt: skip
    b.add_argument("--slack", type=float, default=DEFAULT_SLACK, help="semantic byte slack over plain JPEG (default %(default)s)")
    b.add_argument("--limit", type=_positive, help="only the first N images (by name)")
    b.add_argument("--map-kind", choices=MAP_KINDS, default="network",
                   help="map for the semantic encoders and the roi_psnr weights (default %(default)s)")  # fmt: skip
    b.add_argument("--encoders", action="extend", nargs="+", metavar="NAME",
                   help=f"encoders to run (jpeg always runs; default all: {' '.join(ENCODERS)})")  # fmt: skip
    b.add_argument("--seed", type=int, default=0, help="bootstrap seed (default %(default)s)")
    b.add_argument("--no-plots", action="store_true", help="skip the PNGs (no matplotlib needed)")
    b.set_defaults(func=_cmd_bench)

    m = subparsers.add_parser("bench-maps", help="score ROI maps against eye fixations (OSIE or MIT1003)")
    m.add_argument("folder", metavar="DIR", type=Path,
                   help="dataset folder: OSIE (fixations.mat, stimuli/) or MIT1003 (fixations.json, stimuli/)")  # fmt: skip
    m.add_argument("--dataset", choices=tuple(DATASET_TITLES), default="osie",
                   help="which fixations DIR holds (default %(default)s)")  # fmt: skip
    m.add_argument("--out", type=Path, help="folder for maps.md and per-image maps.csv")
    m.add_argument("--limit", type=_positive, help="only the first N images of the split")
    m.add_argument("--split", choices=("val", "all"), default="val",
                   help="val: the validation split, never trained on (default; OSIE 200, MIT1003 300 photos); all: every image")  # fmt: skip
    m.add_argument("--maps", action="extend", nargs="+", metavar="KIND",
                   help="maps to score: network, network-msroi, network-readout, centre, spectral (default network centre spectral)")  # fmt: skip
    m.add_argument("--seed", type=int, default=0, help="bootstrap seed (default %(default)s)")
    m.set_defaults(func=_cmd_bench_maps)

def _reporting_errors(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Print BenchError as ``msroi: error: ...`` with status 2, as the CLI does for its own errors."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except BenchError as exc:
            print(f"msroi: error: {exc}", file=sys.stderr)
            return 2

    return run

def _command_line(args: argparse.Namespace) -> str:
    """The run as a full ``msroi bench`` command, defaults spelled out, for the summary."""
    parts = ["msroi", "bench", str(args.folder), "--out", str(args.out),
             "--quality", *map(str, args.quality or DEFAULT_QUALITIES),
             "--curve-quality", *map(str, args.curve_quality or CURVE_QUALITIES),
             "--slack", str(args.slack), "--map-kind", args.map_kind, "--seed", str(args.seed)]  # fmt: skip
    if args.limit is not None:
        parts += ["--limit", str(args.limit)]
    if args.encoders:
        parts += ["--encoders", *args.encoders]
    if args.no_plots:
        parts.append("--no-plots")
    return shlex.join(parts)

@_reporting_errors
def _cmd_bench(args: argparse.Namespace) -> int:
    _require_bench_extra()
    out = run_bench(
        args.folder, args.out, qualities=tuple(args.quality or DEFAULT_QUALITIES),
        curve_qualities=tuple(args.curve_quality or CURVE_QUALITIES), slack=args.slack,
        limit=args.limit, map_kind=args.map_kind, encoders=args.encoders, plots=not args.no_plots,
        seed=args.seed, command=_command_line(args),
    )  # fmt: skip
    print(f"wrote {out / 'results.csv'}, {out / 'summary.md'}" + ("" if args.no_plots else " and plots"))
    return 0

@_reporting_errors
def _cmd_bench_maps(args: argparse.Namespace) -> int:
    _require_bench_extra()
    known = {*MAP_KINDS, *(f"network-{k}" for k in KINDS if k != "default")}
    maps = list(dict.fromkeys(args.maps or DEFAULT_MAPS))
    unknown = sorted(set(maps) - known)
    if unknown:
        raise BenchError(f"unknown map(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    print(bench_maps(args.folder, out=args.out, limit=args.limit, split=args.split, maps=maps, seed=args.seed,
                     dataset=args.dataset), end="")
    return 0

@_reporting_errors
def _cmd_compare(args: argparse.Namespace) -> int:
    _require_bench_extra()
    from PIL import Image

    from .._batch import read_map, write_atomic
    from .compare import compare

    out = args.output or Path(f"{args.input.stem}_compare.png")
    try:
        with Image.open(args.input) as opened:
            opened.load()  # a JPEG source stays one: its grid may be kept
            image = opened if opened.mode == "RGB" else opened.convert("RGB")
        map_ = read_map(args.map) if args.map else None
        result = compare(image, quality=args.quality, map=map_, method=args.method)
    except (OSError, ValueError) as exc:
        raise BenchError(str(exc)) from exc
    buf = io.BytesIO()
    result.picture.save(buf, "PNG")
    write_atomic(out, buf.getvalue())
    print("\n".join(result.text))
    print(f"wrote {out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m pillow_msroi.eval.cli {bench,bench-maps} ...`` (the same as ``msroi ...``)."""
    parser = argparse.ArgumentParser(prog="python -m pillow_msroi.eval.cli")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("msroi: interrupted; results.csv holds the images finished so far", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
