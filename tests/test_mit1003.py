"""MIT1003 fixations: loader, seeded split, and ``bench-maps --dataset mit1003``, on generated folders."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pillow_msroi.eval import cli
from pillow_msroi.eval import datasets as fixations
from pillow_msroi.eval import fixations as bench
from pillow_msroi.eval.mit1003 import MIT1003_TRAIN, MIT1003_VAL, is_synthetic, load_mit1003, mit1003_split


def _write_mit(root: Path, n_photos: int, n_synthetic: int = 2) -> dict[str, list[list[float]]]:
    """Photos of 96x64 (one 64x96) with a bright square that the pooled points sit on."""
    (root / "stimuli").mkdir(parents=True)
    rng = np.random.default_rng(5)
    table: dict[str, list[list[float]]] = {}
    names = [f"i{k:03d}.jpg" for k in range(n_photos)] + [f"syntheticData{k + 1}.jpg" for k in range(n_synthetic)]
    for k, name in enumerate(names):
        w, h = (64, 96) if k == 1 else (96, 64)
        pixels = np.full((h, w, 3), 80, np.uint8)
        x0, y0 = 10 + 3 * k % 40, 8
        pixels[y0 : y0 + 20, x0 : x0 + 20] = 230
        Image.fromarray(pixels).save(root / "stimuli" / name, quality=95)
        pts = np.column_stack([x0 + rng.uniform(0, 19, 30), y0 + rng.uniform(0, 19, 30)])
        table[name] = pts.round(2).tolist()
    # Points on the last pixel's far edge round up past it; the loader keeps them inside.
    table["i000.jpg"].append([95.49, 63.6])
    (root / "fixations.json").write_text(json.dumps(table))
    return table


def test_loader_rounds_0_based_points_inside_the_image(tmp_path: Path) -> None:
    table = _write_mit(tmp_path, 5)
    images = load_mit1003(tmp_path)
    assert [r.name for r in images] == sorted(table)
    first = images[0]
    assert (first.width, first.height) == (96, 64)
    assert len(first.fix_x) == 31 and first.fix_x.dtype == np.int64
    pts = np.asarray(table["i000.jpg"])
    np.testing.assert_array_equal(first.fix_x[:30], np.round(pts[:30, 0]).astype(int))  # 0-based: no shift
    assert (first.fix_x[-1], first.fix_y[-1]) == (95, 63)
    portrait = images[1]
    assert (portrait.width, portrait.height) == (64, 96)


def test_loader_errors(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="fixations.json not found"):
        load_mit1003(tmp_path)
    (tmp_path / "fixations.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="must map file names"):
        load_mit1003(tmp_path)
    (tmp_path / "fixations.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_mit1003(tmp_path)


def test_split_is_seeded_disjoint_and_leaves_the_synthetic_patterns_out(tmp_path: Path) -> None:
    _write_mit(tmp_path, 20, n_synthetic=4)
    images = load_mit1003(tmp_path)
    train, val = mit1003_split(images, n_val=6)
    again = mit1003_split(list(reversed(images)), n_val=6)  # input order does not matter
    assert [r.name for r in train] == [r.name for r in again[0]]
    assert [r.name for r in val] == [r.name for r in again[1]]
    assert len(train) == 14 and len(val) == 6
    assert not {r.name for r in train} & {r.name for r in val}
    assert not any(is_synthetic(r.name) for r in train + val)
    expected = sorted(r.name for r in images if not is_synthetic(r.name))
    order = np.random.default_rng(2009).permutation(20)
    assert [r.name for r in val] == sorted(expected[i] for i in order[:6])
    other = mit1003_split(images, seed=1, n_val=6)[1]
    assert [r.name for r in other] != [r.name for r in val]
    assert MIT1003_TRAIN + MIT1003_VAL == 999


def test_recorded_split_files_match_the_rule() -> None:
    """models/splits/ records the splits; they must be what the code computes."""
    from pillow_msroi.training.data import shared_root

    splits = Path(__file__).resolve().parent.parent / "models" / "splits"
    for name in fixations.DATASETS:
        folder = shared_root() / "data" / name
        if not (folder / "stimuli").is_dir():
            pytest.skip(f"{folder} not available")
        train, val = fixations.load_split(folder, name)
        assert (splits / f"{name}_train.txt").read_text().split() == [r.name for r in train]
        assert (splits / f"{name}_val.txt").read_text().split() == [r.name for r in val]


def test_dataset_registry() -> None:
    assert fixations.DATASETS == ("osie", "mit1003") == tuple(bench.DATASET_TITLES)
    assert fixations.dataset("mit1003").fixations == "fixations.json"
    with pytest.raises(ValueError, match="unknown fixation dataset 'cat2000'; known: osie, mit1003"):
        fixations.dataset("cat2000")


def test_bench_maps_on_mit1003(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "mit"
    _write_mit(root, 4)
    out = tmp_path / "out"
    assert cli.main(["bench-maps", str(root), "--dataset", "mit1003", "--maps", "centre", "spectral",
                       "--out", str(out)]) == 0  # fmt: skip
    report = capsys.readouterr().out
    assert "against MIT1003 fixations (val split, 4 images)" in report  # the 2 patterns are in no split
    with open(out / "maps.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["image"] for r in rows} == {f"i{k:03d}.jpg" for k in range(4)}
    spectral = [r for r in rows if r["map"] == "spectral"]
    assert all(float(r["auc_judd"]) > 0.8 and float(r["nss"]) > 0.7 for r in spectral)  # measured >= 0.87, >= 0.96
    assert cli.main(["bench-maps", str(root), "--dataset", "mit1003", "--split", "all", "--maps", "centre"]) == 0
    assert "(all split, 6 images)" in capsys.readouterr().out
    # An OSIE folder is not an MIT1003 folder: the error names the layout wanted.
    assert cli.main(["bench-maps", str(tmp_path), "--dataset", "mit1003"]) == 2
    assert "needs fixations.json and stimuli/ (the MIT1003 layout)" in capsys.readouterr().err
