"""Folders of images: pillow_msroi._batch and ``msroi compress`` over many files."""

from __future__ import annotations

import io
import json
import os
import stat
import sys

import numpy as np
import pytest
from imaging import synthetic_rgb
from PIL import Image

import pillow_msroi
from pillow_msroi import _batch as batch
from pillow_msroi import cli


@pytest.fixture
def tree(tmp_path):
    """photos/{a.png, b.tif, sub/c.png, sub/deeper/d.png, .hidden.png, notes.txt}"""
    root = tmp_path / "photos"
    (root / "sub" / "deeper").mkdir(parents=True)
    synthetic_rgb(96, 64, seed=1).save(root / "a.png")
    synthetic_rgb(80, 64, seed=2).save(root / "b.tif")
    synthetic_rgb(64, 96, seed=3).save(root / "sub" / "c.png")
    synthetic_rgb(64, 64, seed=4).save(root / "sub" / "deeper" / "d.png")
    synthetic_rgb(32, 32, seed=5).save(root / ".hidden.png")
    (root / "notes.txt").write_text("not an image")
    return root


@pytest.fixture
def flat_map(tmp_path):
    path = tmp_path / "flat.png"
    Image.fromarray(np.tile(np.arange(8, dtype=np.uint8) * 30, (8, 1))).save(path)
    return path


def _files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def _expected(path, **options):
    """A serial encode() of one input, with the EXIF/ICC/dpi a batch keeps."""
    with Image.open(path) as im:
        kept = {k: im.info[k] for k in ("exif", "icc_profile", "dpi") if im.info.get(k)}
        return pillow_msroi.encode(batch.jpeg_ready(im), **options, **kept)


def test_folder_without_and_with_recursion(tree, tmp_path):
    out = tmp_path / "out" / "new"  # made, parents too
    assert cli.main(["compress", str(tree), "--out-dir", str(out), "--jobs", "1", "-q"]) == 0
    assert _files(out) == ["a.jpg", "b.jpg"]
    assert cli.main(["compress", str(tree), "-r", "--out-dir", str(out), "--jobs", "1", "-q"]) == 0
    assert _files(out) == ["a.jpg", "b.jpg", "sub/c.jpg", "sub/deeper/d.jpg"]
    assert (out / "sub" / "deeper" / "d.jpg").read_bytes() == _expected(tree / "sub" / "deeper" / "d.png")


def test_glob_patterns_mirror_below_their_fixed_part(tree, tmp_path):
    out = tmp_path / "out"
    assert cli.main(["compress", f"{tree}/**/*.png", "--out-dir", str(out), "--jobs", "1", "-q"]) == 0
    assert _files(out) == ["a.jpg", "sub/c.jpg", "sub/deeper/d.jpg"]
    with pytest.raises(batch.BatchError, match=r"\*\.gif: the pattern matches no image file"):
        batch.discover([f"{tree}/*.gif"])


def test_a_file_named_twice_is_taken_once(tree):
    sources = batch.discover([str(tree), str(tree / "a.png")])
    assert [s.relative for s in sources] == ["a.png", "b.tif"]


def test_outputs_inside_the_input_folder_are_not_inputs(tree):
    out = tree / "small"
    assert cli.main(["compress", str(tree), "-r", "--out-dir", str(out), "--jobs", "1", "-q"]) == 0
    sources = batch.discover([str(tree)], recursive=True, exclude=str(out))
    assert not [s for s in sources if s.relative.startswith("small")]
    # A second run skips everything: its own outputs are not taken as new inputs.
    rows = list(batch.run(batch.plan(sources, out_dir=str(out)), batch.SaveOptions(), processes=1))
    assert [r.status for r in rows] == ["skipped"] * 4


def test_collisions_name_the_inputs(tree, tmp_path, capsys):
    synthetic_rgb(40, 40).save(tree / "a.jpeg")
    out = tmp_path / "out"
    assert cli.main(["compress", str(tree), "--out-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{tree / 'a.jpeg'} and {tree / 'a.png'} would all be written to {out / 'a.jpg'}" in err
    assert not out.exists()


def test_existing_outputs_are_skipped_unless_forced(tree, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.jpg").write_bytes(b"old")
    assert cli.main(["compress", str(tree), "--out-dir", str(out), "--jobs", "1"]) == 0
    text = capsys.readouterr().out
    assert "a.jpg: exists, skipped (pass --force to overwrite)" in text
    assert "msroi: 1 written, 1 skipped (existing), 0 failed" in text
    assert (out / "a.jpg").read_bytes() == b"old"
    assert cli.main(["compress", str(tree), "--out-dir", str(out), "--jobs", "1", "--force", "-q"]) == 0
    assert (out / "a.jpg").read_bytes() == _expected(tree / "a.png")
    assert capsys.readouterr().out == ""  # --quiet


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_new_outputs_follow_the_umask(tree, tmp_path, flat_map, umask):
    out = tmp_path / "o.jpg"
    old = os.umask(umask)
    try:
        assert cli.main(["compress", str(tree / "a.png"), "-o", str(out), "--map", str(flat_map)]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask


def test_an_overwritten_output_keeps_its_mode(tree, tmp_path, flat_map):
    out = tmp_path / "o.jpg"
    out.write_bytes(b"old")
    out.chmod(0o640)
    assert cli.main(["compress", str(tree / "a.png"), "-o", str(out), "--map", str(flat_map), "--force"]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o640 and out.read_bytes() != b"old"


def test_a_symlinked_output_is_written_through(tree, tmp_path, flat_map):
    real = tmp_path / "store" / "real.jpg"
    real.parent.mkdir()
    real.write_bytes(b"old")
    real.chmod(0o644)
    link = tmp_path / "link.jpg"
    link.symlink_to(real)
    assert cli.main(["compress", str(tree / "a.png"), "-o", str(link), "--map", str(flat_map), "--force"]) == 0
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_bytes() == _expected(tree / "a.png", map=batch.read_map(flat_map))
    assert stat.S_IMODE(real.stat().st_mode) == 0o644
    # A dangling link gets its target made.
    real.unlink()
    assert cli.main(["compress", str(tree / "a.png"), "-o", str(link), "--map", str(flat_map)]) == 0
    assert link.is_symlink() and real.is_file()
    assert [p.name for p in real.parent.iterdir()] == ["real.jpg"]  # no temporary file left


def test_an_output_that_is_a_folder_fails_clearly(tree, tmp_path, flat_map, capsys):
    (tmp_path / "x.jpg").mkdir()
    assert cli.main(["compress", str(tree / "a.png"), "-o", str(tmp_path / "x.jpg"), "--map", str(flat_map), "--force"]) == 1
    assert "x.jpg is a folder; give a file name" in capsys.readouterr().err


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_manifest_rows_and_exit_status(tree, tmp_path, suffix, capsys):
    (tree / "broken.png").write_bytes(b"\x89PNG not really")
    out, manifest = tmp_path / "out", tmp_path / "reports" / f"rows{suffix}"
    code = cli.main(["compress", str(tree), "--out-dir", str(out), "--manifest", str(manifest), "--jobs", "1", "--quality", "60"])
    assert code == 1  # one file failed
    err = capsys.readouterr().err
    assert f"msroi: error: {tree / 'broken.png'}: cannot read as an image" in err
    with open(manifest, newline="") as fp:
        rows = {r["input"]: r for r in batch.read_manifest(fp, batch.manifest_format(str(manifest)))}
    assert set(rows) == {str(tree / n) for n in ("a.png", "b.tif", "broken.png")}
    bad = rows[str(tree / "broken.png")]
    assert bad["status"] == "failed" and "cannot read as an image" in bad["error"]
    good = rows[str(tree / "a.png")]
    assert good["status"] == "written" and not good["error"]
    assert int(good["bytes"]) == (out / "a.jpg").stat().st_size <= int(good["plain_bytes"])
    assert int(good["quality"]) == 60 and good["method"] == "dct" and float(good["seconds"]) > 0
    assert int(good["input_bytes"]) == (tree / "a.png").stat().st_size
    assert list(rows[str(tree / "a.png")]) == list(batch.MANIFEST_FIELDS)


def test_summary_counts_and_bytes():
    rows = [
        batch.Row("a", "a.jpg", "written", input_bytes=5000, bytes=900, plain_bytes=1000),
        batch.Row("b", "b.jpg", "written", input_bytes=3000, bytes=450, plain_bytes=500),
        batch.Row("c", "c.jpg", "skipped", bytes=10),
        batch.Row("d", "d.jpg", "failed", error="bad"),
    ]
    s = batch.Summary.of(rows)
    assert (s.written, s.skipped, s.failed, s.failures) == (2, 1, 1, ["d"])
    assert s.text() == (
        "2 written, 1 skipped (existing), 1 failed; inputs 8.0 KB -> outputs 1.4 KB, "
        "-10.0 % against plain JPEG (1.5 KB)"
    )


def test_two_processes_write_what_one_does(tree, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    assert cli.main(["compress", str(tree), "-r", "--out-dir", str(one), "--jobs", "1", "-q"]) == 0
    assert cli.main(["compress", str(tree), "-r", "--out-dir", str(two), "--jobs", "2", "-q"]) == 0
    assert _files(one) == _files(two) == ["a.jpg", "b.jpg", "sub/c.jpg", "sub/deeper/d.jpg"]
    for name in _files(one):
        assert (one / name).read_bytes() == (two / name).read_bytes()
    assert (two / "b.jpg").read_bytes() == _expected(tree / "b.tif")


def test_worker_processes_report_failures_as_rows(tree, tmp_path):
    (tree / "broken.png").write_bytes(b"nope")
    sources = batch.discover([str(tree)])
    jobs = batch.plan(sources, out_dir=str(tmp_path / "out"))
    rows = {r.input: r for r in batch.run(jobs, batch.SaveOptions(quality=50), processes=2)}
    assert rows[str(tree / "broken.png")].status == "failed"
    assert [rows[str(tree / n)].status for n in ("a.png", "b.tif")] == ["written", "written"]


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_on_a_terminal_lines_otherwise(tree, tmp_path, monkeypatch, capsys):
    pytest.importorskip("tqdm")
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert cli.main(["compress", str(tree), "--out-dir", str(tmp_path / "bar"), "--jobs", "1"]) == 0
    bar = terminal.getvalue()
    assert "2/2" in bar and "img/s" in bar and "100%" in bar
    out = capsys.readouterr().out
    assert "[1/2]" not in out and "msroi: 2 written" in out
    monkeypatch.undo()
    assert cli.main(["compress", str(tree), "--out-dir", str(tmp_path / "lines"), "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "[1/2] " in out and "[2/2] " in out and "plain JPEG q75" in out


def test_save_options_are_checked_once():
    with pytest.raises(ValueError, match="quality must be in 1..100"):
        batch.SaveOptions(quality=0)
    with pytest.raises(ValueError, match="subsampling must be one of"):
        batch.SaveOptions(subsampling="4:1:1")
    with pytest.raises(ValueError, match="map must be 2-D"):
        batch.SaveOptions(map=np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="give it a JPEG name"):
        batch.plan([batch.Source("a.png", "a.png")], output="a.webp")


def test_manifest_rows_round_trip_as_json(tmp_path):
    row = batch.Row("in.png", "out.jpg", "written", 10, 5, 6, 75, 80, "dct", 0.5, None)
    text = batch.manifest_text([row], "jsonl")
    assert json.loads(text) == {f: getattr(row, f) for f in batch.MANIFEST_FIELDS}
