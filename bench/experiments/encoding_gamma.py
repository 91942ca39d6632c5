"""How much to flatten the network's map for the encoder: the sweep behind ``roi.ENCODING_GAMMA``.

    python bench/experiments/encoding_gamma.py [--datasets osie mit1003] [--images 60] [--powers 1 0.3 0.2 0.1]
                                   [--seed 7] [--method dct] [--shared DIR]

On a seeded sample of *training* images of each dataset (``--images`` from each; the
validation parts stay for fixation_psnr.py and bench-maps), every power p encodes with the
network's small map, normalized and raised to p (what ``roi.encoding_map`` does with
``ENCODING_GAMMA``), by ``--method`` at Q30/50/75, and scores fixation-weighted and plain
luma PSNR against plain JPEG of no more bytes.  A centred Gaussian is the control.  The
table is printed per dataset and pooled over both (each image counts once).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for kodak.py
from fixation_psnr import decoded, osie_case, plain  # noqa: E402 - the script's own folder
from kodak import shared_dir  # noqa: E402

import pillow_msroi
from pillow_msroi import _budget as budget  # noqa: E402
from pillow_msroi import _roi as roi  # noqa: E402
from pillow_msroi._maps import normalize  # noqa: E402
from pillow_msroi.eval import metrics  # noqa: E402
from pillow_msroi.eval.datasets import DATASETS, load_split
from pillow_msroi.eval.saliency import centre_gaussian

QUALITIES = (30, 50, 75)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=shared_dir(), help="folder holding data/osie and data/mit1003")
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--images", type=int, default=60, help="training images sampled from each dataset")
    parser.add_argument("--powers", type=float, nargs="+", default=[1.0, 0.3, 0.2, 0.1])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--method", default="dct", help="encoder method (default %(default)s)")
    args = parser.parse_args()

    names = [f"power {p:g}" for p in args.powers] + ["centred Gaussian"]
    groups = [*args.datasets, "pooled"] if len(args.datasets) > 1 else list(args.datasets)
    deltas = {(g, n, q): [] for g in groups for n in names for q in QUALITIES}
    counts = {}
    for dataset in args.datasets:
        folder = args.shared / "data" / dataset
        train, _ = load_split(folder, dataset)
        rng = np.random.default_rng(args.seed)
        sample = [train[i] for i in sorted(rng.choice(len(train), min(args.images, len(train)), replace=False))]
        counts[dataset] = len(sample)
        for k, rec in enumerate(sample):
            image, ref, weights = osie_case(folder, rec, k, len(sample))
            small = normalize(roi.small_map(image))
            maps = [small**p for p in args.powers] + [centre_gaussian(rec.height, rec.width)]
            for q in QUALITIES:
                for name, m in zip(names, maps):
                    data = pillow_msroi.encode(image, quality=q, map=m, method=args.method)
                    fit = budget.highest_quality_within(lambda p: plain(image, p), len(data), guess=q)
                    if fit.data is None:
                        continue
                    a, b = decoded(data), decoded(fit.data)
                    d = (metrics.weighted_psnr(ref, a, weights) - metrics.weighted_psnr(ref, b, weights),
                         metrics.psnr(ref, a) - metrics.psnr(ref, b))
                    for g in (dataset, "pooled"):
                        if g in groups:
                            deltas[(g, name, q)].append(d)
    print(file=sys.stderr)
    print(f"Training images (seed {args.seed}): " + ", ".join(f"{d} {n}" for d, n in counts.items())
          + f"; {args.method}, mean delta in dB against plain JPEG at equal bytes, fixation-weighted PSNR / PSNR")
    for g in groups:
        print()
        print(f"{g}:")
        print()
        print("| map | " + " | ".join(f"Q{q}" for q in QUALITIES) + " |")
        print("|---|" + "---|" * len(QUALITIES))
        for name in names:
            cells = [f"{np.mean([d[0] for d in deltas[(g, name, q)]]):+.2f} / {np.mean([d[1] for d in deltas[(g, name, q)]]):+.2f}"
                     for q in QUALITIES]
            print(f"| {name} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
