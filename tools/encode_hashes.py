"""Hash a fixed set of encodes, to show that a refactor changed no output byte.

Kodak (24 images) x quality 30/50/75 x {dct, blend} with a given map (a fixed diagonal
ramp), plus the default map (the network's) with the default method, plus one Kodak crop
through every mode and option that takes its own path (progressive, restart intervals,
subsampling, optimize, grey, CMYK, odd sizes).  Prints one sha256
per (method, map) group and one over everything; ``--list`` prints every file's hash.

    python tools/encode_hashes.py [--kodak DIR] [--list]
"""

from __future__ import annotations

import argparse
import hashlib
import os
from pathlib import Path

import numpy as np
from PIL import Image

import pillow_msroi

QUALITIES = (30, 50, 75)
OPTION_CASES = [
    ("RGB", "dct", {"progressive": True}),
    ("RGB", "dct", {"restart_marker_blocks": 7}),
    ("RGB", "dct", {"restart_marker_rows": 2, "progressive": True}),
    ("RGB", "dct", {"subsampling": "4:4:4"}),
    ("RGB", "dct", {"subsampling": "4:2:2", "optimize": True}),
    ("L", "dct", {}),
    ("L", "dct", {"progressive": True}),
    ("RGB", "blend", {"progressive": True, "subsampling": "4:4:4"}),
    ("L", "blend", {}),
    ("CMYK", "auto", {}),
    ("RGB", "dct", {"comment": "hash", "dpi": (300, 300)}),
]


def _ramp(h: int, w: int) -> np.ndarray:
    # Deterministic, asymmetric and not separable, so that a transposed or flipped map changes bytes.
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return (x / w + 0.5 * y / h) ** 2 + 0.1 * np.sin(x / 7.0)


def _add(group: "hashlib._Hash", data: bytes, label: str | None) -> None:
    digest = hashlib.sha256(data).hexdigest()
    group.update(digest.encode())
    if label is not None:
        print(f"{label} {len(data)} {digest}")


def main() -> int:
    shared = Path(os.environ.get("MSROI_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kodak", type=Path, default=shared / "data" / "kodak")
    parser.add_argument("--list", action="store_true", help="print every file's hash")
    args = parser.parse_args()
    paths = sorted(args.kodak.glob("kodim*.png"))
    if len(paths) != 24:
        parser.error(f"expected 24 Kodak images in {args.kodak}, found {len(paths)}")
    groups = {
        "dct/ramp": dict(method="dct", ramp=True),
        "blend/ramp": dict(method="blend", ramp=True),
        "default/network": dict(method="auto", ramp=False),
    }
    total = hashlib.sha256()
    for name, spec in groups.items():
        group = hashlib.sha256()
        for path in paths:
            with Image.open(path) as im:
                im.load()
                small = _ramp(im.height // 16, im.width // 16) if spec["ramp"] else None
                for q in QUALITIES:
                    data = pillow_msroi.encode(im, quality=q, map=small, method=spec["method"])
                    _add(group, data, f"{name} {path.name} q{q}" if args.list else None)
        total.update(group.hexdigest().encode())
        print(f"{name}: {group.hexdigest()}")
    group = hashlib.sha256()
    with Image.open(paths[0]) as im:
        crop = im.crop((101, 57, 101 + 333, 57 + 201))  # odd size: partial MCUs
    for mode, method, options in OPTION_CASES:
        src = crop.convert(mode)
        for q in QUALITIES:
            data = pillow_msroi.encode(src, quality=q, map=_ramp(13, 21), method=method, **options)
            _add(group, data, f"options {mode} {method} {options} q{q}" if args.list else None)
    total.update(group.hexdigest().encode())
    print(f"options: {group.hexdigest()}")
    print(f"all: {total.hexdigest()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
