"""Fit the perceptual quantizer's parameters (pillow_msroi/_dct: tables, field, quantize) on
OSIE *training* images, never on the Kodak images that bench/experiments/perceptual.py reports.

Images: the OSIE training split (pillow_msroi.eval.osie's seeded rule), every ``--stride``-th
one, halved with Lanczos (the stimuli are JPEGs; halving removes most of their
artifacts).  Budgets: plain Pillow at Q30/50/75.  Objective: mean SSIMULACRA2 of ours
with a uniform map, less 3 points per dB that its mean PSNR-HVS-M falls more than
0.3 dB below mozjpeg's at the same budgets.  Coordinate descent, multiplicative steps.

    nice python bench/experiments/perceptual_tune.py --images 8 --rounds 2
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import perceptual as bench  # noqa: E402

from pillow_msroi._dct import field, quantize, tables  # noqa: E402
from pillow_msroi.eval.osie import OSIE_SEED, OSIE_TRAIN  # noqa: E402

PARAMS = ("LUMA_A", "LUMA_P", "LUMA_DC", "CHROMA_SCALE", "CHROMA_A", "PRICE", "ACT_KNEE", "ACT_GAMMA",
          "ACT_NEIGHBOUR", "CHROMA_PRICE", "FREQ_BETA", "ACT_MAX", "CHROMA_P")
#: The module each parameter lives in.
OWNER = {name: next(m for m in (tables, field, quantize) if hasattr(m, name)) for name in PARAMS}


def training_images(n: int) -> list[Path]:
    names = [f"{1001 + i}.jpg" for i in range(700)]  # name-sorted, as osie_split sorts them
    order = np.random.default_rng(OSIE_SEED).permutation(len(names))
    train = sorted(order[:OSIE_TRAIN])
    stride = len(train) // n
    return [bench.SHARED / "data" / "osie" / "stimuli" / names[train[i * stride]] for i in range(n)]


class Objective:
    def __init__(self, paths: list[Path], budgets: list[int]) -> None:
        self.items = []
        moz_h = []
        for p in paths:
            im = bench.load(p, half=True)
            ref = bench.Reference(np.asarray(im))
            for q in budgets:
                limit = len(bench.pillow_at(im, q))
                moz = bench.decode(bench.highest_within(lambda k: bench.mozjpeg_at(im, k), limit))
                moz_h.append(ref.psnr_hvs_m(moz))
                self.items.append((im, ref, q, ref.ssimulacra2(moz)))
        self.moz_s2 = float(np.mean([it[3] for it in self.items]))
        self.moz_h = float(np.mean(moz_h))

    def __call__(self) -> tuple[float, float, float]:
        s2, h = [], []
        for im, ref, q, _ in self.items:
            rgb = bench.decode(bench.ours(im, q, uniform=True))
            s2.append(ref.ssimulacra2(rgb))
            h.append(ref.psnr_hvs_m(rgb))
        s, hv = float(np.mean(s2)), float(np.mean(h))
        return s - 3.0 * max(0.0, self.moz_h - 0.3 - hv), s, hv


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--budgets", type=int, nargs="+", default=[30, 50, 75])
    ap.add_argument("--params", nargs="+", default=list(PARAMS))
    args = ap.parse_args()
    t0 = time.time()
    obj = Objective(training_images(args.images), args.budgets)
    print(f"mozjpeg: SSIMULACRA2 {obj.moz_s2:.2f} PSNR-HVS-M {obj.moz_h:.2f}", flush=True)
    best = obj()
    print(f"start {best[0]:.3f} (S2 {best[1]:.2f}, HVS-M {best[2]:.2f}) {time.time() - t0:.0f}s", flush=True)
    step = 1.4
    for rnd in range(args.rounds):
        for name in args.params:
            base = getattr(OWNER[name], name)
            for factor in (step, 1 / step):
                value = base * factor
                if name == "ACT_NEIGHBOUR":
                    value = min(value, 1.0)
                if name == "FREQ_BETA" and base == 0:
                    value = 0.25 if factor > 1 else 0.0
                setattr(OWNER[name], name, value)
                score = obj()
                print(f"  {name}={value:.4g}: {score[0]:.3f} (S2 {score[1]:.2f}, HVS-M {score[2]:.2f})", flush=True)
                if score[0] > best[0] + 0.02:
                    best, base = score, value
                    break
            setattr(OWNER[name], name, base)
            print(f"{name} = {base:.4g}  best {best[0]:.3f}  {time.time() - t0:.0f}s", flush=True)
        step = step ** 0.5
    print({n: round(getattr(OWNER[n], n), 4) for n in PARAMS})


if __name__ == "__main__":
    main()
