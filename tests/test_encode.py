"""encode(): budget, validity, options, modes, errors."""

from __future__ import annotations

import io

import numpy as np
import pytest
from imaging import centred_map, markers, plain_jpeg, synthetic_rgb
from PIL import Image, ImageCms
from skimage import data as skdata

import pillow_msroi
from pillow_msroi import encode, encode_details


SAMPLES = {
    "synthetic": lambda: synthetic_rgb(200, 150, seed=1),
    "astronaut": lambda: Image.fromarray(skdata.astronaut()).resize((256, 256)),
    "coffee": lambda: Image.fromarray(skdata.coffee()).resize((300, 200)),
    "camera": lambda: Image.fromarray(skdata.camera()).resize((160, 160)),
}


@pytest.mark.parametrize("name", SAMPLES)
@pytest.mark.parametrize("quality", [5, 30, 50, 75, 90, 100])
def test_budget_is_never_exceeded(name, quality):
    im = SAMPLES[name]()
    m = centred_map(16, 12)
    for rule in (1, 3, 5):
        result = encode_details(im, quality=quality, map=m, rule=rule)
        plain = plain_jpeg(im, quality=quality)
        assert result.plain_bytes == len(plain)
        assert result.budget == len(plain)
        assert len(result.data) <= len(plain)
        assert result.encodes <= 8


def test_slack_scales_the_budget(photo, photo_map):
    tight = encode_details(photo, map=photo_map, quality=50)
    loose = encode_details(photo, map=photo_map, quality=50, slack=0.2)
    assert loose.budget == int(tight.plain_bytes * 1.2)
    assert len(tight.data) <= loose.budget and len(loose.data) <= loose.budget
    assert loose.quality >= tight.quality


def test_output_is_baseline_jpeg_of_the_right_size(photo, photo_map):
    data = encode(photo, map=photo_map)
    codes = markers(data)
    assert 0xC0 in codes and 0xC2 not in codes
    with Image.open(io.BytesIO(data)) as out:
        assert out.format == "JPEG" and out.size == photo.size and out.mode == "RGB"
        out.load()


def _plain_within(im: Image.Image, nbytes: int) -> bytes:
    """Pillow's plain JPEG at the highest quality whose file is at most ``nbytes``."""
    fits = [d for d in (plain_jpeg(im, quality=q) for q in range(1, 101)) if len(d) <= nbytes]
    return fits[-1]


@pytest.mark.parametrize("quality", [20, 50, 90])
def test_blend_moves_quality_into_the_favoured_region_at_equal_bytes(quality):
    # Against Pillow's plain JPEG of no more bytes: the favoured region's error must be
    # lower, and the error must move out of it (its ratio to plain's below the rest's).
    # Plain JPEG itself fails both: its ratios are 1.
    im = Image.fromarray(skdata.astronaut()).resize((256, 256))
    m = np.zeros((8, 8))
    m[1:4, 2:6] = 1.0  # the face
    favoured = np.zeros((256, 256), bool)
    favoured[32:128, 64:192] = True
    result = encode_details(im, map=m, quality=quality, method="blend")
    reference = _plain_within(im, len(result.data))
    src = np.asarray(im, dtype=np.float64)

    def errors(data: bytes) -> tuple[float, float]:
        err = ((np.asarray(Image.open(io.BytesIO(data)), dtype=np.float64) - src) ** 2).mean(axis=2)
        return err[favoured].mean(), err[~favoured].mean()

    (ours_fav, ours_rest), (ref_fav, ref_rest) = errors(result.data), errors(reference)
    assert ours_fav < ref_fav
    assert ours_fav / ref_fav < 0.985 * (ours_rest / ref_rest)


def test_details(photo, photo_map):
    result = encode_details(photo, map=photo_map, rule=4)
    assert result.level_map.shape == (photo.height, photo.width)
    assert result.level_map.dtype == np.uint8
    assert set(np.unique(result.level_map)) <= {4, 6, 8, 9}
    assert result.layers == tuple(10 * (k + 1) for k in sorted(set(np.unique(result.level_map))))
    assert 1 <= result.quality <= 100 and not result.fallback and result.rule == 4


def test_input_is_not_changed(photo, photo_map):
    before = photo.tobytes()
    info = dict(photo.info)
    map_copy = photo_map.copy()
    encode(photo, map=photo_map, comment=b"x")
    assert photo.tobytes() == before and photo.info == info
    np.testing.assert_array_equal(photo_map, map_copy)
    assert not hasattr(photo, "encoderinfo")


def test_options_pass_through(photo, photo_map):
    exif = Image.Exif()
    exif[0x010E] = "a description"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(
        photo, map=photo_map, exif=exif.tobytes(), icc_profile=icc, dpi=(300, 150), comment=b"hello",
        restart_marker_rows=1, subsampling="4:4:4",
    )
    with Image.open(io.BytesIO(data)) as out:
        assert out.getexif()[0x010E] == "a description"
        assert out.info["icc_profile"] == icc
        assert out.info["dpi"] == (300, 150)
        assert out.info["comment"] == b"hello"
        assert out.layer[0][1:3] == (1, 1) and out.layer[1][1:3] == (1, 1)  # 4:4:4
    assert 0xDD in markers(data)  # DRI: restart markers


def test_progressive_and_optimize(photo, photo_map):
    progressive = encode(photo, map=photo_map, progressive=True)
    assert 0xC2 in markers(progressive) and 0xC0 not in markers(progressive)
    optimized = encode_details(photo, map=photo_map, optimize=True)
    assert optimized.plain_bytes == len(plain_jpeg(photo, optimize=True))
    assert len(optimized.data) <= optimized.budget


@pytest.mark.parametrize("mode", ["1", "L", "RGB", "RGBX", "CMYK", "YCbCr"])
def test_jpeg_modes_encode_like_plain_jpeg(mode, photo_map):
    im = synthetic_rgb(64, 48).convert(mode)
    data = encode(im, map=photo_map)
    with Image.open(io.BytesIO(data)) as out, Image.open(io.BytesIO(plain_jpeg(im))) as ref:
        assert out.mode == ref.mode and out.size == ref.size
        out.load()
    assert len(data) <= len(plain_jpeg(im))


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "I", "F", "I;16"])
def test_other_modes_raise_pillows_error(mode, photo_map):
    im = synthetic_rgb(16, 16).convert("RGBA" if mode in ("RGBA",) else "L").convert(mode)
    with pytest.raises(OSError, match=f"cannot write mode {mode} as JPEG"):
        plain_jpeg(im)
    with pytest.raises(OSError, match=f"cannot write mode {mode} as JPEG"):
        encode(im, map=photo_map)


@pytest.mark.parametrize("size", [(1, 1), (1, 37), (37, 1), (17, 9), (33, 65)])
def test_small_and_odd_sizes(size):
    im = synthetic_rgb(*size)
    data = encode(im, map=np.arange(6, dtype=float).reshape(2, 3))
    with Image.open(io.BytesIO(data)) as out:
        assert out.size == size


@pytest.mark.parametrize("rule", range(1, 7))
def test_constant_map_is_a_valid_file(photo, rule):
    data = encode(photo, map=np.full((3, 3), 7.0), rule=rule)
    with Image.open(io.BytesIO(data)) as out:
        out.load()


def test_map_forms_are_equivalent(photo):
    arr = centred_map(40, 30)
    as_l = Image.fromarray((arr * 255).round().astype(np.uint8))
    as_f = Image.fromarray(arr.astype(np.float32))
    a = encode(photo, map=arr * 255)
    assert a == encode(photo, map=as_f)
    assert len(encode(photo, map=as_l)) <= len(plain_jpeg(photo))
    assert encode(photo, map=arr.tolist()) == encode(photo, map=arr)


def test_map_larger_than_image(photo):
    data = encode(photo, map=centred_map(photo.width * 3, photo.height * 2))
    assert len(data) <= len(plain_jpeg(photo))


@pytest.mark.parametrize(
    ("map_", "error", "match"),
    [
        (np.zeros((2, 2, 3)), ValueError, "must be 2-D"),
        (np.zeros((0, 4)), ValueError, "is empty"),
        (np.array([[1.0, np.nan]]), ValueError, "NaN or infinite"),
        (np.array([[1.0, np.inf]]), ValueError, "NaN or infinite"),
        (np.array([["a", "b"]]), ValueError, "must hold numbers"),
        (np.ones((2, 2), complex), ValueError, "complex"),
        (Image.new("RGB", (4, 4)), ValueError, "mode L or F"),
    ],
)
def test_bad_maps(photo, map_, error, match):
    with pytest.raises(error, match=match):
        encode(photo, map=map_)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"quality": 0}, ValueError, "quality must be in 1..100"),
        ({"quality": 101}, ValueError, "quality must be in 1..100"),
        ({"quality": 50.5}, TypeError, "quality must be an integer"),
        ({"quality": True}, TypeError, "quality must be an integer"),
        ({"quality": "keep"}, ValueError, "Cannot use 'keep' when original image is not a JPEG"),
        ({"quality": "web_high"}, ValueError, "presets are not supported"),
        ({"rule": 7}, ValueError, "rule must be one of 1..6"),
        ({"rule": "3"}, TypeError, "rule must be an integer"),
        ({"slack": -0.1}, ValueError, "slack must be between 0"),
        ({"slack": float("nan")}, ValueError, "slack must be between 0"),
        ({"slack": "0.1"}, TypeError, "slack must be a number"),
        ({"method": "dct2"}, ValueError, "method must be one of"),
        ({"method": 1}, TypeError, "method must be a string"),
        ({"qtables": [[1] * 64]}, ValueError, "qtables cannot be combined"),
        ({"subsampling": "4:4:0"}, ValueError, "subsampling must be"),
        ({"quallity": 5}, TypeError, "unexpected keyword argument 'quallity'"),
        ({"subsampling": "keep"}, ValueError, "Cannot use 'keep'"),
    ],
)
def test_bad_options(photo, photo_map, kwargs, error, match):
    with pytest.raises(error, match=match):
        encode(photo, map=photo_map, **kwargs)


def test_bad_images(photo_map):
    with pytest.raises(TypeError, match="must be a PIL.Image.Image"):
        encode(np.zeros((4, 4, 3), np.uint8), map=photo_map)
    with pytest.raises(ValueError, match="cannot write empty image"):
        encode(Image.new("RGB", (0, 5)), map=photo_map)


def test_subsampling_keep_from_a_jpeg_source(photo, photo_map):
    src = Image.open(io.BytesIO(plain_jpeg(photo, subsampling="4:2:2")))
    data = encode(src, map=photo_map, subsampling="keep")
    with Image.open(io.BytesIO(data)) as out:
        assert out.layer[0][1:3] == (2, 1)


def test_deterministic(photo, photo_map):
    assert encode(photo, map=photo_map) == encode(photo, map=photo_map)


def test_auto_method_is_dct_by_default(photo, photo_map):
    result = encode_details(photo, map=photo_map)
    assert result.method == "dct" and result.rule is None and result.level_map.size == 0
    assert result.data == encode(photo, map=photo_map, method="dct")


@pytest.mark.parametrize(
    ("mode", "kwargs"),
    [("RGB", {"rule": 4}), ("CMYK", {}), ("RGB", {"smooth": 10}), ("RGB", {"streamtype": 2})],
)
def test_auto_method_falls_back_to_blend_where_dct_does_not_apply(photo, photo_map, mode, kwargs):
    im = photo.convert(mode)
    result = encode_details(im, map=photo_map, **kwargs)
    assert result.method == "blend"
    assert result.rule == kwargs.get("rule", 3)
    explicit = encode(im, map=photo_map, method="blend", **{"rule": 3, **kwargs})
    assert result.data == explicit


def test_explicit_dct_rejects_what_it_cannot_do(photo, photo_map):
    with pytest.raises(ValueError, match="CMYK"):
        encode(photo.convert("CMYK"), map=photo_map, method="dct")
    # smooth= used to be dropped silently (the budget came from a smoothed plain file).
    with pytest.raises(ValueError, match="does not smooth"):
        encode(photo, map=photo_map, method="dct", smooth=10)
    with pytest.raises(ValueError, match="streamtype"):
        encode(photo, map=photo_map, method="dct", streamtype=2)


def test_a_rule_with_explicit_dct_is_an_error(photo, photo_map):
    with pytest.raises(ValueError, match="semantic_rule selects the blend's quality layers"):
        encode(photo, map=photo_map, method="dct", rule=3)
    buf = io.BytesIO()
    with pytest.raises(ValueError, match="use method='blend'"):
        photo.save(buf, "JPEG", semantic=True, semantic_map=photo_map, semantic_method="dct", semantic_rule=2)
    assert buf.getvalue() == b""


@pytest.mark.parametrize("method", ["dct", "blend"])
def test_encoded_repr_is_short(photo, photo_map, method):
    details = pillow_msroi.encode_details(photo, map=photo_map, method=method)
    text = repr(details)
    assert len(text) < 400 and "\\x" not in text
    assert f"data=<{len(details.data):,} bytes>" in text
    h, w = details.level_map.shape
    assert f"level_map=<{w}x{h} uint8>" in text and f"method='{method}'" in text
    assert str(details) == text
