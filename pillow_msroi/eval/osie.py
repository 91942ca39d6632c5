"""OSIE eye fixations (Xu et al., Journal of Vision 2014) and the project's fixed split.

The training recipe fits the fixation readout on the 500 training images; the benchmarks
score maps on the other 200.  Both import the split from here, so it is one rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["OSIE_SEED", "OSIE_TRAIN", "OSIE_VAL", "OsieImage", "load_osie", "osie_split"]

OSIE_SEED = 2014
OSIE_TRAIN = 500
OSIE_VAL = 200


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
