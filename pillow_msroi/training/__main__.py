"""Command line: ``python -m pillow_msroi.training [--shared DIR] [--out DIR] [--cache DIR]
[--readout-data {osie,mit1003,both}] [--trunk ONNX]``."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from .data import shared_root
from .readout import READOUT_DATA, ReadoutConfig
from .train import Config, run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pillow_msroi.training", description=__doc__)
    parser.add_argument("--shared", default=None, help="shared data folder (default: $MSROI_SHARED or ../shared)")
    parser.add_argument("--out", default="models", help="where msroi.onnx and its .sha256 go (default: models)")
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "msroi-cache"),
                        help="feature cache and results.json (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=Config.epochs)
    parser.add_argument("--end-to-end-epochs", type=int, default=Config.end_to_end_epochs,
                        help="epochs of end-to-end fine-tuning after the cached stage (default: %(default)s)")
    parser.add_argument("--end-to-end-size", type=int, default=Config.end_to_end_size,
                        help="image side for the end-to-end epochs (default: %(default)s)")
    parser.add_argument("--readout-data", choices=READOUT_DATA, default=Config.readout_data,
                        help="fixations the readout is trained on (default: %(default)s)")
    parser.add_argument("--readout-steps", type=int, default=ReadoutConfig.steps,
                        help="readout training steps (default: %(default)s)")
    parser.add_argument("--trunk", default=None, metavar="ONNX",
                        help="reuse this msroi.onnx's network and train only the readout (skips Caltech-101)")
    parser.add_argument("--no-eval", action="store_true",
                        help="skip scoring on the validation parts (python -m pillow_msroi.training.crossdata does it for several models)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    if args.trunk is not None and Path(args.trunk).resolve() == (out / "msroi.onnx").resolve():
        parser.error("--trunk must not be the file --out writes; copy it elsewhere first")
    run(Config(shared=shared_root(args.shared), out=out, cache=Path(args.cache), epochs=args.epochs,
               end_to_end_epochs=args.end_to_end_epochs, end_to_end_size=args.end_to_end_size,
               readout_data=args.readout_data, readout=ReadoutConfig(steps=args.readout_steps),
               trunk=None if args.trunk is None else Path(args.trunk), evaluate=not args.no_eval))


if __name__ == "__main__":
    main()
