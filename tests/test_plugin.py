"""The Pillow save hook."""

from __future__ import annotations

import io

import numpy as np
import pytest
from imaging import markers
from PIL import Image, JpegImagePlugin

import pillow_msroi
from pillow_msroi import _plugin as plugin
from pillow_msroi import encode


def save(im: Image.Image, **options) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", **options)
    return buf.getvalue()


def pillow_bytes(im: Image.Image, **options) -> bytes:
    buf = io.BytesIO()
    im.encoderinfo = options
    im.encoderconfig = ()
    try:
        JpegImagePlugin._save(im, buf, "")
    finally:
        del im.encoderinfo
    return buf.getvalue()


@pytest.mark.parametrize(
    "options",
    [{}, {"quality": 30}, {"optimize": True}, {"progressive": True}, {"subsampling": 0, "quality": 90},
     {"comment": b"c", "dpi": (72, 72)}, {"semantic": False}, {"semantic": None}],
)
def test_plain_saves_are_byte_identical(photo, options):
    assert pillow_msroi.is_registered()
    expected = pillow_bytes(photo, **{k: v for k, v in options.items() if k != "semantic"})
    assert save(photo, **options) == expected


def test_plain_save_to_a_path_is_identical(photo, tmp_path):
    photo.save(tmp_path / "a.jpg", quality=60)
    assert (tmp_path / "a.jpg").read_bytes() == pillow_bytes(photo, quality=60)


def test_semantic_save_equals_encode(photo, photo_map, tmp_path):
    expected = encode(photo, map=photo_map, quality=60, rule=4, slack=0.05, optimize=True)
    got = save(photo, semantic=True, semantic_map=photo_map, quality=60, semantic_rule=4,
               semantic_slack=0.05, semantic_method="blend", optimize=True)
    assert got == expected
    photo.save(tmp_path / "b.jpeg", semantic=True, semantic_map=photo_map, quality=60, semantic_rule=4,
               semantic_slack=0.05, optimize=True)
    assert (tmp_path / "b.jpeg").read_bytes() == expected
    assert 0xC0 in markers(got)


def test_default_quality_is_pillows(photo, photo_map):
    assert save(photo, semantic=True, semantic_map=photo_map) == encode(photo, map=photo_map, quality=75)


def test_register_and_unregister_are_idempotent(photo, photo_map):
    try:
        pillow_msroi.register()
        pillow_msroi.register()
        assert Image.SAVE["JPEG"] is plugin._save
        pillow_msroi.unregister()
        pillow_msroi.unregister()
        assert Image.SAVE["JPEG"] is JpegImagePlugin._save
        # Unregistered, Pillow drops the unknown keyword: a plain file.
        assert save(photo, semantic=True, semantic_map=photo_map) == pillow_bytes(photo)
    finally:
        pillow_msroi.register()
    assert pillow_msroi.is_registered()


def test_lazy_plugin_loading_does_not_replace_the_hook(photo, photo_map, tmp_path):
    Image.init()  # what Pillow runs on an unknown extension
    assert pillow_msroi.is_registered()
    photo.save(tmp_path / "c.jpg", semantic=True, semantic_map=photo_map)
    assert (tmp_path / "c.jpg").read_bytes() == encode(photo, map=photo_map)


def test_previous_encoderinfo_does_not_leak_into_internal_saves(photo, photo_map):
    first = save(photo, semantic=True, semantic_map=photo_map, comment=b"first")
    assert not getattr(photo, "encoderinfo", {})
    assert save(photo) == pillow_bytes(photo)
    assert first == encode(photo, map=photo_map, comment=b"first")


def test_persistent_encoderinfo_is_honoured_like_pillow(photo, photo_map):
    photo.encoderinfo = {"semantic": True, "semantic_map": photo_map}
    try:
        assert save(photo) == encode(photo, map=photo_map)
    finally:
        del photo.encoderinfo


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"semantic": True, "semantic_rul": 3}, TypeError, "unknown keyword 'semantic_rul'"),
        ({"semantic_mapp": 1}, TypeError, "unknown keyword 'semantic_mapp'"),
        ({"semantic": "yes"}, TypeError, "semantic must be True or False"),
        ({"semantic_rule": 3}, ValueError, "semantic_rule has no effect without semantic=True"),
        ({"semantic": True, "semantic_rule": 0}, ValueError, "semantic_rule must be one of"),
        ({"semantic": True, "semantic_slack": -1}, ValueError, "semantic_slack must be between"),
        ({"semantic": True, "semantic_method": "x"}, ValueError, "semantic_method must be one of"),
        ({"semantic": True, "quality": "keep"}, ValueError, "Cannot use 'keep' when original image is not a JPEG"),
        ({"semantic": True, "quality": 0}, ValueError, "quality must be in 1..100"),
        ({"semantic": True, "semantic_map": np.zeros(3)}, ValueError, "semantic_map must be 2-D"),
    ],
)
def test_bad_keywords(photo, photo_map, options, error, match):
    options.setdefault("semantic_map", photo_map) if options.get("semantic") is True else None
    with pytest.raises(error, match=match):
        save(photo, **options)


def test_failed_save_leaves_no_file(photo, tmp_path):
    target = tmp_path / "bad.jpg"
    with pytest.raises(ValueError, match="semantic_map must be 2-D"):
        photo.save(target, semantic=True, semantic_map=np.zeros((2, 2, 2)))
    assert not target.exists()


def test_unsupported_mode_raises_pillows_error():
    im = Image.new("RGBA", (8, 8))
    with pytest.raises(OSError, match="cannot write mode RGBA as JPEG"):
        save(im, semantic=True, semantic_map=np.ones((2, 2)))
