"""Where the benchmarks find the shared data (``../shared`` beside the checkout, or
``$MSROI_SHARED``) and the Kodak images in it."""

from __future__ import annotations

import os
from pathlib import Path


def shared_dir() -> Path:
    return Path(os.environ.get("MSROI_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def kodak_paths() -> list[Path]:
    import pytest

    paths = sorted((shared_dir() / "data" / "kodak").glob("kodim*.png"))
    if not paths:
        pytest.skip(f"Kodak images not found under {shared_dir()} (set MSROI_SHARED)")
    return paths
