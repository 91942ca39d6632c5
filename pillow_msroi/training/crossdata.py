"""The cross-dataset table: several models scored on the validation parts of OSIE and
MIT1003 in one pass (each image's fixations, density and baselines computed once).

    python -m pillow_msroi.training.crossdata --shared ../shared --out table.json \\
        shipped=models/msroi.onnx osie=OUT_OSIE/msroi.onnx mit1003=OUT_MIT/msroi.onnx both=OUT_BOTH/msroi.onnx

A model labelled ``osie``, ``mit1003`` or ``both`` is compared against the centred
Gaussian fitted on that training part; every model's readout and the first model's
``msroi`` fold are scored, with the usual centred Gaussian (sigma w/4, h/4).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from .. import _roi as roi
from ..eval import saliency as sm
from ..eval.datasets import DATASETS, load_split

METRICS = ("nss", "auc_judd", "cc")


def fitted_centre(height: int, width: int, sigma: tuple[float, float]) -> np.ndarray:
    """Centred Gaussian with standard deviations ``sigma`` (fractions of width and height)."""
    y = ((np.arange(height) + 0.5) / height - 0.5) / sigma[1]
    x = ((np.arange(width) + 0.5) / width - 0.5) / sigma[0]
    return np.exp(-0.5 * (y[:, None] ** 2 + x[None, :] ** 2)).astype(np.float32)


def training_sigmas(shared: Path) -> dict[str, tuple[float, float]]:
    """The centred Gaussian fitted on each readout-data choice's training fixations."""
    from .readout import fit_centre_sigma

    train = {name: load_split(shared / "data" / name, name)[0] for name in DATASETS}
    out = {name: fit_centre_sigma(train[name]) for name in DATASETS}
    out["both"] = fit_centre_sigma([r for name in DATASETS for r in train[name]])
    return out


def score_all(shared: Path, models: dict[str, Path], seed: int = 0, limit: int | None = None,
              datasets: tuple[str, ...] = DATASETS) -> dict:
    """``{dataset: {map: {metric: mean, metric_ci: [lo, hi]}}}`` for every model's readout
    (``readout:<label>``), the first model's ``msroi`` fold, the centred Gaussian and the
    fitted centred Gaussians (``centre_fitted:<choice>``)."""
    from PIL import Image

    from ..bench import bootstrap_ci

    sigmas = training_sigmas(shared)
    first = next(iter(models))
    table: dict = {"fitted_sigma": {k: list(v) for k, v in sigmas.items()}}
    for name in datasets:
        folder = shared / "data" / name
        val = load_split(folder, name)[1][:limit]
        scores: dict[str, list[tuple[float, float, float]]] = {}
        t0 = time.time()
        for i, rec in enumerate(val):
            with Image.open(folder / "stimuli" / rec.name) as im:
                im = im.convert("RGB")
            h, w = im.height, im.width
            maps = {"centre_gaussian": sm.centre_gaussian(h, w)}
            for choice, sigma in sigmas.items():
                maps[f"centre_fitted:{choice}"] = fitted_centre(h, w, sigma)
            for label, path in models.items():
                os.environ[roi.MODEL_ENV] = str(path)
                maps[f"readout:{label}"] = roi.roi_map(im, kind="readout")
                if label == first:
                    maps["msroi"] = roi.roi_map(im, kind="msroi")
            density = sm.fixation_density(rec.fix_x, rec.fix_y, h, w)
            for key, m in maps.items():
                scores.setdefault(key, []).append(
                    (sm.nss(m, rec.fix_x, rec.fix_y), sm.auc_judd(m, rec.fix_x, rec.fix_y), sm.cc(m, density)))
            if i % 50 == 0:
                print(f"[{time.time() - t0:6.0f}s] {name} {i + 1}/{len(val)}", flush=True)
        out: dict = {}
        for key, s in scores.items():
            arr = np.array(s)
            out[key] = {"n": len(arr)}
            for k, metric in enumerate(METRICS):
                lo, hi = bootstrap_ci(arr[:, k], seed)
                out[key][metric] = float(arr[:, k].mean())
                out[key][f"{metric}_ci"] = [lo, hi]
        table[name] = out
    return table


def main(argv: list[str] | None = None) -> None:
    from .data import shared_root

    parser = argparse.ArgumentParser(prog="python -m pillow_msroi.training.crossdata", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", metavar="LABEL=ONNX")
    parser.add_argument("--shared", default=None)
    parser.add_argument("--out", required=True, type=Path, help="JSON file for the table")
    parser.add_argument("--limit", type=int, default=None, help="only the first N validation images of each")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default %(default)s)")
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS),
                        help="validation parts to score (default: both)")
    args = parser.parse_args(argv)
    models: dict[str, Path] = {}
    for item in args.models:
        label, sep, path = item.partition("=")
        if not sep or not Path(path).is_file():
            parser.error(f"expected LABEL=ONNX with an existing file, got {item!r}")
        models[label] = Path(path)
    table = score_all(shared_root(args.shared), models, args.seed, args.limit, tuple(args.datasets))
    table["models"] = {k: str(v) for k, v in models.items()}
    args.out.write_text(json.dumps(table, indent=2))
    for name in args.datasets:
        for key, v in table[name].items():
            print(name, key, " ".join(f"{m} {v[m]:.3f} [{v[m + '_ci'][0]:.3f}, {v[m + '_ci'][1]:.3f}]" for m in METRICS))


if __name__ == "__main__":
    main()
