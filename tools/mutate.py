"""Mutation run: apply deliberate small bugs one at a time, run the tests that should
catch each, and report which survived.

    python tools/mutate.py                 # every Python mutation
    python tools/mutate.py -k maps roi     # those whose id contains "maps" or "roi"
    python tools/mutate.py --native        # also the csrc ones (rebuilds the extension twice each)
    python tools/mutate.py --list

Each mutation is data: the file, an exact source text that must occur once, its
replacement, and the test files to run.  When modules move, re-point ``file`` (and the
tests); a mutation whose text is no longer found is reported as "stale", not skipped
silently.  The file is always restored (try/finally) and the tree is checked against
git afterwards.  A mutation is "killed" when its tests fail (or time out), "survived"
when they pass; before any mutation the same test selections must pass unmutated.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutation:
    id: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]
    why: str  # the bug it stands for
    native: bool = False  # needs the extension rebuilt


M = Mutation
MUTATIONS = [
    # ------------------------------------------------------------------ dct (encoder)
    M("dct-final-check-1pct", "pillow_msroi/_dct/rate.py",
      "        if len(data) <= limit:\n            return Outcome(data, q, s, used)\n",
      "        if len(data) <= limit * 1.01:\n            return Outcome(data, q, s, used)\n",
      ("tests/test_rate_control.py", "tests/test_dct.py"), "written file up to 1 % over the budget shipped"),
    M("dct-one-final-pass", "pillow_msroi/_dct/rate.py",
      "    for _ in range(FINAL_PASSES):\n", "    for _ in range(1):\n",
      ("tests/test_rate_control.py",), "no retry after an over-budget write: plain file returned"),
    M("dct-retry-same-strength", "pillow_msroi/_dct/rate.py",
      "        s = max(s, 0.1) * (len(data) / limit * (1.0 + TOLERANCE / 4)) ** (1.0 / -ELASTICITY)\n",
      "        s = s\n",
      ("tests/test_rate_control.py",), "retry rewrites the same file"),
    M("dct-no-fallback", "pillow_msroi/_dct/rate.py",
      "    if fit.quality is None:\n", "    if False:\n",
      ("tests/test_rate_control.py",), "nothing fits but the search result is written anyway"),
    M("budget-limit-ceil", "pillow_msroi/_budget.py",
      "    return Reference(plain, math.floor(len(plain) * (1.0 + slack))), result\n",
      "    return Reference(plain, math.ceil(len(plain) * (1.0 + slack))), result\n",
      ("tests/test_dct.py", "tests/test_encode.py", "tests/test_invariance.py"), "budget rounded up: one byte over"),
    M("dct-map-inverted", "pillow_msroi/_dct/field.py",
      "    return MAP_RANGE ** np.clip(centre - m, -1.0, 1.0)\n", "    return MAP_RANGE ** np.clip(m - centre, -1.0, 1.0)\n",
      ("tests/test_dct.py",), "bits priced high where the map is high"),
    M("field-no-masking", "pillow_msroi/_dct/field.py",
      "    p = PRICE * field ** (1.0 - MAP_MASKING * m) * map_factor(means)\n",
      "    p = PRICE * map_factor(means)\n",
      ("tests/test_perceptual.py", "tests/test_dct.py"), "every block priced alike: smooth areas lose their small coefficients"),
    M("quantize-keep-low-0", "pillow_msroi/_dct/quantize.py",
      "KEEP_LOW = 2\n", "KEEP_LOW = 0\n",
      ("tests/test_perceptual.py", "tests/test_dct.py"), "blocks may lose their lowest AC terms"),
    M("keep-favoured-thinned", "pillow_msroi/_dct/field.py",
      "    return np.where(inside & (means >= edge), np.float32(0.0), prices).astype(np.float32)\n",
      "    return prices\n",
      ("tests/test_jpeg_sources.py",), "quality='keep' re-quantizes the favoured region"),
    M("keep-float-dct", "pillow_msroi/_dct/__init__.py",
      "    if source is not None:\n        return True\n",
      "    if source is not None:\n        return False\n",
      ("tests/test_jpeg_sources.py",), "a JPEG source's grid rounded from another DCT than libjpeg's"),
    M("q100-float-chroma", "pillow_msroi/_dct/__init__.py",
      "        return [False, True, True]\n", "        return False\n",
      ("tests/test_perceptual.py",), "quality 100's chroma worse than plain quality 100's"),
    M("fill-takes-overshoot", "pillow_msroi/_dct/rate.py",
      "        if taken_size < size <= limit:\n", "        if size <= limit:\n",
      ("tests/test_rate_control.py",), "the fill step ships a file far under the budget"),
    M("semantic-table-ignored", "pillow_msroi/_dct/quantize.py",
      "semantic=coefs.semantic)", "semantic=False)",
      ("tests/test_perceptual.py",), "a favouring map keeps the steep luma table"),
    M("favours-any-map", "pillow_msroi/_dct/field.py",
      "FAVOURED_SHARE = 0.01\n", "FAVOURED_SHARE = 0.0\n",
      ("tests/test_perceptual.py",), "a uniform map (or a lifted pixel) takes the semantic table"),
    M("masking-relief-off", "pillow_msroi/_dct/field.py",
      "MAP_MASKING = 0.5\n", "MAP_MASKING = 0.0\n",
      ("tests/test_perceptual.py",), "favoured blocks keep their whole masking"),
    M("dct-restart-dropped", "pillow_msroi/_dct/markers.py",
      '            restart = int.from_bytes(body[:2], "big")\n', "            restart = 0\n",
      ("tests/test_dct.py",), "caller's restart interval ignored"),
    # ------------------------------------------------------------------ budget (blend's search)
    M("budget-strict", "pillow_msroi/_budget.py",
      "        if len(data) <= budget:\n", "        if len(data) < budget:\n",
      ("tests/test_budget.py",), "a file of exactly the budget rejected"),
    M("budget-best-not-kept", "pillow_msroi/_budget.py",
      "            lo, best = probe, data\n", "            lo = probe\n",
      ("tests/test_budget.py", "tests/test_encode.py"), "the fitting file is dropped"),
    M("budget-seven-encodes", "pillow_msroi/_budget.py",
      "MAX_ENCODES = 8\n", "MAX_ENCODES = 7\n",
      ("tests/test_budget.py",), "search gives up one encode early"),
    # ------------------------------------------------------------------ api (blend path, fallback)
    M("blend-fallback-empty", "pillow_msroi/_blend.py",
      "        data=fit.data if fit.data is not None else reference.data,\n",
      '        data=fit.data if fit.data is not None else b"",\n',
      ("tests/test_rate_control.py",), "blend fallback returns no file"),
    M("blend-map-inverted", "pillow_msroi/_blend.py",
      "    level_map = _levels.assign(small, h, w, options.rule)\n",
      "    level_map = _levels.assign(1.0 - small, h, w, options.rule)\n",
      ("tests/test_encode.py",), "blend favours what the map does not"),
    # ------------------------------------------------------------------ maps
    M("maps-normalize-by-max", "pillow_msroi/_maps.py",
      "        return np.ascontiguousarray((arr - lo) / (hi - lo), dtype=np.float32)\n",
      "    return np.ascontiguousarray(arr / hi, dtype=np.float32)\n",
      ("tests/test_invariance.py", "tests/test_encode.py", "tests/test_plugin.py"),
      "map normalized by its max, not max - min"),
    M("maps-constant-is-one", "pillow_msroi/_maps.py",
      "        return np.zeros(arr.shape, dtype=np.float32)\n", "        return np.ones(arr.shape, dtype=np.float32)\n",
      ("tests/test_dct.py",), "a constant map favours everything"),
    M("maps-shrink-one-side", "pillow_msroi/_maps.py",
      "    if h <= height and w <= width:\n", "    if h <= height or w <= width:\n",
      ("tests/test_maps.py",), "a map larger than the image on one side only is not shrunk"),
    M("maps-shrink-bilinear", "pillow_msroi/_maps.py",
      "Image.Resampling.BOX", "Image.Resampling.BILINEAR",
      ("tests/test_maps.py",), "larger maps point-sampled, not area-averaged"),
    M("maps-overflow-guard", "pillow_msroi/_maps.py",
      "    if not math.isfinite(hi - lo):", "    if False:",
      ("tests/test_invariance.py",), "finite maps of overflowing range become NaN"),
    # ------------------------------------------------------------------ roi (network input)
    M("roi-bgr", "pillow_msroi/_roi.py",
      "np.asarray(rgb, dtype=np.float32).transpose(2, 0, 1)",
      "np.asarray(rgb, dtype=np.float32)[..., ::-1].transpose(2, 0, 1)",
      ("tests/test_network_pin.py", "tests/test_roi.py"), "network fed BGR"),
    M("roi-mean-off", "pillow_msroi/_roi.py",
      "np.asarray(rgb, dtype=np.float32).transpose(2, 0, 1)",
      "(np.asarray(rgb, dtype=np.float32) - 10.0).transpose(2, 0, 1)",
      ("tests/test_network_pin.py", "tests/test_roi.py"), "input mean off by 10"),
    M("roi-scale-off", "pillow_msroi/_roi.py",
      "np.asarray(rgb, dtype=np.float32).transpose(2, 0, 1)",
      "(np.asarray(rgb, dtype=np.float32) * 1.1).transpose(2, 0, 1)",
      ("tests/test_network_pin.py", "tests/test_roi.py"), "input scale (std) off by 10 %"),
    M("roi-bicubic", "pillow_msroi/_roi.py",
      "rgb.resize(size, Image.BILINEAR, reducing_gap=2.0)", "rgb.resize(size, Image.BICUBIC, reducing_gap=2.0)",
      ("tests/test_network_pin.py", "tests/test_roi.py"), "resized with another filter"),
    M("roi-no-reducing-gap", "pillow_msroi/_roi.py",
      "rgb.resize(size, Image.BILINEAR, reducing_gap=2.0)", "rgb.resize(size, Image.BILINEAR)",
      ("tests/test_network_pin.py", "tests/test_roi.py"), "resized without the reduce step"),
    M("roi-max-side", "pillow_msroi/_roi.py",
      "MAX_SIDE = 384\n", "MAX_SIDE = 352\n",
      ("tests/test_network_pin.py", "tests/test_roi.py"), "network input of another size"),
    M("roi-gamma", "pillow_msroi/_roi.py",
      "ENCODING_GAMMA = 0.2\n", "ENCODING_GAMMA = 0.3\n",
      ("tests/test_network_pin.py", "tests/test_roi.py"), "encoder's map flattened differently"),
    # ------------------------------------------------------------------ cli
    M("cli-drop-icc", "pillow_msroi/_batch.py",
      '("exif", "icc_profile", "dpi")', '("exif", "dpi")',
      ("tests/test_cli.py",), "ICC profile of the input lost"),
    M("cli-drop-exif", "pillow_msroi/_batch.py",
      '("exif", "icc_profile", "dpi")', '("icc_profile", "dpi")',
      ("tests/test_cli.py",), "EXIF of the input lost"),
    M("cli-drop-dpi", "pillow_msroi/_batch.py",
      '("exif", "icc_profile", "dpi")', '("exif", "icc_profile")',
      ("tests/test_cli.py",), "dpi of the input lost"),
    M("cli-exit-0-on-failure", "pillow_msroi/cli.py",
      "    return 1 if summary.failed else 0\n", "    return 0\n",
      ("tests/test_cli.py",), "failures reported with exit status 0"),
    M("cli-overwrite-input", "pillow_msroi/_batch.py",
      "            if _key(job.output) in inputs:\n", "            if False:\n",
      ("tests/test_cli.py",), "input overwritten without --force"),
    # ------------------------------------------------------------------ native kernels (--native)
    M("native-dct-final-stuffing", "csrc/_entropy_cy.pyx",
      "if byte == 0xFF:", "if byte == 0xFE:",
      ("tests/test_dct.py",), "no 0x00 stuffed after 0xFF in the scan", native=True),
    M("native-islow-first-bit", "csrc/_transform_cy.pyx",
      "if (islow >> c) & 1:", "if islow & 1:",
      ("tests/test_dct.py", "tests/test_perceptual.py"), "one component's DCT choice applied to all", native=True),
]


def _run(cmd: list[str], timeout: float) -> tuple[str, str, float]:
    """Outcome ("pass", "fail", "timeout" or an error), the first failing test, seconds."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CI": "1"}
    t0 = time.perf_counter()
    try:
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return "timeout", "", time.perf_counter() - t0
    code = done.returncode
    failed = next((line.split()[1] for line in done.stdout.splitlines() if line.startswith("FAILED ")), "")
    outcome = {0: "pass", 1: "fail"}.get(code, f"error {code}: {done.stdout[-300:]}{done.stderr[-300:]}")
    return outcome, failed, time.perf_counter() - t0


def _pytest(tests: tuple[str, ...], timeout: float) -> tuple[str, str, float]:
    return _run([sys.executable, "-m", "pytest", "-x", "-q", "-rf", "-p", "no:randomly", *tests], timeout)


def _build() -> None:
    subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=ROOT, check=True,
                   capture_output=True)


def _clean(files: set[str]) -> bool:
    return subprocess.run(["git", "diff", "--quiet", "--", *sorted(files)], cwd=ROOT, check=False).returncode == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="apply mutations one at a time and run their tests")
    parser.add_argument("-k", nargs="*", default=[], help="only mutations whose id contains one of these")
    parser.add_argument("--native", action="store_true", help="include csrc mutations (rebuilds)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per test run (default %(default)s)")
    parser.add_argument("--tests", nargs="+", help="run these tests for every mutation instead of its own "
                        "(e.g. to show what the suite without a new test misses)")
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS if (args.native or not m.native) and (not args.k or any(k in m.id for k in args.k))]
    if args.tests:
        chosen = [dataclasses.replace(m, tests=tuple(args.tests)) for m in chosen]
    if args.list:
        for m in chosen:
            print(f"{m.id:<28} {m.file:<24} {' '.join(m.tests)}  # {m.why}")
        return 0
    files = {m.file for m in chosen}
    if not _clean(files):
        print("the files to mutate have uncommitted changes; commit or stash them first", file=sys.stderr)
        return 2

    # The selections must pass before they can kill anything.
    for tests in sorted({m.tests for m in chosen}):
        outcome, _, secs = _pytest(tests, args.timeout)
        print(f"baseline {' '.join(tests)}: {outcome} ({secs:.0f} s)", flush=True)
        if outcome != "pass":
            print("a baseline selection does not pass; fix that first", file=sys.stderr)
            return 2

    rows = []
    for m in chosen:
        path = ROOT / m.file
        original = path.read_text()
        if original.count(m.old) != 1:
            rows.append((m, "stale", ""))
            print(f"{m.id}: stale ({original.count(m.old)} matches of its text in {m.file})", flush=True)
            continue
        try:
            path.write_text(original.replace(m.old, m.new))
            if m.native:
                _build()
            outcome, by, secs = _pytest(m.tests, args.timeout)
        finally:
            path.write_text(original)
            if m.native:
                _build()
        verdict = {"fail": "killed", "timeout": "killed (timeout)", "pass": "SURVIVED"}.get(outcome, outcome)
        rows.append((m, verdict, by))
        print(f"{m.id}: {verdict} ({secs:.0f} s) {by}", flush=True)

    clean = _clean(files)
    print()
    print("| mutation | file | tests run | result | first failing test |")
    print("|---|---|---|---|---|")
    for m, verdict, by in rows:
        tests = ", ".join(Path(t).name for t in m.tests)
        print(f"| {m.id}: {m.why} | {m.file} | {tests} | {verdict} | {by.split('/')[-1]} |")
    killed = sum(v.startswith("killed") for _, v, _ in rows)
    print(f"\n{killed}/{len(rows)} killed; tree {'clean' if clean else 'NOT CLEAN (git diff)'} after the run")
    return 0 if clean and killed == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
