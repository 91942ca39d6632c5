"""Every call ends in a valid JPEG or a clear Pillow-style exception; nothing is lost."""

from __future__ import annotations

import io
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import simplejpeg
from hypothesis import given
from hypothesis import strategies as st
from imaging import centred_map, markers, synthetic_rgb
from PIL import Image, ImageCms

import pillow_msroi
from pillow_msroi import _blend as blend
from pillow_msroi import _blend_cy as blend_cy
from pillow_msroi import _levels as levels
from pillow_msroi import _stretch_cy as stretch_cy
from pillow_msroi import encode, encode_details
from pillow_msroi._dct import _transform_cy as transform_cy


def outcome(fn):
    try:
        return "ok", fn()
    except Exception as exc:  # the comparison is the point
        return type(exc), str(exc)


def plain_save(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    pillow_msroi.unregister()
    try:
        im.save(buf, "JPEG")
    finally:
        pillow_msroi.register()
    return buf.getvalue()


@pytest.mark.parametrize("mode", Image.MODES)
def test_every_mode_behaves_like_plain_jpeg(mode):
    im = Image.new(mode, (24, 16))
    plain_kind, plain_value = outcome(lambda: plain_save(im))
    sem_kind, sem_value = outcome(lambda: encode(im, map=np.ones((2, 2))))
    assert sem_kind == plain_kind
    if plain_kind == "ok":
        with Image.open(io.BytesIO(sem_value)) as a, Image.open(io.BytesIO(plain_value)) as b:
            assert (a.mode, a.size) == (b.mode, b.size)
    else:
        assert sem_value == plain_value


@pytest.mark.parametrize("size", [(1, 1), (1, 2), (2, 1), (7, 9), (8, 8), (15, 17), (16, 16), (65500, 1), (1, 65500), (3, 20000)])
def test_extreme_sizes(size):
    im = Image.new("RGB", size, (90, 120, 200))
    data = encode(im, map=np.arange(12.0).reshape(3, 4))
    with Image.open(io.BytesIO(data)) as out:
        assert out.size == size
        out.load()


@pytest.mark.parametrize("size", [(65501, 1), (1, 65501)])
def test_too_large_for_jpeg(size):
    with pytest.raises(OSError, match="at most 65500 pixels per side"):
        encode(Image.new("L", size), map=np.ones((1, 1)))


@pytest.mark.parametrize(
    "map_",
    [
        np.ones((3, 3), bool),
        np.arange(12, dtype=np.uint16).reshape(3, 4),
        np.arange(12, dtype=np.int64).reshape(4, 3) - 6,
        np.linspace(0, 1, 20, dtype=np.float16).reshape(4, 5),
        np.array([[1, 2], [3, 4]], dtype=object),
        [[0.5]],
        np.full((5, 5), -3.0),
    ],
    ids=["bool", "uint16", "int64-negative", "float16", "object", "nested-list", "constant"],
)
def test_maps_of_any_numeric_kind(photo, map_):
    data = encode(photo, map=map_)
    assert len(data) <= len(plain_save(photo))


def test_non_numeric_map(photo):
    with pytest.raises(ValueError, match="must hold numbers"):
        encode(photo, map=np.array([[object(), object()]]))
    with pytest.raises(ValueError, match="must hold numbers"):
        encode(photo, map=[["a", "b"], ["c", "d"]])


def test_metadata_survives_exactly(photo, photo_map):
    exif = Image.Exif()
    exif[0x010F] = "maker"
    exif[0x0110] = "model"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buf = io.BytesIO()
    photo.save(buf, "JPEG", semantic=True, semantic_map=photo_map, exif=exif, icc_profile=icc, dpi=(240, 240),
               comment="caf\u00e9")
    with Image.open(io.BytesIO(buf.getvalue())) as out:
        assert out.info["exif"] == exif.tobytes()
        assert out.info["icc_profile"] == icc
        assert out.info["dpi"] == (240, 240)
        assert out.info["comment"] == "caf\u00e9".encode()


def test_threads_give_the_serial_bytes_dct():
    images = [synthetic_rgb(200, 120, seed=s) for s in range(4)]
    maps = [centred_map(12, 9) ** (s + 1) for s in range(4)]
    serial = [encode(im, map=m, quality=30 + 10 * s) for s, (im, m) in enumerate(zip(images, maps))]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(3):
            futures = [pool.submit(encode, im, map=m, quality=30 + 10 * s) for s, (im, m) in enumerate(zip(images, maps))]
            assert [f.result() for f in futures] == serial


def test_threads_give_the_serial_bytes():
    images = [synthetic_rgb(120, 90, seed=s) for s in range(4)]
    maps = [centred_map(12, 9) * (s + 1) for s in range(4)]
    serial = [encode(im, map=m, rule=1 + s) for s, (im, m) in enumerate(zip(images, maps))]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(3):
            futures = [pool.submit(encode, im, map=m, rule=1 + s) for s, (im, m) in enumerate(zip(images, maps))]
            assert [f.result() for f in futures] == serial
    # The same image object saved from several threads at once.
    shared = images[0]
    barrier = threading.Barrier(4)

    def run():
        barrier.wait()
        return encode(shared, map=maps[0], rule=1)

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert {f.result() for f in [pool.submit(run) for _ in range(4)]} == {serial[0]}


def full_layer_blend(rgb: np.ndarray, level_map: np.ndarray, subsampling: str) -> np.ndarray:
    """The paper's blend by definition: whole layers, then a per-pixel pick."""
    stack = np.stack([
        simplejpeg.decode_jpeg(
            simplejpeg.encode_jpeg(rgb, quality=10 * (k + 1), colorsubsampling=subsampling, fastdct=False),
            fastdct=False, fastupsample=False,
        )
        for k in range(10)
    ])
    return np.take_along_axis(stack, level_map[None, :, :, None].astype(np.intp), axis=0)[0]


@pytest.mark.parametrize(("subsampling", "name"), [(0, "444"), (1, "422"), (2, "420")])
@pytest.mark.parametrize("band_pixels", [blend.BAND_PIXELS, 200 * 16, 200 * 48])
def test_cropped_and_banded_layers_equal_whole_layers(subsampling, name, band_pixels):
    im = synthetic_rgb(200, 130, seed=5)
    lv = levels.assign(np.random.default_rng(1).random((9, 7), dtype=np.float32) ** 3, 130, 200, 3)
    got, used = blend.blend(im, lv, subsampling, band_pixels=band_pixels)
    expected = full_layer_blend(np.asarray(im), lv, name)
    np.testing.assert_array_equal(got[..., :3], expected)
    assert used == tuple(10 * (k + 1) for k in np.unique(lv))


def test_level_boxes():
    lv = np.zeros((6, 9), np.uint8)
    lv[1:3, 4:7] = 5
    lv[5, 0] = 9
    boxes = blend_cy.level_boxes(lv)
    assert boxes[5].tolist() == [1, 3, 4, 7, 6]
    assert boxes[9].tolist() == [5, 6, 0, 1, 1]
    assert boxes[0, 4] == 54 - 7 and boxes[1, 4] == 0


maps_st = st.tuples(st.integers(1, 12), st.integers(1, 12), st.integers(0, 2**32 - 1)).map(
    lambda t: np.random.default_rng(t[2]).random((t[0], t[1])) * 10
)


@given(
    w=st.integers(1, 48),
    h=st.integers(1, 48),
    mode=st.sampled_from(["1", "L", "RGB", "RGBX", "CMYK", "YCbCr"]),
    map_=maps_st,
    rule=st.integers(1, 6),
    quality=st.integers(1, 100),
    slack=st.floats(0, 0.5),
    subsampling=st.sampled_from([-1, 0, 1, 2]),
    optimize=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_encode_property(w, h, mode, map_, rule, quality, slack, subsampling, optimize, seed):
    im = synthetic_rgb(w, h, seed=seed).convert(mode)
    before = im.tobytes()
    result = encode_details(im, map=map_, rule=rule, quality=quality, slack=slack, subsampling=subsampling,
                            optimize=optimize)
    assert len(result.data) <= result.budget
    assert 0xC0 in markers(result.data)
    with Image.open(io.BytesIO(result.data)) as out:
        assert out.size == (w, h)
        out.load()
    assert im.tobytes() == before
    assert result.level_map.min() >= 1 and result.level_map.max() <= 9


@given(
    w=st.integers(1, 48),
    h=st.integers(1, 48),
    mode=st.sampled_from(["1", "L", "RGB", "RGBX", "YCbCr"]),
    map_=maps_st,
    quality=st.integers(1, 100),
    slack=st.floats(0, 0.5),
    subsampling=st.sampled_from([-1, 0, 1, 2]),
    progressive=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_encode_property_default_method(w, h, mode, map_, quality, slack, subsampling, progressive, seed):
    im = synthetic_rgb(w, h, seed=seed).convert(mode)
    before = im.tobytes()
    result = encode_details(im, map=map_, quality=quality, slack=slack, subsampling=subsampling,
                            progressive=progressive)
    assert result.method == "dct"
    assert len(result.data) <= result.budget
    assert (0xC2 if progressive else 0xC0) in markers(result.data)
    with Image.open(io.BytesIO(result.data)) as out:
        assert out.size == (w, h)
        out.load()
    assert im.tobytes() == before


@given(
    sh=st.integers(1, 20), sw=st.integers(1, 20), oh=st.integers(1, 70), ow=st.integers(1, 70),
    seed=st.integers(0, 2**32 - 1), n_edges=st.integers(0, 9), strict=st.booleans(),
)
def test_kernels_property(sh, sw, oh, ow, seed, n_edges, strict):
    rng = np.random.default_rng(seed)
    src = rng.random((sh, sw), dtype=np.float32)
    full = stretch_cy.upsample_bilinear(src, oh, ow)
    assert full.shape == (oh, ow) and full.min() >= src.min() - 1e-6 and full.max() <= src.max() + 1e-6
    edges = np.sort(rng.random(n_edges))
    table = rng.integers(0, 256, n_edges + 1).astype(np.uint8)
    got = stretch_cy.assign_levels(src, oh, ow, edges, table, strict)
    counts = (edges[None, None, :] < full[..., None]) if strict else (edges[None, None, :] <= full[..., None])
    np.testing.assert_array_equal(got, table[counts.sum(axis=2)])
    out = np.zeros((oh, ow, 3), np.uint8)
    layer = rng.integers(0, 256, (oh, ow, 4), dtype=np.uint8)
    level = int(table[0])
    blend_cy.blend_level(layer, got, level, out)
    mask = got == level
    np.testing.assert_array_equal(out[mask], layer[mask][:, :3])
    assert not out[~mask].any()
