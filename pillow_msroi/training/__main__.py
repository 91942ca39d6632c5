"""Command line: ``python -m pillow_msroi.training [--shared DIR] [--out DIR] [--cache DIR]``."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from .data import shared_root
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
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    run(Config(shared=shared_root(args.shared), out=Path(args.out), cache=Path(args.cache), epochs=args.epochs,
               end_to_end_epochs=args.end_to_end_epochs, end_to_end_size=args.end_to_end_size))


if __name__ == "__main__":
    main()
