"""MIT1003 eye fixations (Judd, Ehinger, Durand, Torralba, ICCV 2009) and the project's fixed split.

The shared copy (``data/mit1003``) holds ``stimuli/*.jpg`` (longest side 512 px) and
``fixations.json``: ``{"<file name>": [[x, y], ...]}``, 0-based pixel coordinates in the
image as shipped, pooled over the 15 viewers.  The training recipe fits the readout on the
training part; the benchmarks score maps on the validation part.  Both take the split from
here, so it is one rule.

The four synthetic pattern images (``syntheticData*.jpg``) are in neither part: the split,
and so every figure, is about photographs, and four patterns among a thousand photos would
only add noise to the readout's training.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from .osie import OsieImage as FixationImage

__all__ = [
    "MIT1003_SEED", "MIT1003_TRAIN", "MIT1003_VAL", "FixationImage",
    "is_synthetic", "load_mit1003", "mit1003_split",
]  # fmt: skip

MIT1003_SEED = 2009
#: 999 photos: 699 for training, 300 for validation (more than OSIE's 200, because the
#: photos vary more in content and aspect ratio and the intervals should stay narrow).
MIT1003_VAL = 300
MIT1003_TRAIN = 699


def is_synthetic(name: str) -> bool:
    """The four pattern images of MIT1003 (``syntheticData1.jpg`` .. ``syntheticData4.jpg``)."""
    return name.startswith("syntheticData")


def load_mit1003(root: Path) -> list[FixationImage]:
    """All MIT1003 images named in ``fixations.json``, name-sorted, with integer 0-based
    fixations (rounded to the nearest pixel, clipped inside the image)."""
    path = Path(root) / "fixations.json"
    try:
        table = json.loads(path.read_text())
    except FileNotFoundError:
        raise OSError(f"{path} not found: pass the MIT1003 folder (fixations.json and stimuli/)") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(table, dict):
        raise ValueError(f"{path} must map file names to lists of [x, y] points")
    out: list[FixationImage] = []
    for name in sorted(table):
        with Image.open(Path(root) / "stimuli" / name) as im:
            w, h = im.size
        pts = np.asarray(table[name], dtype=np.float64).reshape(-1, 2)
        if pts.size and not np.isfinite(pts).all():
            raise ValueError(f"{path}: non-finite fixation of {name}")
        x = np.clip(np.round(pts[:, 0]).astype(np.int64), 0, w - 1)
        y = np.clip(np.round(pts[:, 1]).astype(np.int64), 0, h - 1)
        out.append(FixationImage(name, w, h, x, y))
    return out


def mit1003_split(images: list[FixationImage], seed: int = MIT1003_SEED,
                  n_val: int = MIT1003_VAL) -> tuple[list[FixationImage], list[FixationImage]]:
    """Synthetic patterns left out; the name-sorted photos permuted with
    ``numpy.random.default_rng(seed)``; the first ``n_val`` validate, the rest train.
    Each part is returned name-sorted."""
    photos = sorted((r for r in images if not is_synthetic(r.name)), key=lambda r: r.name)
    order = np.random.default_rng(seed).permutation(len(photos))
    val = [photos[i] for i in sorted(order[:n_val])]
    train = [photos[i] for i in sorted(order[n_val:])]
    return train, val
