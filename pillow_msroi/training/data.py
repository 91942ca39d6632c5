"""Datasets: the Caltech-101 split and the OSIE fixations, both deterministic and seeded."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

CALTECH_SEED = 101
CALTECH_TEST_FRACTION = 0.2
OSIE_SEED = 2014
OSIE_TRAIN = 500
OSIE_VAL = 200


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


@dataclass(frozen=True)
class OsieImage:
    name: str
    width: int
    height: int
    fix_x: np.ndarray  # 0-based integer pixel columns, inside the image
    fix_y: np.ndarray


def load_osie(root: Path) -> list[OsieImage]:
    """All OSIE images with the pooled fixations of the 15 viewers.

    Fixations are 1-based in the .mat; those falling outside the image are dropped.
    """
    import scipy.io

    mat = scipy.io.loadmat(root / "fixations.mat", squeeze_me=True, struct_as_record=False)
    out: list[OsieImage] = []
    for rec in np.atleast_1d(mat["fixations"]):
        name = str(rec.img)
        with Image.open(root / "stimuli" / name) as im:
            w, h = im.size
        xs, ys = [], []
        for subj in np.atleast_1d(rec.subjects):
            xs.append(np.atleast_1d(np.asarray(subj.fix_x, dtype=np.float64)))
            ys.append(np.atleast_1d(np.asarray(subj.fix_y, dtype=np.float64)))
        x = np.round(np.concatenate(xs)).astype(np.int64) - 1
        y = np.round(np.concatenate(ys)).astype(np.int64) - 1
        keep = (x >= 0) & (x < w) & (y >= 0) & (y < h)
        out.append(OsieImage(name, w, h, x[keep], y[keep]))
    out.sort(key=lambda r: r.name)
    return out


def osie_split(images: list[OsieImage], seed: int = OSIE_SEED) -> tuple[list[OsieImage], list[OsieImage]]:
    """Seeded permutation of the name-sorted images: first 500 train, next 200 validation."""
    order = np.random.default_rng(seed).permutation(len(images))
    train = [images[i] for i in sorted(order[:OSIE_TRAIN])]
    val = [images[i] for i in sorted(order[OSIE_TRAIN : OSIE_TRAIN + OSIE_VAL])]
    return train, val
