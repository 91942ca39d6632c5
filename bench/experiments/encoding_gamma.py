"""How much to flatten the network's map for the encoder: the sweep behind ``roi.ENCODING_GAMMA``.

    python bench/experiments/encoding_gamma.py [--osie DIR] [--images 60] [--powers 1 0.3 0.2 0.1] [--seed 7]

On a seeded sample of OSIE *training* images (the validation split stays for
fixation_psnr.py), every power p encodes with the network's small map, normalized and
raised to p (what ``roi.encoding_map`` does with ``ENCODING_GAMMA``), by method="dct" at
Q30/50/75, and scores fixation-weighted and plain luma PSNR against plain JPEG of no more
bytes.  A centred Gaussian is the control.
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
from pillow_msroi import _budget as budget
from pillow_msroi import _roi as roi
from pillow_msroi.eval import metrics
from pillow_msroi.eval.osie import load_osie, osie_split
from pillow_msroi.eval.saliency import centre_gaussian

QUALITIES = (30, 50, 75)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--osie", type=Path, default=shared_dir() / "data" / "osie")
    parser.add_argument("--images", type=int, default=60)
    parser.add_argument("--powers", type=float, nargs="+", default=[1.0, 0.3, 0.2, 0.1])
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    train, _ = osie_split(load_osie(args.osie))
    rng = np.random.default_rng(args.seed)
    sample = [train[i] for i in sorted(rng.choice(len(train), min(args.images, len(train)), replace=False))]
    names = [f"power {p:g}" for p in args.powers] + ["centred Gaussian"]
    deltas: dict[tuple[str, int], list[tuple[float, float]]] = {(n, q): [] for n in names for q in QUALITIES}
    for k, rec in enumerate(sample):
        image, ref, weights = osie_case(args.osie, rec, k, len(sample))
        small = maps.normalize(roi.small_map(image))
        maps = [small**p for p in args.powers] + [centre_gaussian(rec.height, rec.width)]
        for q in QUALITIES:
            for name, m in zip(names, maps):
                data = pillow_msroi.encode(image, quality=q, map=m, method="dct")
                fit = budget.highest_quality_within(lambda p: plain(image, p), len(data), guess=q)
                if fit.data is None:
                    continue
                a, b = decoded(data), decoded(fit.data)
                deltas[(name, q)].append((
                    metrics.weighted_psnr(ref, a, weights) - metrics.weighted_psnr(ref, b, weights),
                    metrics.psnr(ref, a) - metrics.psnr(ref, b),
                ))
    print(file=sys.stderr)
    print(f"OSIE training images: {len(sample)} (seed {args.seed}); dct, mean delta in dB against plain JPEG "
          "at equal bytes, fixation-weighted PSNR / PSNR")
    print()
    print("| map | " + " | ".join(f"Q{q}" for q in QUALITIES) + " |")
    print("|---|" + "---|" * len(QUALITIES))
    for name in names:
        cells = [f"{np.mean([d[0] for d in deltas[(name, q)]]):+.2f} / {np.mean([d[1] for d in deltas[(name, q)]]):+.2f}"
                 for q in QUALITIES]
        print(f"| {name} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
