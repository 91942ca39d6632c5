"""The msroi command line."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from imaging import centred_map, synthetic_rgb
from PIL import Image, ImageCms

import pillow_msroi
from pillow_msroi import _maps as maps
from pillow_msroi import _roi as roi
from pillow_msroi import cli
from pillow_msroi._stretch_cy import upsample_bilinear


@pytest.fixture
def inputs(tmp_path):
    paths = []
    for i in range(2):
        p = tmp_path / f"img{i}.png"
        synthetic_rgb(96, 64, seed=i).save(p)
        paths.append(p)
    m = tmp_path / "map.png"
    Image.fromarray((centred_map(24, 16) * 255).astype(np.uint8)).save(m)
    return paths, m


def test_compress_one_file(inputs, tmp_path, capsys):
    (src, _), m = inputs
    out = tmp_path / "out.jpg"
    assert cli.main(["compress", str(src), "-o", str(out), "--map", str(m), "--quality", "60"]) == 0
    with Image.open(out) as im:
        assert im.format == "JPEG" and im.size == (96, 64)
    line = capsys.readouterr().out
    assert f"{out.stat().st_size:,} bytes" in line and "plain JPEG q60" in line
    with Image.open(src) as im:
        expected = pillow_msroi.encode(im.convert("RGB"), quality=60, map=np.asarray(Image.open(m), float))
    assert out.read_bytes() == expected


def test_out_dir_and_options(inputs, tmp_path):
    paths, _ = inputs
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    # Without --map the network's map is used, as encode() uses it.
    assert cli.main(["compress", *map(str, paths), "--out-dir", str(out_dir), "--progressive"]) == 0
    for p in paths:
        out = out_dir / f"{p.stem}.jpg"
        with Image.open(out) as im:
            assert im.info.get("progressive") == 1
        with Image.open(p) as im:
            expected = pillow_msroi.encode(im.convert("RGB"), progressive=True)
        assert out.read_bytes() == expected


def test_missing_model_fails_loudly_and_writes_nothing(inputs, tmp_path, monkeypatch, capsys):
    paths, _ = inputs
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    monkeypatch.setenv("MSROI_MODEL", str(tmp_path / "nowhere.onnx"))
    assert cli.main(["compress", *map(str, paths), "--out-dir", str(out_dir)]) == 1
    err = capsys.readouterr().err
    assert err.count("MSROI model not found") == 2 and "nowhere.onnx" in err
    assert not list(out_dir.iterdir())


def test_never_overwrites_an_input_without_force(inputs, tmp_path, capsys):
    (src, _), m = inputs
    jpg = tmp_path / "in.jpg"
    synthetic_rgb(40, 30).save(jpg)
    before = jpg.read_bytes()
    assert cli.main(["compress", str(jpg), "-o", str(jpg), "--map", str(m)]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    assert jpg.read_bytes() == before
    assert cli.main(["compress", str(jpg), "-o", str(jpg), "--map", str(m), "--force"]) == 0
    assert jpg.read_bytes() != before


def test_errors_leave_no_partial_output(inputs, tmp_path, capsys):
    (src, _), m = inputs
    bad = tmp_path / "not_an_image.png"
    bad.write_bytes(b"hello")
    out = tmp_path / "o.jpg"
    assert cli.main(["compress", str(bad), "-o", str(out), "--map", str(m)]) == 1
    assert "cannot read as an image (not a format Pillow reads)" in capsys.readouterr().err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--quality", "0"], "argument --quality: 0 is not an integer quality 1..100"),
        (["--quality", "high"], "argument --quality: 'high' is not an integer quality 1..100"),
        (["--slack", "-0.1"], "argument --slack: -0.1 is not a fraction 0..10"),
        (["--jobs", "0"], "argument -j/--jobs: 0 is not a positive number of processes"),
        (["--max-pixels", "0"], "argument --max-pixels: 0 is not a positive number of pixels"),
        (["--manifest", "rows.txt"], "name it .csv or .jsonl"),
    ],
)
def test_arguments_are_checked_when_parsed(inputs, tmp_path, capsys, args, match):
    (src, _), m = inputs
    with pytest.raises(SystemExit) as exc:
        cli.main(["compress", str(src), "-o", str(tmp_path / "o.jpg"), "--map", str(m), *args])
    assert exc.value.code == 2
    assert match in capsys.readouterr().err
    assert not (tmp_path / "o.jpg").exists()


@pytest.mark.parametrize("name", ["out.png", "out", "out.jpg.tmp"])
def test_output_must_have_a_jpeg_name(inputs, tmp_path, capsys, name):
    (src, _), m = inputs
    with pytest.raises(SystemExit):
        cli.main(["compress", str(src), "-o", str(tmp_path / name), "--map", str(m)])
    assert "give it a JPEG name (.jpg, .jpeg, .jpe, .jfif)" in capsys.readouterr().err
    assert not (tmp_path / name).exists()


@pytest.mark.parametrize("name", ["out.JPG", "out.jpeg", "out.jpe", "out.jfif"])
def test_every_jpeg_name_is_accepted(inputs, tmp_path, name):
    (src, _), m = inputs
    assert cli.main(["compress", str(src), "-o", str(tmp_path / name), "--map", str(m)]) == 0
    with Image.open(tmp_path / name) as im:
        assert im.format == "JPEG"


def test_missing_output_folders_are_created(inputs, tmp_path):
    paths, m = inputs
    out = tmp_path / "a" / "b" / "o.jpg"
    assert cli.main(["compress", str(paths[0]), "-o", str(out), "--map", str(m)]) == 0
    assert out.is_file()
    out_dir = tmp_path / "new" / "dir"
    assert cli.main(["compress", str(paths[0]), "--out-dir", str(out_dir), "--map", str(m)]) == 0
    assert (out_dir / "img0.jpg").is_file()


def test_interrupt_removes_the_temporary_file(inputs, tmp_path, monkeypatch):
    (src, _), m = inputs
    out = tmp_path / "o.jpg"

    def interrupted_fsync(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.os, "fsync", interrupted_fsync)
    assert cli.main(["compress", str(src), "-o", str(out), "--map", str(m)]) == 130
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img0.png", "img1.png", "map.png"]


def test_argument_errors(inputs, tmp_path, capsys):
    paths, m = inputs
    assert cli.main(["compress", *map(str, paths), "-o", str(tmp_path / "x.jpg")]) == 2
    assert "-o/--output takes one input, got 2 files" in capsys.readouterr().err
    assert cli.main(["compress", *map(str, paths), "--out-dir", str(tmp_path / "o"), "--map", str(m)]) == 2
    assert "--map belongs to one image" in capsys.readouterr().err
    assert cli.main(["compress", str(tmp_path / "nothing.png"), "--out-dir", str(tmp_path / "o")]) == 2
    assert "nothing.png: no such file or folder" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    with pytest.raises(SystemExit):
        cli.main(["compress", str(paths[0]), "-o", "x.jpg", "--rule", "7"])


def test_version_and_entry_point(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "pillow_msroi", "--version"], capture_output=True, text=True, check=True, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(Path(pillow_msroi.__file__).parent.parent)},
    )
    assert done.stdout.strip() == f"msroi {pillow_msroi.__version__}"


def test_full_disk_leaves_no_file_and_keeps_an_old_output(inputs, tmp_path, monkeypatch, capsys):
    (src, _), m = inputs
    out = tmp_path / "o.jpg"
    out.write_bytes(b"previous result")

    def no_space(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli.os, "fsync", no_space)
    assert cli.main(["compress", str(src), "-o", str(out), "--map", str(m), "--force"]) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert out.read_bytes() == b"previous result"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def _read_only_folder(tmp_path: Path) -> Path:
    """A folder no one may write into: a read-only bind mount as root (root ignores
    permissions), the permissions otherwise; skips where neither can be had."""
    folder = tmp_path / "locked"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o500)
        return folder
    done = subprocess.run(["mount", "--bind", "-o", "ro", str(folder), str(folder)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"root without mount rights: {done.stderr.decode().strip()}")
    return folder


@pytest.fixture
def locked_folder(tmp_path):
    folder = _read_only_folder(tmp_path)
    yield folder
    if os.geteuid() == 0:
        subprocess.run(["umount", str(folder)], check=True)
    else:
        folder.chmod(0o700)


def test_unwritable_output_folder(inputs, locked_folder, capsys):
    (src, _), m = inputs
    assert cli.main(["compress", str(src), "--out-dir", str(locked_folder), "--map", str(m)]) == 1
    assert "cannot write" in capsys.readouterr().err
    assert list(locked_folder.iterdir()) == []


def test_output_under_a_regular_file(inputs, tmp_path, capsys):
    # A folder that cannot exist, for any user: its parent is a file.
    (src, _), m = inputs
    blocker = tmp_path / "a_file"
    blocker.write_bytes(b"x")
    assert cli.main(["compress", str(src), "-o", str(blocker / "o.jpg"), "--map", str(m)]) == 1
    assert "cannot write" in capsys.readouterr().err
    assert blocker.read_bytes() == b"x"


@pytest.fixture
def full_disk(tmp_path):
    """A 64 KiB tmpfs, filled; skips where it cannot be mounted (not root)."""
    mnt = tmp_path / "full"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        (mnt / "o.jpg").write_bytes(b"previous result")
        with contextlib.suppress(OSError), open(mnt / "filler", "wb") as f:
            while True:
                f.write(b"\0" * 4096)
                f.flush()
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_really_full_disk_keeps_the_old_output(inputs, full_disk, capsys):
    (src, _), m = inputs
    out = full_disk / "o.jpg"
    assert cli.main(["compress", str(src), "-o", str(out), "--map", str(m), "--force"]) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert out.read_bytes() == b"previous result"
    assert sorted(p.name for p in full_disk.iterdir()) == ["filler", "o.jpg"]


def test_compress_keeps_exif_icc_and_dpi(tmp_path):
    exif = Image.Exif()
    exif[0x010F] = "maker"
    exif[0x0110] = "model"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    m = tmp_path / "m.png"
    Image.fromarray((centred_map(8, 6) * 255).astype(np.uint8)).save(m)
    for ext, fmt in (("jpg", "JPEG"), ("png", "PNG")):
        src = tmp_path / f"meta.{ext}"
        synthetic_rgb(64, 48).save(src, fmt, exif=exif.tobytes(), icc_profile=icc, dpi=(300, 150))
        for method in ("dct", "blend"):
            out = tmp_path / f"out_{ext}_{method}.jpg"
            assert cli.main(["compress", str(src), "-o", str(out), "--map", str(m), "--method", method]) == 0
            with Image.open(out) as im:
                assert im.getexif()[0x010F] == "maker" and im.getexif()[0x0110] == "model"
                assert im.info["icc_profile"] == icc
                assert tuple(round(d) for d in im.info["dpi"]) == (300, 150)


def test_decompression_bomb_limit(inputs, tmp_path, monkeypatch, capsys):
    (src, _), m = inputs  # 96x64 = 6,144 pixels
    out = tmp_path / "o.jpg"
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5000)
    assert cli.main(["compress", str(src), "-o", str(out), "--map", str(m)]) == 1
    err = capsys.readouterr().err
    assert "more than the limit of 5,000" in err and "--max-pixels" in err
    assert not out.exists()
    assert cli.main(["compress", str(src), "-o", str(out), "--map", str(m), "--max-pixels", "7000"]) == 0
    assert out.exists() and Image.MAX_IMAGE_PIXELS == 5000


def test_alpha_and_palette_inputs_are_flattened(tmp_path):
    src = tmp_path / "a.png"
    Image.new("RGBA", (20, 10), (255, 0, 0, 0)).save(src)
    out = tmp_path / "a.jpg"
    m = tmp_path / "m.png"
    Image.new("L", (4, 4), 128).save(m)
    assert cli.main(["compress", str(src), "-o", str(out), "--map", str(m)]) == 0
    with Image.open(out) as im:
        assert im.mode == "RGB" and min(im.getpixel((5, 5))) > 240  # transparent -> white


def test_map_command_writes_the_encoding_map_and_an_overlay(inputs, tmp_path, capsys):
    (src, _), _ = inputs
    out, overlay = tmp_path / "map.png", tmp_path / "overlay.png"
    assert cli.main(["map", str(src), "-o", str(out), "--overlay", str(overlay)]) == 0
    with Image.open(src) as im:
        rgb = im.convert("RGB")
        photo = np.asarray(rgb, dtype=np.float64)
    # What the encoder uses without a map: the network's small map ** ENCODING_GAMMA,
    # normalized, stretched over the image.
    small = roi.encoding_map(rgb)
    readout = roi.small_map(rgb).astype(np.float64)
    flat = ((readout - readout.min()) / (readout.max() - readout.min())) ** roi.ENCODING_GAMMA
    np.testing.assert_allclose(small, flat, rtol=1e-4, atol=1e-5)
    expected = upsample_bilinear(maps.prepare_map(small, 96, 64), 64, 96)
    with Image.open(out) as m:
        assert m.mode == "L" and m.size == (96, 64)
        np.testing.assert_array_equal(np.asarray(m), (expected * 255 + 0.5).astype(np.uint8))
    raw = pillow_msroi.roi_map(rgb)
    assert expected.mean() > 2 * raw.mean()  # the encoding map is much flatter than the readout
    with Image.open(overlay) as o:
        assert o.mode == "RGB" and o.size == (96, 64)
        heat = cli.heat_colors(expected).astype(np.float64)
        np.testing.assert_allclose(np.asarray(o, dtype=np.float64), 0.5 * photo + 0.5 * heat, atol=1)
    printed = capsys.readouterr().out
    assert str(out) in printed and "encoding map" in printed
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_map_command_raw_writes_the_network_map(inputs, tmp_path, capsys):
    (src, _), _ = inputs
    out = tmp_path / "raw.png"
    assert cli.main(["map", str(src), "-o", str(out), "--raw"]) == 0
    with Image.open(src) as im:
        expected = pillow_msroi.roi_map(im.convert("RGB"))
    with Image.open(out) as m:
        np.testing.assert_array_equal(np.asarray(m), (expected * 255 + 0.5).astype(np.uint8))
    assert "raw network map" in capsys.readouterr().out


def test_map_help_says_which_map(capsys):
    with pytest.raises(SystemExit):
        cli.main(["map", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "the map the encoder uses" in text and "--raw" in text


def test_map_command_kinds_differ(inputs, tmp_path):
    (src, _), _ = inputs
    maps = {}
    for kind in ("msroi", "readout"):
        path = tmp_path / f"{kind}.png"
        assert cli.main(["map", str(src), "-o", str(path), "--kind", kind]) == 0
        maps[kind] = np.asarray(Image.open(path))
    assert not np.array_equal(maps["msroi"], maps["readout"])


def test_heat_colors_run_from_blue_to_red():
    c = cli.heat_colors(np.array([0.0, 0.5, 1.0, -1.0, 2.0]))
    assert c.dtype == np.uint8 and c.shape == (5, 3)
    assert tuple(c[0]) == (0, 0, 128) and tuple(c[2]) == (220, 0, 0)
    assert tuple(c[3]) == tuple(c[0]) and tuple(c[4]) == tuple(c[2])


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--overlay", "{out}"], "name the same file"),
        (["-o", "{src}"], "is the input; refusing"),
        (["-o", "{tmp}/map.xyz"], "unknown image extension"),
    ],
)
def test_map_command_errors_write_nothing(inputs, tmp_path, capsys, extra, match):
    (src, _), _ = inputs
    out = tmp_path / "m.png"
    before = sorted(tmp_path.iterdir())
    args = ["map", str(src), "-o", str(out)] + [a.format(out=out, src=src, tmp=tmp_path) for a in extra]
    assert cli.main(args) == 2
    assert match in capsys.readouterr().err
    assert sorted(tmp_path.iterdir()) == before


def test_map_command_alpha_is_checked_when_parsed(inputs, tmp_path, capsys):
    (src, _), _ = inputs
    with pytest.raises(SystemExit) as exc:
        cli.main(["map", str(src), "-o", str(tmp_path / "m.png"), "--alpha", "1.5"])
    assert exc.value.code == 2 and "argument --alpha: 1.5 is not an opacity 0..1" in capsys.readouterr().err
    assert not (tmp_path / "m.png").exists()


def test_map_command_unreadable_input(tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    assert cli.main(["map", str(bad), "-o", str(tmp_path / "m.png")]) == 2
    assert "cannot read as an image" in capsys.readouterr().err
    assert not (tmp_path / "m.png").exists()


@pytest.mark.parametrize("mode", ["I;16", "I", "F"])
def test_wide_inputs_are_rescaled_not_clipped(tmp_path, mode):
    # A horizontal ramp over the mode's own range: Pillow's convert("L") would clip it
    # (16-bit) or flatten it (float in 0..1); the CLI spreads it over 0..255.
    ramp = np.tile(np.linspace(0.0, 1.0, 96), (64, 1))
    scale = {"I;16": 65535, "I": 65535, "F": 1.0}[mode]
    src = tmp_path / f"wide.{'png' if mode == 'I;16' else 'tif'}"
    if mode == "F":
        Image.fromarray((ramp * scale).astype(np.float32), "F").save(src)
    else:
        Image.fromarray((ramp * scale).astype(np.uint16)).convert(mode).save(src)
    out = tmp_path / "out.jpg"
    assert cli.main(["compress", str(src), "-o", str(out), "--map", str(_flat_map(tmp_path))]) == 0
    with Image.open(out) as im:
        assert im.mode == "L"
        row = np.asarray(im, dtype=np.float64)[32]
    assert row[:8].mean() < 30 and row[-8:].mean() > 225
    assert np.all(np.diff(row[::8]) > 0)


def _flat_map(tmp_path):
    path = tmp_path / "flat.png"
    Image.new("L", (8, 8), 255).save(path)
    return path
