"""msroi compare: the picture and the numbers under it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from imaging import synthetic_rgb
from PIL import Image

from pillow_msroi import cli
from pillow_msroi.eval import compare


def test_extreme_windows_find_the_hot_and_the_cold_corner():
    m = np.zeros((100, 160), np.float32)
    m[60:90, 110:150] = 1.0  # hot
    m[:40, :40] = -1.0  # cold
    hot, cold = compare.extreme_windows(m, 32)
    assert 110 - 8 <= hot[0] <= 118 and 58 - 8 <= hot[1] <= 60
    assert cold[0] <= 8 and cold[1] <= 8
    # A window larger than the image is clipped to it.
    assert compare.extreme_windows(m, 500) == ((0, 0), (0, 0))


def test_compare_puts_equal_bytes_side_by_side(tmp_path: Path, capsys):
    pytest.importorskip("ssimulacra2")
    im = synthetic_rgb(192, 160)
    ramp = np.tile(np.linspace(0, 1, 12, dtype=np.float32), (10, 1))  # favours the right
    m = tmp_path / "m.png"
    Image.fromarray((ramp * 255).astype(np.uint8)).save(m)
    src = tmp_path / "in.png"
    im.save(src)
    out = tmp_path / "c.png"
    assert cli.main(["compare", str(src), "-o", str(out), "--quality", "40", "--map", str(m)]) == 0
    text = capsys.readouterr().out
    assert "plain JPEG at equal bytes" in text and "SSIMULACRA2" in text and f"wrote {out}" in text
    with Image.open(out) as pic:
        assert pic.format == "PNG" and pic.width > 3 * compare.FRAME_WIDTH
    result = compare.compare(im, quality=40, map=ramp, crop=48)
    assert result.favoured[0] > result.unfavoured[0]  # right side favoured, left not
    plain_bytes = int(result.text[0].split("plain at equal bytes ")[1].split(" bytes")[0].replace(",", ""))
    semantic_bytes = int(result.text[0].split("semantic ")[1].split(" bytes")[0].replace(",", ""))
    assert plain_bytes <= semantic_bytes
    assert [p.pixels.shape for p in result.panels] == [(160, 192, 3)] * 3


def test_compare_refuses_a_non_png_name(tmp_path: Path, capsys):
    with pytest.raises(SystemExit):
        cli.main(["compare", str(tmp_path / "in.png"), "-o", str(tmp_path / "c.jpg")])
    assert "give a .png name" in capsys.readouterr().err


def test_compare_keeps_a_jpeg_source_as_it_is():
    pytest.importorskip("ssimulacra2")
    import io

    buf = io.BytesIO()
    synthetic_rgb(192, 160).save(buf, "JPEG", quality=75)
    buf.seek(0)
    source = Image.open(buf)
    source.load()
    ramp = np.tile(np.linspace(0, 1, 12, dtype=np.float32), (10, 1))
    result = compare.compare(source, quality=75, map=ramp, crop=48)
    # At the source's own quality the semantic file stays on its grid ("keep" tables).
    assert "tables keep" in result.panels[2].name
