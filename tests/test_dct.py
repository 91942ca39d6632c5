"""The DCT-domain method: kernels against numpy/scipy restatements, then whole files."""

from __future__ import annotations

import gc
import io
import os
import tempfile

import numpy as np
import pytest
from imaging import centred_map, markers, synthetic_rgb
from PIL import Image, ImageCms, JpegImagePlugin
from references import reference_transform
from scipy.fft import dctn, idctn
from skimage import data as skdata

from pillow_msroi import _dct as dct
from pillow_msroi._encoded import Encoded
from pillow_msroi._options import SemanticOptions
from pillow_msroi import _maps as maps
from pillow_msroi import _stretch_cy as stretch_cy
from pillow_msroi import _writer as writer
from pillow_msroi._dct import _entropy_cy as entropy_cy
from pillow_msroi._dct import _quantize_cy as quantize_cy
from pillow_msroi._dct import _transform_cy as transform_cy
from pillow_msroi._dct import coefficients as dct_coefficients
from pillow_msroi._dct import markers as dct_markers
from pillow_msroi._dct import rate as dct_rate
from pillow_msroi._dct import scans as dct_scans
from pillow_msroi._dct import tables as dct_tables

# ----------------------------------------------------------------------------- helpers


def encode(im: Image.Image, quality: int = 50, slack: float = 0.0, map_=None, **jpeg) -> Encoded:
    small = maps.prepare_map(centred_map(16, 12) if map_ is None else map_, *im.size)
    options = SemanticOptions(quality=quality, slack=slack, method="dct")
    return dct.encode(writer.view(im), small, options, {"subsampling": -1, **jpeg})


def plain(im: Image.Image, quality: int, **jpeg) -> bytes:
    return writer.write(writer.view(im), {"subsampling": -1, **jpeg, "quality": quality})


def decode(data: bytes) -> Image.Image:
    out = Image.open(io.BytesIO(data))
    out.load()
    return out


def libjpeg_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """jccolor.c's integer RGB -> YCbCr, restated in numpy."""

    def fix(x: float) -> int:
        return int(x * 65536 + 0.5)

    r, g, b = (rgb[..., k].astype(np.int64) for k in range(3))
    half, off = 1 << 15, 128 << 16
    y = (fix(0.299) * r + fix(0.587) * g + fix(0.114) * b + half) >> 16
    cb = (-fix(0.16874) * r - fix(0.33126) * g + fix(0.5) * b + off + half - 1) >> 16
    cr = (fix(0.5) * r - fix(0.41869) * g - fix(0.08131) * b + off + half - 1) >> 16
    return np.stack([y, cb, cr]).astype(np.uint8)


def blocks_of(plane: np.ndarray) -> np.ndarray:
    h, w = plane.shape
    return plane.reshape(h // 8, 8, w // 8, 8).transpose(0, 2, 1, 3)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0**2 / np.mean((a.astype(np.float64) - b) ** 2)))


# ----------------------------------------------------------------------------- kernels


def test_color_planes_are_libjpeg_ycbcr_and_match_pillow_within_one():
    rgb = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    got = transform_cy.color_planes(rgb, 37, 53, 3, True)
    np.testing.assert_array_equal(got, libjpeg_ycbcr(rgb))
    pillow = np.asarray(Image.fromarray(rgb).convert("YCbCr")).transpose(2, 0, 1).astype(int)
    assert np.abs(got.astype(int) - pillow).max() <= 1


def test_color_planes_pad_by_edge_replication_and_copy_channels():
    rgbx = np.random.default_rng(1).integers(0, 256, (5, 7, 4), dtype=np.uint8)
    got = transform_cy.color_planes(rgbx, 16, 16, 3, False)
    padded = np.pad(rgbx[..., :3], ((0, 11), (0, 9), (0, 0)), mode="edge")
    np.testing.assert_array_equal(got, padded.transpose(2, 0, 1))
    ycc = transform_cy.color_planes(rgbx, 8, 8, 3, True)
    np.testing.assert_array_equal(ycc[:, :5, :7], libjpeg_ycbcr(rgbx))
    with pytest.raises(ValueError, match="smaller than the image"):
        transform_cy.color_planes(rgbx, 4, 8, 3, True)
    with pytest.raises(ValueError, match="3\\+ input channels"):
        transform_cy.color_planes(rgbx[..., :1].copy(), 8, 8, 3, True)


@pytest.mark.parametrize(("fh", "fv"), [(2, 2), (2, 1), (1, 2), (4, 1), (1, 1)])
def test_downsample_matches_numpy_restatement(fh, fv):
    plane = np.random.default_rng(fh * 10 + fv).integers(0, 256, (16, 24), dtype=np.uint8)
    boxes = plane.reshape(16 // fv, fv, 24 // fh, fh).astype(np.int64).sum(axis=(1, 3))
    if (fh, fv) == (2, 2):  # libjpeg h2v2: bias 1, 2, 1, 2, ... along each row
        bias = np.tile([1, 2], boxes.shape[1] // 2)[None, :]
        expected = (boxes + bias) >> 2
    elif (fh, fv) == (2, 1):  # libjpeg h2v1: bias 0, 1, 0, 1, ...
        bias = np.tile([0, 1], boxes.shape[1] // 2)[None, :]
        expected = (boxes + bias) >> 1
    else:
        n = fh * fv
        expected = (boxes + n // 2) // n
    np.testing.assert_array_equal(transform_cy.downsample(plane, fh, fv), expected)


def test_downsample_rejects_ragged_planes():
    with pytest.raises(ValueError, match="multiple"):
        transform_cy.downsample(np.zeros((5, 8), np.uint8), 2, 2)


def test_forward_dct_matches_scipy_in_zigzag_order():
    plane = np.random.default_rng(2).integers(0, 256, (24, 40), dtype=np.uint8)
    got = transform_cy.forward_dct(plane)
    ref = dctn(blocks_of(plane).astype(np.float64) - 128, axes=(2, 3), norm="ortho").reshape(3, 5, 64)
    assert got.shape == (3, 5, 64) and got.dtype == np.float32
    np.testing.assert_allclose(got, ref[:, :, transform_cy.ZIGZAG], atol=2e-3)
    with pytest.raises(ValueError, match="multiple of 8"):
        transform_cy.forward_dct(np.zeros((8, 12), np.uint8))


def test_zigzag_is_a_permutation_walking_antidiagonals():
    zz = transform_cy.ZIGZAG
    assert sorted(zz) == list(range(64))
    diag = [(k // 8) + (k % 8) for k in zz]
    assert diag == sorted(diag)


@pytest.mark.parametrize(
    ("h", "w", "bh", "bw"), [(37, 53, 8, 8), (37, 53, 16, 16), (64, 48, 8, 16), (5, 3, 8, 8)]
)
def test_block_means_match_the_stretched_map(h, w, bh, bw):
    small = np.random.default_rng(h).random((4, 6), dtype=np.float32)
    rows, cols = -(-h // bh) + 1, -(-w // bw)  # one row of blocks wholly outside the image
    got = stretch_cy.block_means(small, h, w, bh, bw, rows, cols)
    full = np.asarray(stretch_cy.upsample_bilinear(small, h, w), dtype=np.float64)
    for i in range(rows):
        for j in range(cols):
            part = full[i * bh : (i + 1) * bh, j * bw : (j + 1) * bw]
            if part.size:
                assert got[i, j] == pytest.approx(part.mean(), abs=1e-5)
            else:
                assert got[i, j] == -1


def test_coarsened_means_weigh_pixels_inside_the_image():
    small = np.random.default_rng(5).random((3, 3), dtype=np.float32)
    h, w = 21, 27  # 4:2:0: 16x16 chroma blocks over a 32x32 padded grid
    fine = stretch_cy.block_means(small, h, w, 8, 8, 4, 4)
    counts = np.outer(np.clip(h - 8 * np.arange(4), 0, 8), np.clip(w - 8 * np.arange(4), 0, 8)).astype(float)
    direct = stretch_cy.block_means(small, h, w, 16, 16, 2, 2)
    np.testing.assert_allclose(dct_coefficients._coarsen(fine, counts, 2, 2), direct, atol=1e-5)


def rounded(coef: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Levels of plain rounding: the trellis at price 0."""
    out = np.empty(coef.shape, np.int16)
    price = np.zeros(coef.shape[:2], np.float32)
    quantize_cy.trellis_quantize(coef, table, price, np.ones(64, np.float32), np.full(256, 8.0, np.float32), 0, out)
    return out


def huffman_lengths(counts: bytes) -> list[int]:
    return [n + 1 for n, c in enumerate(counts) for _ in range(c)]


def test_huffman_tables_are_complete_prefix_codes_no_longer_than_16_bits():
    # Geometric frequencies would give a 30-bit optimal code: Annex K.3 must cut it.
    levels = np.zeros((1, 1, 64), np.int16)
    grids = []
    for k in range(1, 25):
        g = np.zeros((1 << min(k, 16), 1, 64), np.int16)
        g[:, :, k] = 1 if k % 2 else -1
        grids.append(g)
    levels = np.concatenate(grids + [levels])
    data, specs = entropy_cy.encode_scan([levels], [(1, 1)], [0], 0)
    for counts, values in specs.values():
        lengths = huffman_lengths(counts)
        assert len(values) == len(lengths) == len(set(values))
        assert max(lengths) <= 16
        assert sum(2.0**-n for n in lengths) < 1.0  # the all-ones code stays unused
    bits, _ = entropy_cy.encode_scan([levels], [(1, 1)], [0], 0, False)
    stuffed = data.count(b"\xff\x00")
    assert len(data) - stuffed == -(-bits // 8)


def reconstruct(levels: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Pixels a float decoder makes from zigzag levels (numpy/scipy restatement)."""
    natural = np.empty_like(levels, dtype=np.float64)
    natural[..., transform_cy.ZIGZAG] = levels * table[transform_cy.ZIGZAG]
    rows, cols = levels.shape[:2]
    px = idctn(natural.reshape(rows, cols, 8, 8), axes=(2, 3), norm="ortho") + 128
    return px.transpose(0, 2, 1, 3).reshape(rows * 8, cols * 8)


@pytest.mark.parametrize("restart", [0, 1, 5])
def test_scan_decodes_in_pillow_to_the_coefficients_written(restart):
    rng = np.random.default_rng(restart)
    gray = Image.fromarray(rng.integers(0, 256, (24, 32), dtype=np.uint8))
    header = dct_markers.parse_header(plain(gray, 80, restart_marker_blocks=restart) if restart else plain(gray, 80))
    assert header.restart_interval == restart
    coef = transform_cy.forward_dct(np.asarray(gray))
    table = dct_tables.quant_table(80, chroma=False)
    levels = rounded(coef, table)
    scan, huffman = entropy_cy.encode_scan([levels], [(1, 1)], [0], restart)
    data = dct_markers.assemble(header, {0: table}, [0], [(dct_scans.Scan((0,)), (scan, huffman))])
    rst = sum(data.count(bytes((0xFF, 0xD0 + k))) for k in range(8))
    assert rst == ((12 - 1) // restart if restart else 0)  # between the 12 MCUs, not after the last
    decoded = np.asarray(decode(data), dtype=np.float64)
    assert np.abs(decoded - np.clip(reconstruct(levels, table), 0, 255)).max() <= 2


# ----------------------------------------------------------------------------- whole files


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    return Image.fromarray(skdata.astronaut()).resize((256, 256))


@pytest.mark.parametrize("quality", [1, 5, 20, 40, 50, 60, 75, 90, 95, 100])
def test_budget_is_never_exceeded(astronaut, quality):
    for im in (astronaut, synthetic_rgb(97, 61, seed=quality)):
        result = encode(im, quality)
        assert result.plain_bytes == len(plain(im, quality))
        assert result.budget == result.plain_bytes
        assert len(result.data) <= result.budget
        assert result.encodes <= dct_rate.MODEL_PASSES + 7 + dct_rate.FILL_PASSES + dct_rate.FINAL_PASSES
        decode(result.data)


def test_slack_scales_the_budget(astronaut):
    tight = encode(astronaut, 50)
    loose = encode(astronaut, 50, slack=0.2)
    assert loose.budget == int(tight.plain_bytes * 1.2)
    assert len(tight.data) <= tight.budget < len(loose.data) <= loose.budget


def test_budget_is_nearly_spent(astronaut):
    result = encode(astronaut, 50)
    assert result.quality is not None and result.quality > 50
    assert len(result.data) >= 0.97 * result.budget


@pytest.mark.parametrize(
    ("mode", "decoded_mode"), [("RGB", "RGB"), ("RGBX", "RGB"), ("YCbCr", "RGB"), ("L", "L"), ("1", "L")]
)
@pytest.mark.parametrize("size", [(1, 1), (7, 9), (33, 17), (160, 120)])
def test_modes_and_sizes_decode_as_baseline(mode, decoded_mode, size):
    im = synthetic_rgb(*size, seed=size[0]).convert(mode)
    result = encode(im, 75)
    assert len(result.data) <= result.budget
    codes = markers(result.data)
    assert 0xC0 in codes and 0xC2 not in codes and 0xC1 not in codes
    out = decode(result.data)
    assert out.format == "JPEG" and out.size == size and out.mode == decoded_mode
    assert out.mode == decode(plain(im, 75)).mode


def test_favoured_region_beats_plain_jpeg_at_equal_bytes(astronaut):
    im = Image.fromarray(skdata.astronaut())
    h, w = im.height, im.width
    yy, xx = np.mgrid[0:h, 0:w] + 0.5
    full = np.exp(-(((xx - w / 2) / (w / 5)) ** 2 + ((yy - h / 2) / (h / 5)) ** 2) / 2)
    roi = full >= np.quantile(full, 0.8)
    result = encode(im, 50, map_=full[::16, ::16])
    src = np.asarray(im)
    ours = np.asarray(decode(result.data))
    ref = np.asarray(decode(plain(im, 50)))
    flat = np.asarray(decode(encode(im, 50, map_=np.ones((4, 4))).data))
    assert len(result.data) <= len(plain(im, 50))
    # The map moves quality into its region (against the same core without it), and the
    # perceptual core keeps the rest about as good as plain JPEG at the same bytes.
    assert psnr(src[roi], ours[roi]) > psnr(src[roi], ref[roi]) + 1.0
    assert psnr(src[roi], ours[roi]) > psnr(src[roi], flat[roi]) + 0.5
    assert psnr(src[~roi], ours[~roi]) > psnr(src[~roi], ref[~roi]) - 1.0


@pytest.mark.parametrize("flat", [np.ones((4, 4)), np.full((1, 1), -3.0), np.zeros((256, 256))])
def test_flat_map_is_plain_rd_quantization(astronaut, flat):
    # A constant map prices every block alike, at the full strength: the file must be the
    # one made with the same price in every block, built here without any map.
    result = encode(astronaut, 50, map_=flat)
    assert len(result.data) <= result.budget and result.quality is not None
    header = dct_markers.parse_header(plain(astronaut, 50))
    # A map of one value (here 0) sets every block's map factor to 1: the masking field alone.
    coefs = dct_coefficients.Coefficients(writer.view(astronaut), np.zeros((1, 1), np.float32), header)
    passes = dct_rate.Passes(coefs, header)
    passes.quantize(result.quality, result.strength)
    assert passes.write() == result.data
    # ... and not the file of an unpriced (plain rounding) quantization at that quality.
    passes.quantize(result.quality, 0.0)
    assert passes.write() != result.data


@pytest.mark.parametrize(
    ("subsampling", "factors"), [(0, (1, 1)), (1, (2, 1)), (2, (2, 2)), ("4:2:0", (2, 2)), (-1, (2, 2))]
)
def test_subsampling_follows_the_caller(astronaut, subsampling, factors):
    result = encode(astronaut, 60, subsampling=subsampling)
    header = dct_markers.parse_header(result.data)
    assert (header.components[0].h, header.components[0].v) == factors
    assert all((c.h, c.v) == (1, 1) for c in header.components[1:])
    assert JpegImagePlugin.get_sampling(decode(result.data)) == JpegImagePlugin.get_sampling(
        decode(plain(astronaut, 60, subsampling=subsampling))
    )


def test_metadata_and_options_pass_through(astronaut):
    exif = Image.Exif()
    exif[0x010E] = "a description"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    options = {"exif": exif.tobytes(), "icc_profile": icc, "dpi": (300, 300), "comment": b"hello"}
    result = encode(astronaut, 50, **options)
    out = decode(result.data)
    ref = decode(plain(astronaut, 50, **options))
    assert out.info["icc_profile"] == icc
    assert out.getexif()[0x010E] == "a description"
    assert out.info["dpi"] == ref.info["dpi"]
    assert out.info["comment"] == b"hello"
    assert len(result.data) <= result.budget


@pytest.mark.parametrize("option", [{"restart_marker_blocks": 3}, {"restart_marker_rows": 1}])
def test_restart_markers_pass_through(astronaut, option):
    result = encode(astronaut, 50, **option)
    expected = dct_markers.parse_header(plain(astronaut, 50, **option)).restart_interval
    assert expected > 0 and dct_markers.parse_header(result.data).restart_interval == expected
    assert 0xDD in markers(result.data)
    assert b"\xff\xd0" in result.data and b"\xff\xd7" in result.data
    assert psnr(np.asarray(astronaut), np.asarray(decode(result.data))) > 25


@pytest.mark.parametrize("mode", ["RGB", "L"])
@pytest.mark.parametrize(
    "extra", [{}, {"subsampling": 0}, {"restart_marker_blocks": 5}, {"restart_marker_rows": 1}]
)
def test_progressive_on_request(astronaut, mode, extra):
    im = astronaut.convert(mode)
    for quality in (10, 50, 90):
        result = encode(im, quality, progressive=True, **extra)
        assert len(result.data) <= result.budget
        codes = markers(result.data)
        assert 0xC2 in codes and 0xC0 not in codes
        out = decode(result.data)
        assert out.info.get("progressive") and out.size == im.size and out.mode == mode
        ref = decode(plain(im, quality, progressive=True, **extra))
        assert psnr(np.asarray(im), np.asarray(out)) > psnr(np.asarray(im), np.asarray(ref)) - 2.5


def test_keep_rgb_writes_rgb_components(astronaut):
    result = encode(astronaut, 75, keep_rgb=True)
    header = dct_markers.parse_header(result.data)
    assert header.adobe_transform == 0
    assert [c.ident for c in header.components] == [ord("R"), ord("G"), ord("B")]
    assert psnr(np.asarray(astronaut), np.asarray(decode(result.data))) > 28


def test_cmyk_and_abbreviated_streams_are_refused_with_a_pointer_to_blend():
    with pytest.raises(ValueError, match="method='blend'"):
        encode(Image.new("CMYK", (16, 16)), 50)
    with pytest.raises(ValueError, match="method='blend'"):
        encode(Image.new("RGB", (16, 16)), 50, streamtype=1)


def test_no_files_are_written(astronaut, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = set(os.listdir(tempfile.gettempdir()))
    encode(astronaut, 50, exif=b"Exif\x00\x00", comment=b"x")
    assert os.listdir(tmp_path) == []
    assert set(os.listdir(tempfile.gettempdir())) - before == set()


def test_parse_header_rejects_non_jpeg():
    with pytest.raises(ValueError, match="not a JPEG"):
        dct_markers.parse_header(b"GIF89a")


def transformed(
    px: np.ndarray, to_ycbcr: bool, sampling: list[tuple[int, int]], cuts: list[int], islow: bool | list[bool] = False
) -> list[np.ndarray]:
    """``transform_cy.transform`` over the MCU rows between ``cuts``, one call per band."""
    hmax, vmax = max(h for h, _ in sampling), max(v for _, v in sampling)
    rows, cols = -(-px.shape[0] // (8 * vmax)), -(-px.shape[1] // (8 * hmax))
    outs = [np.full((rows * v, cols * h, 64), np.nan, np.float32) for h, v in sampling]
    bounds = [0, *[c for c in cuts if 0 < c < rows], rows]
    for r0, r1 in zip(bounds[:-1], bounds[1:]):
        transform_cy.transform(px, to_ycbcr, sampling, outs, r0, r1, islow=islow)
    return outs


@pytest.mark.parametrize(
    ("channels", "to_ycbcr", "sampling"),
    [
        (3, True, [(2, 2), (1, 1), (1, 1)]),
        (3, True, [(2, 1), (1, 1), (1, 1)]),
        (3, True, [(1, 1), (1, 1), (1, 1)]),
        (4, True, [(2, 2), (1, 1), (1, 1)]),  # RGBX: pixels 4 bytes apart
        (3, False, [(1, 1), (1, 1), (1, 1)]),  # YCbCr images and keep_rgb
        (1, False, [(1, 1)]),
        (3, True, [(1, 2), (1, 1), (1, 1)]),  # factors libjpeg allows but Pillow never asks for
        (3, True, [(4, 2), (2, 1), (1, 1)]),
    ],
)
@pytest.mark.parametrize(("w", "h"), [(1, 1), (13, 7), (40, 33), (64, 48)])
@pytest.mark.parametrize("islow", ["none", "all", "chroma"])
def test_transform_equals_the_whole_image_kernels(channels, to_ycbcr, sampling, w, h, islow):
    px = np.random.default_rng(w * h + channels).integers(0, 256, (h, w, channels), dtype=np.uint8)
    # The integer DCT for no component, every one (a bool), or those after the first (a list).
    flags = {"none": False, "all": True, "chroma": [c > 0 for c in range(len(sampling))]}[islow]
    marked = flags if isinstance(flags, list) else [flags] * len(sampling)
    expected = reference_transform(transform_cy, px, to_ycbcr, sampling, marked)
    for cuts in ([], [1], [1, 2, 3]):  # whole, and in bands of MCU rows
        got = transformed(px, to_ycbcr, sampling, cuts, flags)
        for g, e in zip(got, expected):
            np.testing.assert_array_equal(g, e)


def test_transform_rejects_bad_arguments():
    px = np.zeros((16, 16, 3), np.uint8)
    outs = [np.empty((2, 2, 64), np.float32), np.empty((1, 1, 64), np.float32), np.empty((1, 1, 64), np.float32)]
    sampling = [(2, 2), (1, 1), (1, 1)]
    with pytest.raises(ValueError, match="output 1 has shape"):
        transform_cy.transform(px, True, sampling, [outs[0], outs[0], outs[2]], 0, 1)
    with pytest.raises(ValueError, match="MCU rows 0:2 outside 0:1"):
        transform_cy.transform(px, True, sampling, outs, 0, 2)
    with pytest.raises(ValueError, match="not integer ratios"):
        transform_cy.transform(px, True, [(3, 2), (2, 1), (1, 1)], outs, 0, 1)
    with pytest.raises(ValueError, match="sampling factors must be 1..4"):
        transform_cy.transform(px, True, [(5, 1), (1, 1), (1, 1)], outs, 0, 1)
    with pytest.raises(ValueError, match="YCbCr conversion needs"):
        transform_cy.transform(px[..., :1].copy(), True, sampling, outs, 0, 1)
    with pytest.raises(ValueError, match="one output each"):
        transform_cy.transform(px, True, sampling, outs[:2], 0, 1)
    with pytest.raises(ValueError, match="cannot take 3 components from 1 channels"):
        transform_cy.transform(px[..., :1].copy(), False, sampling, outs, 0, 1)
    with pytest.raises(ValueError, match="islow has 2 entries for 3 components"):
        transform_cy.transform(px, True, sampling, outs, 0, 1, islow=[True, False])
    with pytest.raises(ValueError, match="islow has 4 entries for 3 components"):
        transform_cy.transform(px, True, sampling, outs, 0, 1, islow=[True, False, True, False])


def random_levels(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Sparse int16 levels with big DC steps, like quantized blocks."""
    levels = np.where(rng.random(shape) < 0.2, rng.integers(-40, 41, shape), 0).astype(np.int16)
    levels[..., 0] = rng.integers(-1000, 1001, shape[:-1])
    return levels


@pytest.mark.parametrize("restart", [0, 1, 3, 7, 12])
@pytest.mark.parametrize(
    ("band", "components"),
    [((0, 63), "420"), ((0, 0), "420"), ((0, 63), "gray"), ((1, 5), "one"), ((6, 63), "one")],
)
def test_counts_of_row_ranges_add_up_to_the_whole_scan(restart, band, components):
    rng = np.random.default_rng(restart)
    if components == "420":
        levels = [random_levels(rng, (6, 8, 64)), random_levels(rng, (3, 4, 64)), random_levels(rng, (3, 4, 64))]
        sampling, tables, rows = [(2, 2), (1, 1), (1, 1)], [0, 1, 1], 3
    else:
        levels, sampling, tables, rows = [random_levels(rng, (5, 6, 64))], [(1, 1)], [0], 5
    ss, se = band
    blocks = (5, 5) if components == "one" else None  # a band scan codes the blocks inside the image
    args = (levels, sampling, tables, restart, ss, se, blocks)
    whole = entropy_cy.count_scan(*args)
    assert whole.shape == (entropy_cy.COUNTS,) and whole.sum() > 0
    rows = blocks[0] if blocks else rows
    for cuts in ([0, 1, rows], [0, 2, 3, rows], list(range(rows + 1))):
        parts = sum(entropy_cy.count_scan(*args, r0, r1) for r0, r1 in zip(cuts[:-1], cuts[1:]))
        np.testing.assert_array_equal(parts, whole)
    # Given the counts, the scan codes exactly as when it counts them itself.
    assert entropy_cy.encode_scan(levels, sampling, tables, restart, True, ss, se, blocks, whole) == entropy_cy.encode_scan(
        levels, sampling, tables, restart, True, ss, se, blocks
    )
    with pytest.raises(ValueError, match="MCU rows 0:99 outside"):
        entropy_cy.count_scan(*args, 0, 99)
    with pytest.raises(ValueError, match="counts must have 1025 entries"):
        entropy_cy.encode_scan(levels, sampling, tables, restart, True, ss, se, blocks, whole[:-1])


def test_scratch_block_is_reused_and_bounded(monkeypatch):
    scratch = dct_coefficients._Scratch()
    monkeypatch.setattr(dct_coefficients, "SCRATCH", scratch)
    im = synthetic_rgb(96, 64)
    first = encode(im).data
    kept = scratch._block
    assert kept is not None and kept.nbytes == 6 * (96 * 64 + 2 * 48 * 32)  # float32 + int16 per coefficient
    kept[:] = 0xAB  # stale contents must not leak into the next file
    assert encode(im).data == first
    assert scratch._block is kept  # taken, used and given back
    # A block far larger than needed is not used for a small image, which keeps its own.
    big = synthetic_rgb(400, 300)
    encode(big)
    big_block = scratch._block
    assert encode(im).data == first
    assert scratch._block is not big_block and scratch._block.nbytes == kept.nbytes
    # Nothing over the limit is kept.
    monkeypatch.setattr(dct_coefficients._Scratch, "LIMIT", 1000)
    scratch._block = None
    encode(im)
    assert scratch._block is None


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBX", "YCbCr", "CMYK"])
def test_image_pixels_read_pillow_memory_in_place(mode):
    im = synthetic_rgb(37, 23).convert(mode)
    got = transform_cy.image_pixels(im)
    if not hasattr(im, "__arrow_c_array__"):  # Pillow < 11.2: no export, the caller copies
        assert got is None
        return
    expected = np.asarray(im)
    expected = expected[:, :, None] if expected.ndim == 2 else expected
    assert got.shape[:2] == (23, 37) and got.shape[2] in (1, 4) and not got.flags.writeable
    np.testing.assert_array_equal(got[:, :, : expected.shape[2]], expected)
    # The export, not the image object, keeps the memory: it outlives the image.
    del im
    gc.collect()
    np.testing.assert_array_equal(got[:, :, : expected.shape[2]], expected)


def test_image_pixels_decline_what_they_cannot_map():
    # Pillow keeps an image over its block size (16 MiB) in several blocks of rows.
    assert transform_cy.image_pixels(Image.new("RGB", (2100, 2100))) is None
    assert transform_cy.image_pixels(Image.new("F", (4, 4))) is None
    assert transform_cy.image_pixels(Image.new("I;16", (4, 4))) is None
    assert transform_cy.image_pixels(object()) is None


@pytest.mark.parametrize("mode", ["L", "RGB", "YCbCr", "1"])
def test_dct_reads_pixels_in_place_or_copied_alike(monkeypatch, mode):
    im = synthetic_rgb(61, 45).convert(mode)
    in_place = encode(im, quality=60).data
    monkeypatch.setattr(dct_coefficients, "image_pixels", lambda image: None)
    assert encode(im, quality=60).data == in_place
