"""Benchmarks: semantic JPEG against plain JPEG at equal bytes, and ROI maps against fixations.

``msroi bench DIR --out OUT`` encodes every image with every registered encoder and scores
it with :mod:`pillow_msroi.metrics`.  Comparisons are made at equal bytes: each semantic
file is the byte target for every competitor (plain JPEG, ``optimize=True``, mozjpeg),
which is re-encoded at the highest quality whose file still fits, so no method is rewarded
for spending more bytes.  ``msroi bench-maps DIR`` scores maps (network, centred Gaussian,
spectral residual) against eye fixations (OSIE or MIT1003).

Every library method beyond ``blend`` (``options.METHODS``) joins under its own name, with a
``METHOD-centre`` control that uses a centred Gaussian instead of the map; any other
encoder is one :func:`register` call, e.g.::

    register(Encoder("blend-r3-optimize", semantic_encoder(rule=3, optimize=True), semantic=True))
"""

from __future__ import annotations

import argparse
import csv
import functools
import io
import math
import os
import shlex
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from . import budget, maps
from .api import encode_details
from .options import DEFAULT_RULE, DEFAULT_SLACK, METHODS
from .roi import KINDS
from .saliency_metrics import auc_judd, cc, centre_gaussian, fixation_density, nss

__all__ = [
    "COLUMNS",
    "ENCODERS",
    "MAP_KINDS",
    "METRICS",
    "BenchError",
    "Coded",
    "Encoder",
    "Sample",
    "add_parsers",
    "bench_maps",
    "load_rows",
    "register",
    "run_bench",
    "semantic_encoder",
    "spectral_residual",
    "write_plots",
    "write_summary",
]

#: Metric columns, in the order of the CSV; all on luma except psnr_rgb.
METRICS = ("psnr", "ssim", "ms_ssim", "vifp", "psnr_hvs", "psnr_hvs_m", "psnr_rgb", "roi_psnr")
COLUMNS = (
    "image", "width", "height", "encoder", "method", "matched_to", "role",
    "quality", "final_quality", "bytes", "map_kind", *METRICS,
)  # fmt: skip
DEFAULT_QUALITIES = (30, 50, 75)
CURVE_QUALITIES = tuple(range(30, 91, 10))
#: Maps ``bench --map-kind`` accepts (the same names as ``bench-maps --maps`` minus variants).
MAP_KINDS = ("network", "centre", "spectral")
#: Reference every paired delta is taken against.
REFERENCE = "jpeg"
#: Smallest side all metrics accept: ``metrics.MS_SSIM_MIN_SIDE`` (tested equal), restated
#: because importing metrics imports scipy, which ``msroi --help`` should not wait for.
MIN_SIDE = 11 * 2**4
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".ppm", ".pgm", ".bmp", ".tif", ".tiff", ".webp"}
_MOZJPEG = "mozjpeg403"


class BenchError(Exception):
    """A problem that stops a benchmark run, reported without a traceback."""


# --------------------------------------------------------------------------
# Encoder registry
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One test image as every encoder sees it."""

    name: str
    image: Image.Image  # RGB
    pixels: np.ndarray  # uint8 (H, W, 3): the reference for the metrics
    roi: np.ndarray  # float32 (H, W) in [0, 1]: the run's encoding map, also roi_psnr's weights
    slack: float


@dataclass(frozen=True)
class Coded:
    """An encoded file and the JPEG quality it was finally written at."""

    data: bytes
    quality: int | None  # None: a semantic encoder fell back to the plain JPEG


@dataclass(frozen=True)
class Encoder:
    """A named way to make a JPEG of a sample at a nominal quality."""

    name: str
    encode: Callable[[Sample, int], Coded]
    #: Its files are the byte targets of the equal-bytes protocol.
    semantic: bool = False
    #: Re-encoded at the bytes of every semantic file.
    competitor: bool = False
    #: Why it cannot run here, or None when it can (checked once per run).
    unavailable: Callable[[], str | None] = lambda: None


ENCODERS: dict[str, Encoder] = {}


def register(encoder: Encoder) -> Encoder:
    """Add ``encoder`` to the registry (replacing one of the same name) and return it."""
    if "@" in encoder.name:
        raise ValueError(f"encoder names cannot contain '@' (it marks matched rows): {encoder.name!r}")
    ENCODERS[encoder.name] = encoder
    return encoder


def _pillow_encoder(**options: Any) -> Callable[[Sample, int], Coded]:
    def run(sample: Sample, quality: int) -> Coded:
        buf = io.BytesIO()
        sample.image.save(buf, "JPEG", quality=quality, **options)
        return Coded(buf.getvalue(), quality)

    return run


@functools.lru_cache(maxsize=8)
def _centre_map(height: int, width: int) -> np.ndarray:
    return centre_gaussian(height, width)


def semantic_encoder(
    rule: int | None = DEFAULT_RULE, method: str = "blend", centre: bool = False, **jpeg: Any
) -> Callable[[Sample, int], Coded]:
    """``encode_details`` with the sample's map (or, with ``centre``, a centred Gaussian)."""

    def run(sample: Sample, quality: int) -> Coded:
        roi = _centre_map(*sample.roi.shape) if centre else sample.roi
        result = encode_details(
            sample.image, quality=quality, map=roi, rule=rule, slack=sample.slack, method=method, **jpeg
        )
        return Coded(result.data, result.quality)

    return run


def _mozjpeg_unavailable() -> str | None:
    try:
        import jpeglib
    except ImportError:
        return "jpeglib is not installed (pip install jpeglib)"
    if _MOZJPEG not in jpeglib.version.versions():
        return f"this jpeglib build lacks {_MOZJPEG}"
    return None


def _mozjpeg(sample: Sample, quality: int) -> Coded:
    """mozjpeg 4.0.3 with its defaults (progressive, trellis quantisation, its own tables)."""
    import jpeglib

    # jpeglib only writes files; the folder goes away with the file in it.
    with tempfile.TemporaryDirectory(prefix="msroi-bench-") as tmp:
        path = os.path.join(tmp, "out.jpg")
        with jpeglib.version(_MOZJPEG):
            jpeglib.from_spatial(sample.pixels).write_spatial(path, qt=quality)
        return Coded(Path(path).read_bytes(), quality)


register(Encoder("jpeg", _pillow_encoder(), competitor=True))
register(Encoder("jpeg-optimize", _pillow_encoder(optimize=True), competitor=True))
register(Encoder("mozjpeg", _mozjpeg, competitor=True, unavailable=_mozjpeg_unavailable))
for _rule in range(1, 7):
    register(Encoder(f"blend-r{_rule}", semantic_encoder(rule=_rule), semantic=True))
register(Encoder("blend-centre", semantic_encoder(centre=True), semantic=True))
# Methods beyond the paper's blend (e.g. "dct") join with their centred-map control;
# "auto" is one of the others, so it would only repeat it.
for _method in METHODS:
    if _method not in ("blend", "auto"):
        register(Encoder(_method, semantic_encoder(rule=None, method=_method), semantic=True))
        register(Encoder(f"{_method}-centre", semantic_encoder(rule=None, method=_method, centre=True), semantic=True))


# --------------------------------------------------------------------------
# Maps
# --------------------------------------------------------------------------


def spectral_residual(image: Image.Image | np.ndarray, *, side: int = 64, sigma: float = 2.5) -> np.ndarray:
    """Spectral residual saliency (Hou & Zhang, CVPR 2007), float32 (H, W) in [0, 1].

    The grey image is shrunk so its longer side is ``side`` pixels; the log amplitude
    spectrum minus its 3x3 local mean (the "residual", what the average natural-image
    spectrum does not predict) is recombined with the original phase; the squared inverse
    transform is smoothed by a Gaussian of ``sigma`` small-image pixels (2.5, as in the
    authors' released code; the paper's text says 8) and stretched back to full size.
    """
    from scipy import ndimage  # scipy is slow to import; only this and the metrics need it

    im = Image.fromarray(np.asarray(image)) if isinstance(image, np.ndarray) else image
    width, height = im.size
    scale = side / max(width, height)
    small_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    grey = np.asarray(im.convert("L").resize(small_size, Image.BILINEAR), dtype=np.float64)
    spectrum = np.fft.fft2(grey)
    # The epsilon keeps log finite for exactly zero coefficients (flat synthetic images).
    log_amplitude = np.log(np.abs(spectrum) + 1e-12)
    residual = log_amplitude - ndimage.uniform_filter(log_amplitude, size=3, mode="nearest")
    saliency = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))) ** 2
    saliency = ndimage.gaussian_filter(saliency, sigma, mode="nearest")
    full = Image.fromarray(saliency.astype(np.float32), "F").resize((width, height), Image.BILINEAR)
    return maps.normalize(np.asarray(full, dtype=np.float32))


def _network_map(image: Image.Image, kind: str = "default") -> np.ndarray:
    from . import roi_map

    return np.asarray(roi_map(image, kind=kind), dtype=np.float32)


def _network_encoding_map(image: Image.Image, kind: str = "default") -> np.ndarray:
    from . import _native, roi

    return _native.upsample_bilinear(roi.encoding_map(image, kind=kind), image.height, image.width)


def map_for(kind: str, image: Image.Image, encoding: bool = False) -> np.ndarray:
    """The ``kind`` map of ``image`` at its size; the network may raise OSError/ImportError.

    With ``encoding``, a network map is the one ``semantic=True`` encodes with by default
    (``roi.encoding_map``, flattened by ``ENCODING_GAMMA``), stretched to the image;
    without, it is ``roi_map`` itself, the map scored against fixations.
    """
    if kind == "centre":
        return _centre_map(image.height, image.width)
    if kind == "spectral":
        return spectral_residual(image)
    if kind == "network" or kind.startswith("network-"):
        net_kind = kind.removeprefix("network-") if kind != "network" else "default"
        return _network_encoding_map(image, net_kind) if encoding else _network_map(image, net_kind)
    raise ValueError(f"unknown map kind {kind!r}")


def _network_unavailable_message(exc: BaseException) -> str:
    return (
        f"the MSROI network is not available ({exc}); "
        "pass --map-kind centre (or spectral) to benchmark with a map that needs no model"
    )


# --------------------------------------------------------------------------
# Running the codec benchmark
# --------------------------------------------------------------------------


class Progress:
    """One self-rewriting stderr line (a line per step when stderr is not a terminal)."""

    def __init__(self, total: int, label: str) -> None:
        self.total, self.label, self.start = total, label, time.monotonic()
        self.tty = sys.stderr.isatty()

    def update(self, done: int, note: str = "") -> None:
        elapsed = time.monotonic() - self.start
        left = elapsed / done * (self.total - done) if done else 0.0
        bar = "#" * (20 * done // max(self.total, 1))
        line = (
            f"{self.label} [{bar:<20}] {done}/{self.total} {_clock(elapsed)} elapsed, "
            f"~{_clock(left)} left {note}"
        )
        if self.tty:
            sys.stderr.write("\r" + line[:150].ljust(150))
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.tty:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m:02d}:{s:02d}"


def image_paths(folder: Path, limit: int | None = None) -> list[Path]:
    """Images in ``folder`` (not recursive), sorted by name, the first ``limit`` of them."""
    if not folder.is_dir():
        raise BenchError(f"{folder} is not a folder")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES and p.is_file())
    if not paths:
        raise BenchError(f"no images ({', '.join(sorted(_IMAGE_SUFFIXES))}) in {folder}")
    return paths[:limit] if limit is not None else paths


def _scores(sample: Sample, coded: Coded) -> dict[str, float]:
    from . import metrics  # imports scipy: kept out of ``msroi --help``

    decoded = np.asarray(Image.open(io.BytesIO(coded.data)).convert("RGB"))
    return metrics.all_metrics(sample.pixels, decoded, weights=sample.roi)


def _row(sample: Sample, encoder: str, method: str, matched_to: str, role: str, quality: int,
         coded: Coded | None, scores: dict[str, float] | None, map_kind: str) -> dict[str, Any]:  # fmt: skip
    h, w = sample.pixels.shape[:2]
    return {
        "image": sample.name, "width": w, "height": h, "encoder": encoder, "method": method,
        "matched_to": matched_to, "role": role, "quality": quality, "map_kind": map_kind,
        # No file (nothing fitted the target) leaves an empty row, so the gap stays visible.
        "final_quality": coded.quality if coded else None, "bytes": len(coded.data) if coded else None,
        **(scores or dict.fromkeys(METRICS)),
    }  # fmt: skip


def bench_sample(sample: Sample, encoders: Sequence[Encoder], qualities: Sequence[int],
                 curve_qualities: Sequence[int], map_kind: str) -> list[dict[str, Any]]:  # fmt: skip
    """All rows of one image: every encoder at every quality, plus the matched competitors.

    Rows at ``qualities`` have role ``main``; the other curve qualities ``curve``.  For each
    semantic file at a main quality, each competitor is re-encoded at the highest quality
    whose file is no larger (role ``matched``, encoder ``COMPETITOR@SEMANTIC``, same
    nominal ``quality`` as the semantic row, so the pair is (image, quality, matched_to)).
    """
    # Semantic files of similar size land on the same competitor qualities again and
    # again; each (encoder, quality) is encoded and scored once.
    files: dict[tuple[str, int], Coded] = {}
    scored: dict[tuple[str, int], dict[str, float]] = {}

    def encode(enc: Encoder, quality: int) -> Coded:
        if (enc.name, quality) not in files:
            files[enc.name, quality] = enc.encode(sample, quality)
        return files[enc.name, quality]

    def score(enc: Encoder, quality: int) -> dict[str, float]:
        if (enc.name, quality) not in scored:
            scored[enc.name, quality] = _scores(sample, files[enc.name, quality])
        return scored[enc.name, quality]

    rows = []
    competitors = [e for e in encoders if e.competitor]
    for quality in sorted(set(qualities) | set(curve_qualities)):
        role = "main" if quality in qualities else "curve"
        for enc in encoders:
            coded = encode(enc, quality)
            rows.append(_row(sample, enc.name, enc.name, "", role, quality, coded, score(enc, quality), map_kind))
            if role != "main" or not enc.semantic:
                continue
            for comp in competitors:
                fit = budget.highest_quality_within(
                    lambda q, comp=comp: encode(comp, q).data, len(coded.data), guess=quality
                )
                q_fit = fit.quality
                matched, scores = (encode(comp, q_fit), score(comp, q_fit)) if q_fit is not None else (None, None)
                rows.append(_row(sample, f"{comp.name}@{enc.name}", comp.name, enc.name, "matched",
                                 quality, matched, scores, map_kind))  # fmt: skip
    return rows


def _select_encoders(names: Sequence[str] | None) -> tuple[list[Encoder], list[str]]:
    """The encoders to run (the reference always) and notes on those that cannot run."""
    wanted = list(ENCODERS) if not names else list(dict.fromkeys([REFERENCE, *names]))
    unknown = [n for n in wanted if n not in ENCODERS]
    if unknown:
        raise BenchError(f"unknown encoder(s) {', '.join(unknown)}; known: {', '.join(ENCODERS)}")
    chosen, notes = [], []
    for name in wanted:
        reason = ENCODERS[name].unavailable()
        if reason is None:
            chosen.append(ENCODERS[name])
        else:
            notes.append(f"`{name}` skipped: {reason}")
    return chosen, notes


def _load_sample(path: Path, map_kind: str, slack: float) -> Sample:
    with Image.open(path) as opened:
        image = opened.convert("RGB")
    if min(image.size) < MIN_SIDE:
        raise BenchError(f"{path.name} is {image.width}x{image.height}; MS-SSIM needs at least {MIN_SIDE} per side")
    try:
        roi = map_for(map_kind, image, encoding=True)
    except (OSError, ImportError) as exc:
        raise BenchError(_network_unavailable_message(exc)) from exc
    if not roi.any():
        # A flat map favours nothing; uniform weights keep roi_psnr defined (it equals psnr).
        roi = np.ones_like(roi)
    return Sample(path.name, image, np.asarray(image), roi, slack)


def run_bench(folder: Path, out: Path, *, qualities: Sequence[int] = DEFAULT_QUALITIES,
              curve_qualities: Sequence[int] = CURVE_QUALITIES, slack: float = DEFAULT_SLACK,
              limit: int | None = None, map_kind: str = "network", encoders: Sequence[str] | None = None,
              plots: bool = True, seed: int = 0, command: str = "", progress: bool = True) -> Path:  # fmt: skip
    """Run the codec benchmark on ``folder``; write results.csv, summary.md and the plots to ``out``."""
    if map_kind not in MAP_KINDS:
        raise BenchError(f"--map-kind must be one of {', '.join(MAP_KINDS)}, got {map_kind!r}")
    bad = [q for q in [*qualities, *curve_qualities] if not 1 <= q <= 100]
    if bad:
        raise BenchError(f"qualities must be 1..100, got {bad}")
    if plots:
        _pyplot()  # fail before hours of encoding, not after
    chosen, notes = _select_encoders(encoders)
    paths = image_paths(folder, limit)
    bar = Progress(len(paths), "bench") if progress else None
    # The first image (and with it the map) is loaded before any output is written, so a
    # missing network fails without leaving an empty results.csv behind.
    first = _load_sample(paths[0], map_kind, slack)
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "results.csv"
    # Written row by row so an interrupted run still leaves every finished image.
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for i, path in enumerate(paths):
            if bar:
                bar.update(i, path.name)
            sample = first if i == 0 else _load_sample(path, map_kind, slack)
            writer.writerows(_csv_ready(r) for r in bench_sample(sample, chosen, qualities, curve_qualities, map_kind))
            f.flush()
        if bar:
            bar.update(len(paths), "done")
            bar.close()
    meta = [
        f"Command: `{command}`" if command else "",
        f"Images: {len(paths)} from `{folder}`; map: `{map_kind}`; main qualities {list(qualities)}; "
        f"curve qualities {list(curve_qualities)}; slack {slack}; bootstrap seed {seed}.",
        *notes,
    ]
    if map_kind == "centre":
        meta.append(
            "The map is the centred Gaussian itself, so each method and its `-centre` control are "
            "the same encoder here; the rule rows show only what the rules do with a centre map."
        )
    rows = load_rows(csv_path)
    write_summary(rows, out / "summary.md", meta=[m for m in meta if m], seed=seed)
    if plots:
        write_plots(rows, out)
    return out


def _csv_ready(row: dict[str, Any]) -> dict[str, Any]:
    # repr of a plain float round-trips exactly (numpy scalars would print as np.float64(...)).
    return {k: ("" if v is None else repr(float(v)) if isinstance(v, float) else v) for k, v in row.items()}


def load_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a results.csv with numbers parsed (empty cells become NaN / None)."""
    ints = {"width", "height", "quality", "final_quality", "bytes"}
    rows = []
    with open(path, newline="") as f:
        for raw in csv.DictReader(f):
            row: dict[str, Any] = dict(raw)
            for key in ints:
                row[key] = int(raw[key]) if raw[key] else None
            for key in METRICS:
                row[key] = float(raw[key]) if raw[key] else math.nan
            rows.append(row)
    return rows


# --------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------


def bootstrap_ci(values: np.ndarray, seed: int = 0, resamples: int = 2000) -> tuple[float, float]:
    """Percentile 95 % interval of the mean, resampling the values (images) with replacement."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, size=(resamples, values.size))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(lo), float(hi)


def _fmt(metric: str, value: float, sign: bool = False) -> str:
    if not math.isfinite(value):
        return "–" if math.isnan(value) else ("+inf" if value > 0 else "-inf")
    digits = 4 if metric in ("ssim", "ms_ssim", "vifp") else 2
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def _table(header: Sequence[str], body: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return lines


@dataclass(frozen=True)
class Delta:
    """Per-image differences of one candidate against a matched reference."""

    candidate: str  # encoder name of the candidate rows, e.g. "blend-r3" or "mozjpeg@blend-r3"
    reference: str  # e.g. "jpeg@blend-r3"
    quality: int | None  # None: each image's mean over the main qualities
    per_image: dict[str, dict[str, float]]  # metric -> image -> delta (finite only)
    bytes_ratio: float  # mean candidate bytes / reference bytes over the paired rows


def paired_deltas(rows: Sequence[dict[str, Any]], candidate: str, reference: str) -> list[Delta]:
    """Deltas candidate - reference per main quality and pooled (mean over qualities per image)."""
    index = {(r["image"], r["quality"], r["encoder"]): r for r in rows if r["role"] in ("main", "matched")}
    qualities = sorted({q for (_, q, e) in index if e == candidate})
    out = []
    pooled: dict[str, dict[str, list[float]]] = {m: defaultdict(list) for m in METRICS}
    ratios_all: list[float] = []
    for q in qualities:
        per: dict[str, dict[str, float]] = {m: {} for m in METRICS}
        ratios = []
        for (image, quality, enc), cand in index.items():
            ref = index.get((image, quality, reference))
            if enc != candidate or quality != q or ref is None or not cand["bytes"] or not ref["bytes"]:
                continue
            ratios.append(cand["bytes"] / ref["bytes"])
            for m in METRICS:
                d = cand[m] - ref[m]
                if math.isfinite(d):
                    per[m][image] = d
                    pooled[m][image].append(d)
        ratios_all += ratios
        out.append(Delta(candidate, reference, q, per, float(np.mean(ratios)) if ratios else math.nan))
    if len(qualities) > 1:
        per_pooled = {m: {img: float(np.mean(v)) for img, v in pooled[m].items()} for m in METRICS}
        out.append(Delta(candidate, reference, None, per_pooled, float(np.mean(ratios_all)) if ratios_all else math.nan))
    return out


def _delta_cells(delta: Delta, seed: int) -> list[str]:
    cells = []
    for m in METRICS:
        values = np.array(list(delta.per_image[m].values()))
        if values.size == 0:
            cells.append("–")
            continue
        lo, hi = bootstrap_ci(values, seed)
        wins = int((values > 0).sum())
        cells.append(f"{_fmt(m, values.mean(), True)} [{_fmt(m, lo, True)}, {_fmt(m, hi, True)}] {wins}/{values.size}")
    return cells


def write_summary(rows: Sequence[dict[str, Any]], path: Path, meta: Sequence[str] = (), seed: int = 0) -> None:
    """summary.md: means per encoder and quality, then paired deltas at equal bytes."""
    lines = ["# Benchmark: semantic JPEG against plain JPEG at equal bytes", ""]
    lines += [f"{m}  " for m in meta] + [""] if meta else []
    lines += [
        "Every semantic file (`blend-*`) sets a byte target; each competitor is re-encoded at "
        "the highest quality whose file is no larger (rows `COMPETITOR@SEMANTIC`), so in every "
        "pair below the competitor has at most the semantic file's bytes. Metrics are on luma "
        "except `psnr_rgb`; `roi_psnr` is PSNR weighted by the run's map. mozjpeg runs with "
        "its defaults (progressive, trellis quantisation); the others write baseline files.",
        "",
        "## Means per encoder",
        "",
    ]
    groups: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if r["role"] in ("main", "matched"):
            groups[(r["encoder"], r["quality"])].append(r)
    body = []
    for (enc, q), members in sorted(groups.items(), key=lambda kv: (kv[0][1], "@" in kv[0][0], kv[0][0])):
        scored = [r for r in members if r["bytes"]]
        finals = [r["final_quality"] for r in scored if r["final_quality"] is not None]
        body.append([
            enc, str(q), f"{len(scored)}/{len(members)}",
            f"{np.mean([r['bytes'] for r in scored]):,.0f}" if scored else "–",
            f"{np.mean(finals):.1f}" if finals else "–",
            *(_fmt(m, _finite_mean([r[m] for r in scored])) for m in METRICS),
        ])  # fmt: skip
    lines += _table(["encoder", "quality", "n", "mean bytes", "mean final q", *METRICS], body)

    semantic = sorted({r["matched_to"] for r in rows if r["role"] == "matched"})
    competitors = sorted({r["method"] for r in rows if r["role"] == "matched"})
    lines += [
        "",
        f"## Paired deltas against plain JPEG at equal bytes (`{REFERENCE}@SEMANTIC`)",
        "",
        "Each cell: mean delta over images [bootstrap 95 % interval of the mean, 2000 resamples "
        f"over images, seed {seed}] and wins (images where the candidate scores higher)/images. "
        "Positive = better than plain JPEG with no more bytes. Quality `all` is each image's "
        "mean delta over the main qualities. `bytes ratio` is candidate / reference bytes.",
        "",
    ]
    header = ["candidate", "quality", "bytes ratio", *METRICS]
    lines += _delta_table(rows, [(s, f"{REFERENCE}@{s}") for s in semantic], header, seed)
    others = [c for c in competitors if c != REFERENCE]
    if others:
        lines += [
            "",
            "The other competitors at the same byte targets, against plain JPEG (how much a "
            "better plain encoder gains with no map at all):",
            "",
        ]
        pairs = [(f"{c}@{s}", f"{REFERENCE}@{s}") for s in semantic for c in others]
        lines += _delta_table(rows, pairs, header, seed)
    for comp in others:
        lines += ["", f"## Semantic encoders against `{comp}` at equal bytes (`{comp}@SEMANTIC`)", ""]
        lines += _delta_table(rows, [(s, f"{comp}@{s}") for s in semantic], header, seed)
    missing = [r for r in rows if r["role"] == "matched" and not r["bytes"]]
    if missing:
        lines += ["", f"{len(missing)} matched rows had no quality small enough and are left out of the deltas."]
    path.write_text("\n".join(lines) + "\n")


def _delta_table(rows: Sequence[dict[str, Any]], pairs: Sequence[tuple[str, str]],
                 header: Sequence[str], seed: int) -> list[str]:  # fmt: skip
    body = []
    for candidate, reference in pairs:
        for d in paired_deltas(rows, candidate, reference):
            quality = "all" if d.quality is None else str(d.quality)
            body.append([candidate, quality, f"{d.bytes_ratio:.3f}", *_delta_cells(d, seed)])
    return _table(header, body)


def _finite_mean(values: Iterable[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


# --------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise BenchError(
            "plots need matplotlib: pip install 'pillow-msroi[bench]' (or pass --no-plots)"
        ) from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_plots(rows: Sequence[dict[str, Any]], out: Path) -> list[Path]:
    """rd_METRIC.png (bits per pixel against the metric, mean over images, one line per
    encoder over its qualities) and deltas_METRIC.png (per-image delta of each semantic
    encoder against plain JPEG at its bytes, mean over the main qualities)."""
    plt = _pyplot()
    written = []
    # One colour per encoder in every figure, in registry order (matched rows never plot).
    names = list(dict.fromkeys([*ENCODERS, *(r["encoder"] for r in rows if r["role"] != "matched")]))
    colour = {name: f"C{i % 10}" for i, name in enumerate(names)}
    direct = [r for r in rows if r["role"] in ("main", "curve") and r["bytes"]]
    by_encoder: dict[str, dict[int, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in direct:
        by_encoder[r["encoder"]][r["quality"]].append(r)
    for m in METRICS:
        fig, ax = plt.subplots(figsize=(7, 5))
        for enc, per_q in by_encoder.items():
            qs = sorted(per_q)
            bpp = [np.mean([8 * r["bytes"] / (r["width"] * r["height"]) for r in per_q[q]]) for q in qs]
            val = [_finite_mean(r[m] for r in per_q[q]) for q in qs]
            style = "-" if enc in ENCODERS and ENCODERS[enc].competitor else "--"
            ax.plot(bpp, val, style, color=colour[enc], marker="o", markersize=3, label=enc)
        ax.set_xlabel("bits per pixel (file bytes x 8 / pixels), mean over images")
        ax.set_ylabel(f"{m}, mean over images")
        ax.set_title(f"Rate-distortion: {m}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        written.append(_save(fig, out / f"rd_{m}.png", plt))

    semantic = sorted({r["matched_to"] for r in rows if r["role"] == "matched"})
    images = sorted({r["image"] for r in rows})
    # Each semantic encoder's deltas pooled over the main qualities (or its only quality).
    pooled: dict[str, Delta | None] = {}
    for s in semantic:
        deltas = paired_deltas(rows, s, f"{REFERENCE}@{s}")
        pooled[s] = next((d for d in deltas if d.quality is None), deltas[0] if deltas else None)
    for m in METRICS:
        fig, ax = plt.subplots(figsize=(max(7, 0.45 * len(images) + 2), 4.5))
        width = 0.8 / max(len(semantic), 1)
        for k, s in enumerate(semantic):
            per = pooled[s].per_image[m] if pooled[s] is not None else {}
            x = np.arange(len(images)) + (k - (len(semantic) - 1) / 2) * width
            ax.bar(x, [per.get(img, math.nan) for img in images], width, color=colour.get(s, "C0"), label=s)
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xticks(np.arange(len(images)), [Path(i).stem for i in images], rotation=90, fontsize=7)
        ax.set_ylabel(f"delta {m} vs {REFERENCE} at equal bytes")
        ax.set_title(f"{m}: per-image delta vs plain JPEG at equal bytes (mean over main qualities)", fontsize=10)
        ax.legend(fontsize=7, ncol=4)
        written.append(_save(fig, out / f"deltas_{m}.png", plt))
    return written


def _save(fig: Any, path: Path, plt: Any) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------
# Maps against fixations
# --------------------------------------------------------------------------

MAP_SCORES = ("nss", "auc_judd", "cc")
DEFAULT_MAPS = ("network", "centre", "spectral")
#: ``bench-maps --dataset`` choices (``fixations.DATASETS``, restated so ``msroi --help`` imports nothing more).
DATASET_TITLES = {"osie": "OSIE", "mit1003": "MIT1003"}
#: Gaussian sigma of the fixation density for CC, as a fraction of the longer side.
DENSITY_SIGMA = 0.025


def _fixation_images(folder: Path, split: str, dataset: str = "osie") -> list[Any]:
    # The training recipe imports the same splits, so the readout never saw these images.
    from . import fixations

    try:
        ds = fixations.dataset(dataset)
        if not (folder / ds.fixations).is_file() or not (folder / "stimuli").is_dir():
            raise BenchError(f"{folder} needs {ds.fixations} and stimuli/ (the {ds.title} layout)")
        images = ds.load(folder)
    except (OSError, ValueError) as exc:
        raise BenchError(str(exc)) from None
    if split == "all":
        return images
    _, val = ds.split(images)
    if not val:
        raise BenchError(f"{folder} has {len(images)} images, too few for the validation split; pass --split all")
    return val


def bench_maps(folder: Path, *, out: Path | None = None, limit: int | None = None, split: str = "val",
               maps: Sequence[str] = DEFAULT_MAPS, seed: int = 0, progress: bool = True,
               dataset: str = "osie") -> str:  # fmt: skip
    """Score each map against the fixations of every image; returns the Markdown report
    (also written to ``out/maps.md`` with per-image ``out/maps.csv`` when ``out`` is given)."""
    if split not in ("val", "all"):
        raise BenchError(f"--split must be val or all, got {split!r}")
    images = _fixation_images(folder, split, dataset)[:limit]
    active, notes = list(maps), []
    scores: dict[str, dict[str, list[float]]] = {k: {s: [] for s in MAP_SCORES} for k in active}
    per_image: list[dict[str, Any]] = []
    bar = Progress(len(images), "bench-maps") if progress else None
    for i, rec in enumerate(images):
        if bar:
            bar.update(i, rec.name)
        with Image.open(folder / "stimuli" / rec.name) as opened:
            image = opened.convert("RGB")
        density = fixation_density(rec.fix_x, rec.fix_y, rec.height, rec.width, DENSITY_SIGMA)
        for kind in list(active):
            try:
                m = map_for(kind, image)
            except (OSError, ImportError) as exc:
                if not kind.startswith("network"):
                    raise
                active.remove(kind)
                notes.append(f"`{kind}` skipped: the MSROI network is not available ({exc}).")
                continue
            values = {"nss": nss(m, rec.fix_x, rec.fix_y), "auc_judd": auc_judd(m, rec.fix_x, rec.fix_y), "cc": cc(m, density)}
            for s, v in values.items():
                scores[kind][s].append(v)
            per_image.append({"image": rec.name, "map": kind, "fixations": len(rec.fix_x), **values})
    if bar:
        bar.update(len(images), "done")
        bar.close()
    lines = [
        f"# ROI maps against {DATASET_TITLES.get(dataset, dataset)} fixations ({split} split, {len(images)} images)",
        "",
        "NSS and AUC-Judd on the pooled fixations of the 15 viewers; CC against the fixations "
        f"blurred by a Gaussian of sigma {DENSITY_SIGMA:.1%} of the longer side. Mean [bootstrap 95 % "
        f"interval over images, seed {seed}].",
        "",
        *[f"{n}  " for n in notes],
        *([""] if notes else []),
    ]
    body = []
    for kind in active:
        cells = []
        for s in MAP_SCORES:
            v = np.array(scores[kind][s])
            lo, hi = bootstrap_ci(v, seed)
            cells.append(f"{v.mean():.3f} [{lo:.3f}, {hi:.3f}]" if v.size else "–")
        body.append([kind, *cells])
    lines += _table(["map", *MAP_SCORES], body)
    report = "\n".join(lines) + "\n"
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "maps.md").write_text(report)
        with open(out / "maps.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["image", "map", "fixations", *MAP_SCORES])
            writer.writeheader()
            writer.writerows(_csv_ready(r) for r in per_image)
    return report


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def _qualities(text: str) -> int:
    q = int(text)
    if not 1 <= q <= 100:
        raise argparse.ArgumentTypeError(f"quality must be 1..100, got {q}")
    return q


def _positive(text: str) -> int:
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def add_parsers(subparsers: Any) -> None:
    """Add the ``bench`` and ``bench-maps`` subcommands (``func=`` set) to argparse subparsers."""
    b = subparsers.add_parser("bench", help="compare encoders against plain JPEG at equal bytes")
    b.add_argument("folder", metavar="DIR", type=Path, help="folder of test images")
    b.add_argument("--out", required=True, type=Path, help="folder for results.csv, summary.md and plots")
    b.add_argument("--quality", action="extend", nargs="+", type=_qualities, metavar="Q",
                   help=f"qualities compared at equal bytes (default {' '.join(map(str, DEFAULT_QUALITIES))})")  # fmt: skip
    b.add_argument("--curve-quality", action="extend", nargs="+", type=_qualities, metavar="Q",
                   help=f"extra qualities for the rate-distortion curves (default {CURVE_QUALITIES[0]}..{CURVE_QUALITIES[-1]} by 10)")  # fmt: skip
    b.add_argument("--slack", type=float, default=DEFAULT_SLACK, help="semantic byte slack over plain JPEG (default %(default)s)")
    b.add_argument("--limit", type=_positive, help="only the first N images (by name)")
    b.add_argument("--map-kind", choices=MAP_KINDS, default="network",
                   help="map for the semantic encoders and the roi_psnr weights (default %(default)s)")  # fmt: skip
    b.add_argument("--encoders", action="extend", nargs="+", metavar="NAME",
                   help=f"encoders to run (jpeg always runs; default all: {' '.join(ENCODERS)})")  # fmt: skip
    b.add_argument("--seed", type=int, default=0, help="bootstrap seed (default %(default)s)")
    b.add_argument("--no-plots", action="store_true", help="skip the PNGs (no matplotlib needed)")
    b.set_defaults(func=_cmd_bench)

    m = subparsers.add_parser("bench-maps", help="score ROI maps against eye fixations (OSIE or MIT1003)")
    m.add_argument("folder", metavar="DIR", type=Path,
                   help="dataset folder: OSIE (fixations.mat, stimuli/) or MIT1003 (fixations.json, stimuli/)")  # fmt: skip
    m.add_argument("--dataset", choices=tuple(DATASET_TITLES), default="osie",
                   help="which fixations DIR holds (default %(default)s)")  # fmt: skip
    m.add_argument("--out", type=Path, help="folder for maps.md and per-image maps.csv")
    m.add_argument("--limit", type=_positive, help="only the first N images of the split")
    m.add_argument("--split", choices=("val", "all"), default="val",
                   help="val: the validation split, never trained on (default; OSIE 200, MIT1003 300 photos); all: every image")  # fmt: skip
    m.add_argument("--maps", action="extend", nargs="+", metavar="KIND",
                   help="maps to score: network, network-msroi, network-readout, centre, spectral (default network centre spectral)")  # fmt: skip
    m.add_argument("--seed", type=int, default=0, help="bootstrap seed (default %(default)s)")
    m.set_defaults(func=_cmd_bench_maps)


def _reporting_errors(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Print BenchError as ``msroi: error: ...`` with status 2, as the CLI does for its own errors."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except BenchError as exc:
            print(f"msroi: error: {exc}", file=sys.stderr)
            return 2

    return run


def _command_line(args: argparse.Namespace) -> str:
    """The run as a full ``msroi bench`` command, defaults spelled out, for the summary."""
    parts = ["msroi", "bench", str(args.folder), "--out", str(args.out),
             "--quality", *map(str, args.quality or DEFAULT_QUALITIES),
             "--curve-quality", *map(str, args.curve_quality or CURVE_QUALITIES),
             "--slack", str(args.slack), "--map-kind", args.map_kind, "--seed", str(args.seed)]  # fmt: skip
    if args.limit is not None:
        parts += ["--limit", str(args.limit)]
    if args.encoders:
        parts += ["--encoders", *args.encoders]
    if args.no_plots:
        parts.append("--no-plots")
    return shlex.join(parts)


@_reporting_errors
def _cmd_bench(args: argparse.Namespace) -> int:
    out = run_bench(
        args.folder, args.out, qualities=tuple(args.quality or DEFAULT_QUALITIES),
        curve_qualities=tuple(args.curve_quality or CURVE_QUALITIES), slack=args.slack,
        limit=args.limit, map_kind=args.map_kind, encoders=args.encoders, plots=not args.no_plots,
        seed=args.seed, command=_command_line(args),
    )  # fmt: skip
    print(f"wrote {out / 'results.csv'}, {out / 'summary.md'}" + ("" if args.no_plots else " and plots"))
    return 0


@_reporting_errors
def _cmd_bench_maps(args: argparse.Namespace) -> int:
    known = {*MAP_KINDS, *(f"network-{k}" for k in KINDS if k != "default")}
    maps = list(dict.fromkeys(args.maps or DEFAULT_MAPS))
    unknown = sorted(set(maps) - known)
    if unknown:
        raise BenchError(f"unknown map(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    print(bench_maps(args.folder, out=args.out, limit=args.limit, split=args.split, maps=maps, seed=args.seed,
                     dataset=args.dataset), end="")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m pillow_msroi.bench {bench,bench-maps} ...`` (the same as ``msroi ...``)."""
    parser = argparse.ArgumentParser(prog="python -m pillow_msroi.bench")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("msroi: interrupted; results.csv holds the images finished so far", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
