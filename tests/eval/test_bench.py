"""``msroi bench`` and ``msroi bench-maps`` on tiny generated data (a few seconds in all)."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pillow_msroi.eval import cli, encoders, fixations, maps, report, results, runner

QUALITIES = (50,)
CURVES = (30, 80)
SIZE = (192, 176)  # MS-SSIM's minimum side is 176


def _photo(seed: int) -> Image.Image:
    """Smooth shading, a few shapes and mild noise: enough detail for JPEG to lose some."""
    rng = np.random.default_rng(seed)
    w, h = SIZE
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    base = 90 + 60 * np.sin(x / (9 + 4 * seed)) * np.cos(y / 13) + 40 * (x / w)
    rgb = np.stack([base, base * 0.8 + 30, 200 - base * 0.5], axis=-1)
    rgb[60:110, 70:130] = (220, 40 + 30 * seed, 60)
    rgb += rng.normal(0, 6, rgb.shape)
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("images")
    for i in range(2):
        _photo(i).save(folder / f"img{i}.png")
    (folder / "notes.txt").write_text("not an image")
    return folder


@pytest.fixture(scope="module")
def run(images: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out")
    return runner.run_bench(
        images, out, qualities=QUALITIES, curve_qualities=CURVES, map_kind="centre", progress=False
    )


def _rows(out: Path) -> list[dict[str, str]]:
    with open(out / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


def _active() -> tuple[list[str], list[str], list[str]]:
    names = [n for n, e in encoders.ENCODERS.items() if e.unavailable() is None]
    semantic = [n for n in names if encoders.ENCODERS[n].semantic]
    competitors = [n for n in names if encoders.ENCODERS[n].competitor]
    return names, semantic, competitors


def test_csv_columns_and_rows(run: Path) -> None:
    with open(run / "results.csv", newline="") as f:
        header = next(csv.reader(f))
    assert tuple(header) == results.COLUMNS
    for name in ("image", "encoder", "quality", "bytes", "psnr", "ssim", "ms_ssim", "vifp",
                 "psnr_hvs", "psnr_hvs_m", "psnr_rgb", "roi_psnr"):  # fmt: skip
        assert name in header
    rows = _rows(run)
    names, semantic, competitors = _active()
    qualities = sorted(set(QUALITIES) | set(CURVES))
    per_image = len(names) * len(qualities) + len(semantic) * len(competitors) * len(QUALITIES)
    assert len(rows) == 2 * per_image
    assert {r["image"] for r in rows} == {"img0.png", "img1.png"}
    direct = {(r["image"], r["encoder"], int(r["quality"])) for r in rows if r["role"] != "matched"}
    assert direct == {(f"img{i}.png", n, q) for i in range(2) for n in names for q in qualities}
    assert {r["role"] for r in rows if int(r["quality"]) in CURVES and r["role"] != "matched"} == {"curve"}
    plain = [r for r in rows if r["encoder"] == "jpeg"]
    assert all(r["final_quality"] == r["quality"] for r in plain)
    for r in rows:
        assert int(r["bytes"]) > 0
        assert 15 < float(r["psnr"]) < 60 and 15 < float(r["roi_psnr"]) < 60
        assert 0 < float(r["ssim"]) <= 1 and 0 < float(r["ms_ssim"]) <= 1 and 0 < float(r["vifp"]) <= 1.01


def test_equal_bytes_pairing(run: Path, images: Path) -> None:
    rows = _rows(run)
    target = {(r["image"], r["quality"], r["encoder"]): int(r["bytes"]) for r in rows if r["role"] == "main"}
    matched = [r for r in rows if r["role"] == "matched"]
    _, semantic, competitors = _active()
    assert {r["matched_to"] for r in matched} == set(semantic)
    assert {r["method"] for r in matched} == set(competitors)
    samples = {p.name: runner._load_sample(p, "centre", 0.0) for p in images.glob("*.png")}
    for r in matched:
        assert r["encoder"] == f"{r['method']}@{r['matched_to']}"
        limit = target[(r["image"], r["quality"], r["matched_to"])]
        assert int(r["bytes"]) <= limit
        q = int(r["final_quality"])
        if q < 100:  # one step up would already be over the semantic file's bytes
            bigger = encoders.ENCODERS[r["method"]].encode(samples[r["image"]], q + 1)
            assert len(bigger.data) > limit


def test_summary_and_plots(run: Path) -> None:
    text = (run / "summary.md").read_text()
    _, semantic, competitors = _active()
    assert "## Means per encoder" in text
    assert "## Paired deltas against plain JPEG at equal bytes" in text
    assert "and its `-centre` control are the same encoder" in text
    for name in semantic:
        assert f"| {name} | {QUALITIES[0]} |" in text
        assert f"| jpeg@{name} | {QUALITIES[0]} |" in text
    row = next(line for line in text.splitlines() if line.startswith(f"| blend-r3 | {QUALITIES[0]} | 1."))
    assert "/2 |" in row and "[" in row  # interval and wins out of two images
    for comp in competitors:
        if comp != "jpeg":
            assert f"against `{comp}` at equal bytes" in text
    for m in results.METRICS:
        for kind in ("rd", "deltas"):
            with Image.open(run / f"{kind}_{m}.png") as im:
                assert im.format == "PNG" and im.width > 300


def test_summary_is_reproducible(run: Path, tmp_path: Path) -> None:
    rows = results.load_rows(run / "results.csv")
    report.write_summary(rows, tmp_path / "a.md", seed=3)
    report.write_summary(rows, tmp_path / "b.md", seed=3)
    assert (tmp_path / "a.md").read_text() == (tmp_path / "b.md").read_text()


def test_bootstrap_interval() -> None:
    assert results.bootstrap_ci(np.full(5, 2.0)) == (2.0, 2.0)
    values = np.arange(20.0)
    lo, hi = results.bootstrap_ci(values, seed=1)
    assert lo < values.mean() < hi and (lo, hi) == results.bootstrap_ci(values, seed=1)
    assert all(math.isnan(v) for v in results.bootstrap_ci(np.array([])))


def test_registry_takes_a_new_encoder_in_one_line(images: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(encoders.ENCODERS, "extra-r5", encoders.Encoder("extra-r5", encoders.semantic_encoder(rule=5), semantic=True))
    out = runner.run_bench(images, tmp_path, qualities=(60,), curve_qualities=(), map_kind="spectral",
                          limit=1, encoders=["extra-r5"], plots=False, progress=False)  # fmt: skip
    rows = _rows(out)
    assert {r["encoder"] for r in rows} == {"jpeg", "extra-r5", "jpeg@extra-r5"}  # jpeg always runs
    assert "| extra-r5 | 60 |" in (out / "summary.md").read_text()
    with pytest.raises(ValueError, match="@"):
        encoders.register(encoders.Encoder("a@b", encoders.semantic_encoder()))


def test_cli_errors(images: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def missing(*args: object, **kwargs: object) -> np.ndarray:
        raise OSError("MSROI model not found at /nowhere")

    monkeypatch.setattr(maps, "_network_map", missing)
    monkeypatch.setattr(maps, "_network_encoding_map", missing)
    assert cli.main(["bench", str(images), "--out", str(tmp_path / "o"), "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert "not available" in err and "--map-kind centre" in err
    assert cli.main(["bench", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert cli.main(["bench", str(images), "--out", str(tmp_path / "o"), "--encoders", "nonesuch"]) == 2
    assert "unknown encoder" in capsys.readouterr().err


def test_add_parsers_sets_func() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    cli.add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["bench", "d", "--out", "o", "--quality", "30", "--quality", "40", "60"])
    assert args.quality == [30, 40, 60] and callable(args.func)
    args = parser.parse_args(["bench-maps", "d", "--split", "all", "--limit", "3"])
    assert args.split == "all" and args.limit == 3 and callable(args.func)
    with pytest.raises(SystemExit):
        parser.parse_args(["bench", "d", "--out", "o", "--quality", "0"])


def test_spectral_residual_peaks_on_a_lone_square() -> None:
    flat = np.full((120, 160), 100, np.uint8)
    flat[70:86, 30:46] = 230
    saliency = maps.spectral_residual(flat)
    assert saliency.shape == flat.shape and saliency.dtype == np.float32
    assert saliency.min() == 0.0 and saliency.max() == 1.0
    y, x = np.unravel_index(saliency.argmax(), saliency.shape)
    assert 70 <= y < 86 and 30 <= x < 46
    assert saliency[70:86, 30:46].mean() > 5 * saliency.mean()
    rgb = Image.fromarray(np.stack([flat] * 3, axis=-1))
    np.testing.assert_allclose(maps.spectral_residual(rgb), saliency, atol=1e-6)


# --------------------------------------------------------------------------
# bench-maps on a synthetic OSIE-like folder
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def osie(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three 200x150 stimuli with a bright square each, and 15 viewers who look at it."""
    import scipy.io

    root = tmp_path_factory.mktemp("osie")
    (root / "stimuli").mkdir()
    rng = np.random.default_rng(7)
    records = np.zeros((3,), dtype=[("img", "O"), ("subjects", "O")])
    for i in range(3):
        pixels = np.full((150, 200, 3), 90, np.uint8)
        x0, y0 = 20 + 50 * i, 30 + 20 * i
        pixels[y0 : y0 + 30, x0 : x0 + 30] = 240
        name = f"{1001 + i}.jpg"
        Image.fromarray(pixels).save(root / "stimuli" / name, quality=95)
        subjects = np.zeros((15,), dtype=[("fix_x", "O"), ("fix_y", "O"), ("fix_duration", "O")])
        for k in range(15):
            # 1-based pixels; the last one lies outside the image and must be dropped.
            xs = np.append(x0 + 1 + rng.uniform(0, 30, 4), 500.0)
            ys = np.append(y0 + 1 + rng.uniform(0, 30, 4), 20.0)
            subjects[k] = (xs, ys, np.full(5, 200.0))
        records[i] = (name, subjects)
    scipy.io.savemat(root / "fixations.mat", {"fixations": records})
    return root


def test_bench_maps_scores(osie: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(*args: object, **kwargs: object) -> np.ndarray:
        raise OSError("MSROI model not found at /nowhere")

    monkeypatch.setattr(maps, "_network_map", missing)
    monkeypatch.setattr(maps, "_network_encoding_map", missing)
    report = fixations.bench_maps(osie, out=tmp_path, split="all", progress=False)
    assert "(all split, 3 images)" in report
    assert "`network` skipped" in report
    with open(tmp_path / "maps.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["map"] for r in rows} == {"centre", "spectral"} and len(rows) == 6
    assert all(r["fixations"] == "60" for r in rows)  # 15 viewers x 4 inside the image
    for r in rows:
        assert 0.0 <= float(r["auc_judd"]) <= 1.0 and -1.0 <= float(r["cc"]) <= 1.0
        assert math.isfinite(float(r["nss"]))
    spectral = [r for r in rows if r["map"] == "spectral"]
    assert all(float(r["auc_judd"]) > 0.8 and float(r["nss"]) > 1.0 and float(r["cc"]) > 0.3 for r in spectral)
    assert (tmp_path / "maps.md").read_text() == report


def test_bench_maps_validation_split_needs_the_full_set(osie: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["bench-maps", str(osie)]) == 2
    assert "--split all" in capsys.readouterr().err
    assert cli.main(["bench-maps", str(osie), "--split", "all", "--maps", "centre", "--limit", "2"]) == 0
    out = capsys.readouterr().out
    assert "(all split, 2 images)" in out and "| centre |" in out


def test_target_too_small_for_any_competitor(images: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def grey(sample: encoders.Sample, quality: int) -> encoders.Coded:
        # A greyscale file at quality 1 is smaller than any colour JPEG of the image.
        buf = io.BytesIO()
        sample.image.convert("L").save(buf, "JPEG", quality=1)
        return encoders.Coded(buf.getvalue(), 1)

    monkeypatch.setitem(encoders.ENCODERS, "grey", encoders.Encoder("grey", grey, semantic=True))
    out = runner.run_bench(images, tmp_path, qualities=(50,), curve_qualities=(), map_kind="centre",
                          limit=1, encoders=["grey"], progress=False)  # fmt: skip
    matched = [r for r in _rows(out) if r["role"] == "matched"]
    assert len(matched) == 1 and matched[0]["bytes"] == "" and matched[0]["psnr"] == ""
    assert "1 matched rows had no quality small enough" in (out / "summary.md").read_text()
    assert (out / "deltas_psnr.png").is_file()


def test_min_side_is_what_the_metrics_need() -> None:
    from pillow_msroi.eval import metrics

    assert runner.MIN_SIDE == metrics.MS_SSIM_MIN_SIDE


def test_every_registered_encoder_has_its_own_colour() -> None:
    colours = report.encoder_colours(list(encoders.ENCODERS))
    assert len(colours) == len(encoders.ENCODERS)
    assert len(set(colours.values())) == len(colours)


def test_progress_gives_no_estimate_before_the_first_step(capsys) -> None:
    from pillow_msroi.eval.progress import Progress

    bar = Progress(6, "bench")
    bar.update(0, "first.png")
    err = capsys.readouterr().err
    assert "--:-- left" in err and "~00:00" not in err


def test_summary_names_every_semantic_encoder(images: Path, tmp_path: Path) -> None:
    out = runner.run_bench(images, tmp_path, qualities=(50,), curve_qualities=(), map_kind="centre",
                           limit=1, encoders=["dct", "blend-r3"], plots=False, progress=False)  # fmt: skip
    text = (out / "summary.md").read_text()
    assert "Every semantic file (`blend-r3`, `dct`)" in text
