"""JPEG sources: ``quality="keep"`` stays on the source's grid where the map points."""

from __future__ import annotations

import io

import numpy as np
import pytest
from imaging import plain_jpeg
from PIL import Image, JpegImagePlugin
from skimage import data as skdata

import pillow_msroi
from pillow_msroi._dct import KEEP_SHARE


def jpeg_source(quality: int = 80, subsampling: int = 2, size=(256, 192)) -> Image.Image:
    photo = Image.fromarray(skdata.astronaut()).resize(size)
    buf = io.BytesIO()
    photo.save(buf, "JPEG", quality=quality, subsampling=subsampling)
    buf.seek(0)
    return Image.open(buf)


def decoded(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float64)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0**2 / np.mean((a - b) ** 2)))


RIGHT = np.tile(np.linspace(0, 1, 16), (12, 1))  # favours the right of the image


@pytest.mark.parametrize("subsampling", [0, 2])
def test_keep_stays_on_the_sources_grid_where_the_map_points(subsampling):
    src = jpeg_source(subsampling=subsampling)
    source = np.asarray(src.convert("RGB"), dtype=np.float64)
    result = pillow_msroi.encode_details(src, quality="keep", map=RIGHT)
    plain = plain_jpeg(src, quality="keep")
    assert result.method == "dct" and result.quality == "keep"
    assert len(result.data) <= len(plain) == result.budget
    with Image.open(io.BytesIO(result.data)) as out:
        assert out.quantization == src.quantization  # the source's own tables
        assert JpegImagePlugin.get_sampling(out) == JpegImagePlugin.get_sampling(src)
    ours, ref = decoded(result.data), decoded(plain)
    # The favoured share of blocks keeps the source's levels: as good as a plain "keep"
    # save there; the rest is thinned, which is where the bytes are saved.
    width = src.width
    favoured = slice(int(width * (1 - KEEP_SHARE / 2)), width)  # well inside the top share
    assert psnr(source[:, favoured], ours[:, favoured]) >= psnr(source[:, favoured], ref[:, favoured]) - 0.1
    rest = slice(0, width // 3)
    assert psnr(source[:, rest], ours[:, rest]) < psnr(source[:, rest], ref[:, rest])
    assert len(result.data) < len(plain)


@pytest.mark.parametrize("size", [(256, 192), (250, 186), (97, 61)])
@pytest.mark.parametrize("subsampling", [0, 1, 2])
def test_keep_with_a_uniform_map_gives_the_plain_saves_pixels(size, subsampling):
    # Every block rounded on the source's grid with libjpeg's integer DCT and its edge
    # padding (sizes that are not whole MCUs included): the plain "keep" save's levels,
    # so the same pixels; only the optimal Huffman tables make the file smaller.
    src = jpeg_source(subsampling=subsampling, size=size)
    result = pillow_msroi.encode_details(src, quality="keep", map=np.ones((4, 4)))
    plain = plain_jpeg(src, quality="keep")
    np.testing.assert_array_equal(decoded(result.data), decoded(plain))
    assert len(result.data) <= len(plain)


def test_keep_through_the_save_hook_and_the_blend(tmp_path):
    src = jpeg_source(quality=70)
    target = tmp_path / "keep.jpg"
    src.save(target, semantic=True, quality="keep", semantic_map=RIGHT)
    plain = plain_jpeg(src, quality="keep")
    assert target.stat().st_size <= len(plain)
    blended = pillow_msroi.encode_details(src, quality="keep", map=RIGHT, method="blend")
    assert blended.method == "blend" and len(blended.data) <= blended.budget == len(plain)


def test_keep_needs_a_jpeg_source():
    png = io.BytesIO()
    jpeg_source().save(png, "PNG")
    png.seek(0)
    with pytest.raises(ValueError, match="Cannot use 'keep' when original image is not a JPEG"):
        pillow_msroi.encode(Image.open(png), quality="keep", map=RIGHT)


def test_a_numeric_quality_stays_on_the_grid_only_where_it_fits():
    src = jpeg_source(quality=75)
    same = pillow_msroi.encode_details(src, quality=75, map=RIGHT)
    assert same.quality == "keep" and len(same.data) <= same.budget
    with Image.open(io.BytesIO(same.data)) as out:
        assert out.quantization == src.quantization
    lower = pillow_msroi.encode_details(src, quality=30, map=RIGHT)
    assert isinstance(lower.quality, int) and len(lower.data) <= lower.budget
    with Image.open(io.BytesIO(lower.data)) as out:
        assert out.quantization != src.quantization
    # Another subsampling than the source's is another grid: the own tables.
    other = pillow_msroi.encode_details(src, quality=75, map=RIGHT, subsampling="4:4:4")
    assert isinstance(other.quality, int)


@pytest.mark.parametrize("quality", [90, 100])
def test_a_quality_above_the_sources_leaves_its_grid(quality):
    # On the source's grid a Q75 source's file is the same whatever quality is asked, a
    # third of a Q100 budget: quality 100 came out 6 dB below a plain quality-100 save.
    src = jpeg_source(quality=75)
    ref = np.asarray(src.convert("RGB"), dtype=np.float64)
    result = pillow_msroi.encode_details(src, quality=quality, map=RIGHT)
    assert isinstance(result.quality, int) and len(result.data) <= result.budget
    assert len(result.data) >= 0.8 * result.budget
    buf = io.BytesIO()
    src.save(buf, "JPEG", quality=quality)
    assert psnr(ref, decoded(result.data)) >= psnr(ref, decoded(buf.getvalue())) - 0.3
