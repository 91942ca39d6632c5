"""Randomized fuzzing of the native kernels, meant to run under AddressSanitizer.

    python fuzz/fuzz_native.py --seconds 60 [--lib path/to/build/lib] [--seed N]

Each iteration builds random (often degenerate) arguments: empty, 1x1 and odd shapes,
views that are not contiguous, wrong dtypes, mismatched shapes, random edges and tables.
A kernel must either raise ValueError/TypeError/IndexError/BufferError or return a
result that matches a numpy restatement; anything else (a wrong value, a crash, an
AddressSanitizer report) fails the run.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.machinery
import importlib.util
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from references import reference_transform, reference_upsample  # noqa: E402

EXPECTED = (ValueError, TypeError, IndexError, BufferError)


#: Every kernel module, by its import name (setup.py's KERNELS).
MODULES = (
    "pillow_msroi._stretch_cy",
    "pillow_msroi._blend_cy",
    "pillow_msroi._dct._transform_cy",
    "pillow_msroi._dct._quantize_cy",
    "pillow_msroi._dct._entropy_cy",
)


def load(lib: str | None) -> SimpleNamespace:
    """All kernels in one namespace: from the installed package, or from the extension
    files of a build folder (``lib``: setup.py's --build-lib, e.g. an ASan build)."""
    kernels: dict[str, object] = {}
    files = []
    for name in MODULES:
        if lib is None:
            module = importlib.import_module(name)
        else:
            stem = Path(lib, *name.split("."))
            path = next(iter(stem.parent.glob(stem.name + ".*.so")), None) or next(stem.parent.glob(stem.name + ".*"))
            loader = importlib.machinery.ExtensionFileLoader(name, str(path))
            spec = importlib.util.spec_from_file_location(name, str(path), loader=loader)
            module = importlib.util.module_from_spec(spec)
            loader.exec_module(module)
        files.append(module.__file__)
        kernels.update({k: v for k, v in vars(module).items() if not k.startswith("__")})
    return SimpleNamespace(**kernels, files=files)


def odd_array(rng, shape, dtype):
    """Sometimes the right thing, sometimes a view with strides, a wrong dtype or a wrong rank."""
    kind = rng.integers(0, 10)
    base = (rng.random(shape) * 255).astype(dtype)
    if kind == 0 and base.ndim >= 1 and base.shape[-1] > 1:
        return base[..., ::2]
    if kind == 1:
        return base.astype(np.float64 if dtype != np.float64 else np.float32)
    if kind == 2:
        return base.reshape(-1)
    if kind == 3:
        return base.T
    if kind == 4 and base.ndim >= 2 and base.shape[1] > 1:
        return base[:, 1:]  # a window: rows strided, pixels adjacent (valid for blend_level)
    if kind == 5 and base.ndim == 3 and base.shape[1] > 1:
        return base[:, ::2]  # pixels not adjacent
    return base


def one(rng, nat) -> None:
    sh, sw = (int(v) for v in rng.integers(0, 12, 2))
    oh, ow = (int(v) for v in rng.integers(-1, 60, 2))
    src = odd_array(rng, (sh, sw), np.float32)
    which = rng.integers(0, 7)
    try:
        if which == 0:
            got = nat.upsample_bilinear(src, oh, ow)
            np.testing.assert_allclose(got, reference_upsample(np.asarray(src), oh, ow), atol=1e-5)
        elif which == 1:
            rows = rng.integers(-2, max(oh, 1) + 2, rng.integers(0, 8)).astype(np.intp)
            cols = rng.integers(-2, max(ow, 1) + 2, rng.integers(0, 8)).astype(np.intp)
            got = nat.sample_bilinear(src, oh, ow, rows, cols)
            np.testing.assert_allclose(got, reference_upsample(np.asarray(src), oh, ow)[np.ix_(rows, cols)], atol=1e-5)
        elif which == 2:
            n = int(rng.integers(0, 10))
            edges = np.sort(rng.random(n)) if rng.random() < 0.9 else rng.random(n)
            table = rng.integers(0, 256, n + int(rng.integers(0, 3))).astype(np.uint8)
            strict = bool(rng.integers(0, 2))
            divisor = float(rng.random()) if rng.random() < 0.2 else 0.0
            got = nat.assign_levels(src, oh, ow, edges, table, strict, divisor)
            # The levels are thresholds of the stretched map as the kernel rounds it (float32),
            # which the upsampling branch checks against the reference.
            full = nat.upsample_bilinear(src, oh, ow)
            if divisor > 0:
                k = np.clip(np.floor(full.astype(np.float64) * 10.0 / divisor), 0, len(table) - 1).astype(int)
            else:
                k = ((edges < full[..., None]) if strict else (edges <= full[..., None])).sum(axis=-1)
            np.testing.assert_array_equal(got, table[k])
        elif which == 4:
            fuzz_transform(rng, nat)
        elif which == 5:
            fuzz_count_scan(rng, nat)
        elif which == 6:
            fuzz_quantize(rng, nat)
        else:
            c = int(rng.integers(1, 5))
            lc = c + int(rng.integers(0, 2))
            h, w = int(rng.integers(0, 30)), int(rng.integers(0, 30))
            layer = odd_array(rng, (h + int(rng.integers(0, 2) == 0), w, lc), np.uint8)
            levels = odd_array(rng, (h, w), np.uint8) % 4
            out = np.zeros((h, w, c), np.uint8)
            level = int(rng.integers(-1, 5))
            nat.blend_level(layer, levels, level, out)
            mask = np.asarray(levels) == level
            np.testing.assert_array_equal(out[mask], np.asarray(layer)[mask][:, :c])
            assert not out[~mask].any()
    except EXPECTED:
        pass


SAMPLINGS = (
    [(2, 2), (1, 1), (1, 1)], [(2, 1), (1, 1), (1, 1)], [(1, 1), (1, 1), (1, 1)], [(1, 1)],
    [(4, 2), (2, 1), (1, 1)], [(1, 2), (1, 1), (1, 1)], [(2, 2), (1, 1)],
)
BAD_SAMPLINGS = ([(3, 2), (2, 1), (1, 1)], [(5, 1), (1, 1), (1, 1)], [(0, 1), (1, 1), (1, 1)])


def fuzz_transform(rng, nat) -> None:
    """Random images, samplings (some invalid), output grids (sometimes wrong) and row
    ranges; the rows written must equal the whole-image kernels' and nothing else changes."""
    # Mostly valid calls, so that the rows written are compared often; now and then an
    # empty image, odd buffers, a sampling or channel count that must be refused.
    h, w = (int(v) for v in rng.integers(0 if rng.random() < 0.05 else 1, 40, 2))
    pick = SAMPLINGS if rng.random() < 0.9 else BAD_SAMPLINGS
    sampling = pick[int(rng.integers(0, len(pick)))]
    to_ycbcr = len(sampling) == 3 and rng.random() < 0.7
    channels = len(sampling) + int(rng.integers(0, 2)) if rng.random() < 0.9 else int(rng.integers(1, 5))
    shape = (h, w, channels)
    px = odd_array(rng, shape, np.uint8) if rng.random() < 0.1 else rng.integers(0, 256, shape, dtype=np.uint8)
    hmax, vmax = max(max(s[0] for s in sampling), 1), max(max(s[1] for s in sampling), 1)
    rows, cols = -(-h // (8 * vmax)), -(-w // (8 * hmax))
    outs = [
        np.full((rows * v + int(rng.integers(0, 8) == 0), cols * hh, 64), 7.0, np.float32)
        for hh, v in sampling
    ]
    r0 = int(rng.integers(0, rows + 1)) if rng.random() < 0.9 else int(rng.integers(-1, rows + 2))
    r1 = int(rng.integers(r0, rows + 1)) if rng.random() < 0.9 and r0 <= rows else int(rng.integers(r0 - 1, rows + 2))
    # The integer DCT for none, all, or a random subset of the components (now and then a
    # list of the wrong length, which must be refused).
    pick = rng.random()
    islow = bool(pick < 0.5) if pick < 0.7 else [bool(b) for b in rng.integers(0, 2, len(sampling) + int(rng.random() < 0.1))]
    marked = islow if isinstance(islow, list) else [islow] * len(sampling)
    before = [o.copy() for o in outs]
    if isinstance(islow, list) and len(islow) != len(sampling) and len(outs) == len(sampling):
        try:
            nat.transform(px, to_ycbcr, sampling, outs, r0, r1, islow=islow)
        except ValueError:
            return
        raise AssertionError(f"islow of {len(islow)} entries for {len(sampling)} components was taken")
    nat.transform(px, to_ycbcr, sampling, outs, r0, r1, islow=islow)
    expected = reference_transform(nat, np.asarray(px), to_ycbcr, sampling, marked)
    for o, b, e, (_, v) in zip(outs, before, expected, sampling):
        band = slice(r0 * v, r1 * v)
        np.testing.assert_array_equal(o[band], e[band])
        o[band] = b[band]
        np.testing.assert_array_equal(o, b)  # no write outside the rows asked for


def fuzz_count_scan(rng, nat) -> None:
    """Counts of random row splits must add up to the whole scan's."""
    ss, se = ((0, 63), (0, 0), (1, 5), (6, 63))[int(rng.integers(0, 4))]
    gray = ss > 0 or bool(rng.integers(0, 2))  # a band scan has one component
    rows, cols = int(rng.integers(0, 6)), int(rng.integers(0, 6))
    shapes = [(rows, cols)] if gray else [(2 * rows, 2 * cols), (rows, cols), (rows, cols)]
    levels = []
    for r, c in shapes:
        lv = np.where(rng.random((r, c, 64)) < 0.3, rng.integers(-2047, 2048, (r, c, 64)), 0).astype(np.int16)
        levels.append(odd_array(rng, lv.shape, np.int16) if rng.integers(0, 10) == 0 else lv)
    sampling = [(1, 1)] if gray else [(2, 2), (1, 1), (1, 1)]
    tables = [int(t) for t in rng.integers(0, 2, len(levels))]
    restart = int(rng.integers(0, 5))
    blocks = (max(rows, 1), max(cols, 1)) if ss > 0 else None
    whole = nat.count_scan(levels, sampling, tables, restart, ss, se, blocks)
    n = blocks[0] if blocks else rows
    cuts = sorted({0, n, *(int(k) for k in rng.integers(0, n + 1, 3))})
    parts = sum(nat.count_scan(levels, sampling, tables, restart, ss, se, blocks, a, b) for a, b in zip(cuts[:-1], cuts[1:]))
    np.testing.assert_array_equal(parts, whole)


def fuzz_quantize(rng, nat) -> None:
    """Random blocks, tables (some invalid), prices and code lengths through the trellis:
    every level is the rounded value, the level below or zero, of the same sign; DC always
    rounded; padding blocks (price < 0) DC only; price 0 plain rounding."""
    rows, cols = int(rng.integers(0, 5)), int(rng.integers(0, 5))
    coef = (rng.standard_normal((rows, cols, 64)) * rng.choice([1.0, 50.0, 3000.0])).astype(np.float32)
    qtable = rng.integers(0 if rng.random() < 0.05 else 1, 256, 64 + int(rng.random() < 0.05)).astype(np.uint16)
    price = np.where(rng.random((rows, cols)) < 0.1, -1.0, rng.random((rows, cols)) * rng.choice([0.0, 0.1, 10.0]))
    price = price.astype(np.float32)
    fw = rng.uniform(0 if rng.random() < 0.95 else -1, 2, 64 + int(rng.random() < 0.05)).astype(np.float32)
    bits = rng.uniform(1, 16, 256 + int(rng.random() < 0.05)).astype(np.float32)
    keep_low = int(rng.integers(-1 if rng.random() < 0.05 else 0, 6))
    out = np.full((rows, cols + int(rng.random() < 0.05), 64), 99, np.int16)
    coef_in = odd_array(rng, coef.shape, np.float32) if rng.random() < 0.05 else coef
    nat.trellis_quantize(coef_in, qtable, price, fw, bits, keep_low, out)
    zz = np.asarray(qtable, np.float64)[nat.ZIGZAG]
    x = np.asarray(coef_in, np.float64) / zz
    ax = np.abs(x)
    top = np.minimum(np.floor(ax + 0.5), 1023)
    top[..., 0] = np.floor(ax[..., 0] + 0.5)
    # Float32 rounding in the kernel may flip a value within 1e-3 of a half step.
    near_half = np.abs(ax - np.floor(ax) - 0.5) < 1e-3
    a = np.abs(out.astype(np.float64))
    same_sign = (out == 0) | (np.sign(out) == np.sign(x))
    ac = (((a == top) | (a == top - 1) | (a == 0)) & same_sign | near_half)[..., 1:]
    assert ac.all()
    dc = np.clip(np.sign(x[..., 0]) * top[..., 0], -1024, 1023)
    assert ((out[..., 0] == dc) | near_half[..., 0]).all()
    assert not out[price < 0][:, 1:].any()
    plain = price == 0
    assert ((a[plain] == top[plain]) | near_half[plain])[:, 1:].all()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--lib", help="build folder of the extensions to load (e.g. an ASan build)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    nat = load(args.lib)
    rng = np.random.default_rng(args.seed)
    end = time.monotonic() + args.seconds
    count = 0
    while time.monotonic() < end:
        one(rng, nat)
        count += 1
    print(f"fuzz_native: {count} cases in {args.seconds:g} s, no failure ({', '.join(nat.files)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
