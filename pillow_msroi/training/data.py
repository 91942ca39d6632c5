"""Datasets: the Caltech-101 split (seeded, stratified) and, re-exported from the run-time
:mod:`pillow_msroi.eval.osie`, the OSIE fixations and their seeded split."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..eval.osie import OSIE_SEED, OSIE_TRAIN, OSIE_VAL, OsieImage, load_osie, osie_split

__all__ = [
    "OSIE_SEED", "OSIE_TRAIN", "OSIE_VAL", "CaltechSplit", "OsieImage",
    "caltech_split", "load_osie", "load_square", "osie_split", "shared_root",
]

CALTECH_SEED = 101
CALTECH_TEST_FRACTION = 0.2


def shared_root(arg: str | os.PathLike[str] | None = None) -> Path:
    """The ``shared`` folder: the argument, else ``$MSROI_SHARED``, else ``../shared``."""
    return Path(arg or os.environ.get("MSROI_SHARED") or "../shared")


@dataclass(frozen=True)
class CaltechSplit:
    classes: list[str]
    train: list[tuple[str, int]]  # (path relative to 101_ObjectCategories, label)
    test: list[tuple[str, int]]


def caltech_split(root: Path, seed: int = CALTECH_SEED, test_fraction: float = CALTECH_TEST_FRACTION) -> CaltechSplit:
    """Stratified split: per class (sorted names), a seeded permutation; the first
    ``round(n * test_fraction)`` files (at least one) are held out.

    Everything is sorted before shuffling so the split depends only on the
    file names and the seed, not on directory order.
    """
    cats = root / "101_ObjectCategories"
    classes = sorted(p.name for p in cats.iterdir() if p.is_dir())
    rng = np.random.default_rng(seed)
    train: list[tuple[str, int]] = []
    test: list[tuple[str, int]] = []
    for label, name in enumerate(classes):
        files = sorted(f.name for f in (cats / name).iterdir() if f.suffix.lower() == ".jpg")
        order = rng.permutation(len(files))
        n_test = max(1, round(len(files) * test_fraction))
        for rank, i in enumerate(order):
            (test if rank < n_test else train).append((f"{name}/{files[i]}", label))
    return CaltechSplit(classes, train, test)


def load_square(path: Path, size: int) -> np.ndarray:
    """RGB uint8 (size, size, 3): shorter side resized to ``size``, centre crop."""
    with Image.open(path) as im:
        im = im.convert("RGB")
        w, h = im.size
        s = size / min(w, h)
        nw, nh = max(size, round(w * s)), max(size, round(h * s))
        im = im.resize((nw, nh), Image.BILINEAR, reducing_gap=3.0)
        left, top = (nw - size) // 2, (nh - size) // 2
        return np.asarray(im.crop((left, top, left + size, top + size)), dtype=np.uint8)
