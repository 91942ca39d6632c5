"""Where the benchmarks find the Kodak images (``../shared`` or ``$MSROI_SHARED``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def shared_dir() -> Path:
    return Path(os.environ.get("MSROI_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))


def kodak_paths() -> list[Path]:
    paths = sorted((shared_dir() / "data" / "kodak").glob("kodim*.png"))
    if not paths:
        pytest.skip(f"Kodak images not found under {shared_dir()} (set MSROI_SHARED)")
    return paths
