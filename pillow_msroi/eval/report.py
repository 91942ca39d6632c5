"""summary.md and the plots of a benchmark run."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import BenchError
from .encoders import ENCODERS
from .results import METRICS, REFERENCE, Delta, bootstrap_ci, paired_deltas


def _fmt(metric: str, value: float, sign: bool = False) -> str:
    if not math.isfinite(value):
        return "–" if math.isnan(value) else ("+inf" if value > 0 else "-inf")
    digits = 4 if metric in ("ssim", "ms_ssim", "vifp") else 2
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"

def _table(header: Sequence[str], body: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return lines

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
    semantic_names = sorted({r["matched_to"] for r in rows if r["role"] == "matched"})
    lines += [
        f"Every semantic file ({', '.join(f'`{n}`' for n in semantic_names) or 'none in this run'}) "
        "sets a byte target; each competitor is re-encoded at "
        "the highest quality whose file is no larger (rows `COMPETITOR@SEMANTIC`), so in every "
        "pair below the competitor has at most the semantic file's bytes. Metrics are on luma "
        "except `psnr_rgb` and `ssimulacra2` (RGB); `roi_psnr` is PSNR weighted by the run's map. mozjpeg runs with "
        "its defaults (progressive, trellis quantisation), jpegli with its own (adaptive "
        "quantization); the others write baseline files.",
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

def encoder_colours(names: Sequence[str]) -> dict[str, tuple[float, float, float]]:
    """A colour per distinct name, in order: the 20 of matplotlib's tab20, dark shades
    first, so that no two of up to 20 encoders share one (the registry has 13)."""
    import matplotlib

    palette = matplotlib.colormaps["tab20"].colors
    order = [*palette[0::2], *palette[1::2]]
    return {name: order[i % len(order)] for i, name in enumerate(dict.fromkeys(names))}


def write_plots(rows: Sequence[dict[str, Any]], out: Path) -> list[Path]:
    """rd_METRIC.png (bits per pixel against the metric, mean over images, one line per
    encoder over its qualities) and deltas_METRIC.png (per-image delta of each semantic
    encoder against plain JPEG at its bytes, mean over the main qualities)."""
    plt = _pyplot()
    written = []
    # One colour per encoder in every figure, in registry order (matched rows never plot).
    colour = encoder_colours([*ENCODERS, *(r["encoder"] for r in rows if r["role"] != "matched")])
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
        # Beside the axes, never over the bars.
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
        written.append(_save(fig, out / f"deltas_{m}.png", plt))
    return written

def _save(fig: Any, path: Path, plt: Any) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
