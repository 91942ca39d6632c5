"""roi_map: shapes, modes, determinism, errors and a sanity check on a sample photo.

Runs on the shipped ONNX model; needs neither torch nor the shared data folder.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from PIL import Image

from pillow_msroi import _maps as maps
from pillow_msroi import _roi as roi
from pillow_msroi._stretch_cy import upsample_bilinear


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    rng = np.random.default_rng(0)
    # A bright textured blob on a flat grey background, at a non-stride size.
    a = np.full((203, 311, 3), 90, np.uint8)
    a[60:150, 100:220] = rng.integers(0, 255, (90, 120, 3), dtype=np.uint8)
    return Image.fromarray(a)


def _check(m: np.ndarray, h: int, w: int) -> None:
    assert m.shape == (h, w)
    assert m.dtype == np.float32
    assert np.isfinite(m).all()
    assert m.min() >= 0.0 and m.max() <= 1.0


@pytest.mark.parametrize("kind", roi.KINDS)
@pytest.mark.parametrize("size", [(1, 1), (7, 300), (513, 17), (311, 203)])
def test_shape_dtype_range(size: tuple[int, int], kind: str) -> None:
    w, h = size
    im = Image.fromarray(np.random.default_rng(w * h).integers(0, 255, (h, w, 3), dtype=np.uint8))
    _check(roi.roi_map(im, kind=kind), h, w)


def test_full_range_on_a_real_size(photo: Image.Image) -> None:
    m = roi.roi_map(photo)
    assert m.min() == 0.0 and m.max() == pytest.approx(1.0)


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "P", "CMYK", "YCbCr", "1", "I", "F", "I;16"])
def test_modes(photo: Image.Image, mode: str) -> None:
    if mode == "I;16":
        im = Image.fromarray((np.asarray(photo.convert("L"), np.uint16) * 257))
        assert im.mode.startswith("I;16")
    else:
        im = photo.convert(mode)
    _check(roi.roi_map(im), photo.height, photo.width)


def test_i16_matches_8bit(photo: Image.Image) -> None:
    grey = photo.convert("L")
    wide = Image.fromarray(np.asarray(grey, np.uint16) * 257)
    np.testing.assert_allclose(roi.roi_map(wide), roi.roi_map(grey), atol=1e-5)


def test_deterministic(photo: Image.Image) -> None:
    a = roi.roi_map(photo, kind="msroi")
    b = roi.roi_map(photo.copy(), kind="msroi")
    np.testing.assert_array_equal(a, b)


def test_kinds_differ_and_default_is_one_of_them(photo: Image.Image) -> None:
    d = roi.roi_map(photo)
    maps = [roi.roi_map(photo, kind=k) for k in ("msroi", "readout")]
    assert any(np.array_equal(d, m) for m in maps)
    assert not np.array_equal(*maps)


def test_bad_kind(photo: Image.Image) -> None:
    with pytest.raises(ValueError, match="valid kinds: default, msroi, readout"):
        roi.roi_map(photo, kind="saliency")


@pytest.mark.parametrize("obj", [np.zeros((8, 8, 3), np.uint8), "image.png", None])
def test_not_an_image(obj: object) -> None:
    with pytest.raises(TypeError, match="PIL.Image.Image"):
        roi.roi_map(obj)  # type: ignore[arg-type]


def test_missing_model(monkeypatch: pytest.MonkeyPatch, tmp_path, photo: Image.Image) -> None:
    missing = tmp_path / "nowhere" / "msroi.onnx"
    monkeypatch.setenv("MSROI_MODEL", str(missing))
    assert roi.model_path() == missing
    with pytest.raises(OSError, match=r"not found at .*nowhere.*MSROI_MODEL"):
        roi.roi_map(photo)


def test_corrupt_model(monkeypatch: pytest.MonkeyPatch, tmp_path, photo: Image.Image) -> None:
    bad = tmp_path / "corrupt.onnx"
    bad.write_bytes(b"\x08\x07 definitely not a protobuf " * 10)
    monkeypatch.setenv("MSROI_MODEL", str(bad))
    with pytest.raises(OSError, match=r"corrupt\.onnx is corrupt or unreadable.*reinstall"):
        roi.roi_map(photo)


def test_recovers_after_override(monkeypatch: pytest.MonkeyPatch, tmp_path, photo: Image.Image) -> None:
    monkeypatch.setenv("MSROI_MODEL", str(tmp_path / "missing.onnx"))
    with pytest.raises(OSError):
        roi.roi_map(photo)
    monkeypatch.delenv("MSROI_MODEL")
    _check(roi.roi_map(photo), photo.height, photo.width)


def test_sha256_matches_model() -> None:
    path = roi.model_path()
    recorded = (path.parent / "msroi.onnx.sha256").read_text().split()[0]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == recorded


def test_map_upsampling_matches_align_corners_false() -> None:
    small = np.array([[0.0, 1.0], [2.0, 3.0]], np.float32)
    out = upsample_bilinear(small, 4, 4)
    # Half-pixel centres: output pixel 1 samples source 0.25, pixel 0 clamps to 0.
    np.testing.assert_allclose(out[0], [0.0, 0.25, 0.75, 1.0])
    np.testing.assert_allclose(out[:, 0], [0.0, 0.5, 1.5, 2.0])
    assert out.dtype == np.float32
    np.testing.assert_array_equal(upsample_bilinear(small, 2, 2), small)


def test_input_size_keeps_aspect_and_stride() -> None:
    iw, ih = roi.input_size(768, 512)
    assert iw == roi.MAX_SIDE and abs(ih - roi.MAX_SIDE * 2 / 3) <= roi.STRIDE / 2
    for w, h in [(1, 1), (7, 300), (513, 17), (4000, 3000)]:
        iw, ih = roi.input_size(w, h)
        assert iw % roi.STRIDE == 0 and ih % roi.STRIDE == 0 and max(iw, ih) <= roi.MAX_SIDE + roi.STRIDE


@pytest.mark.parametrize("kind", ["msroi", "readout"])
def test_object_beats_background(kind: str) -> None:
    skdata = pytest.importorskip("skimage.data")
    im = Image.fromarray(skdata.coffee())  # 600x400: cup and saucer in the middle, plain table at the top corners
    m = roi.roi_map(im, kind=kind)
    cup = m[100:300, 150:450].mean()
    corners = np.concatenate([m[:60, :100].ravel(), m[:60, -100:].ravel()]).mean()
    # The readout is a peaked fixation density, so compare relatively rather than by a fixed margin.
    assert cup > 2 * corners + 0.02
    y, x = np.unravel_index(np.argmax(m), m.shape)
    assert 50 <= y < 350 and 100 <= x < 500


def test_encoding_map_is_the_default_map_of_the_encoder(photo: Image.Image) -> None:
    import pillow_msroi

    small = roi.encoding_map(photo)
    assert small.dtype == np.float32 and small.ndim == 2
    assert small.shape[0] < photo.height and small.shape[1] < photo.width
    assert 0.0 <= small.min() and small.max() == 1.0
    # A monotone flattening of the network's own map: same order, larger values.
    raw = maps.normalize(roi.small_map(photo))
    np.testing.assert_allclose(small, raw**roi.ENCODING_GAMMA, rtol=1e-5, atol=1e-6)
    assert small.mean() > raw.mean()
    for method in ("dct", "blend"):
        assert pillow_msroi.encode(photo, method=method) == pillow_msroi.encode(photo, map=small, method=method)


def test_truncated_model(monkeypatch: pytest.MonkeyPatch, tmp_path, photo: Image.Image) -> None:
    cut = tmp_path / "truncated.onnx"
    cut.write_bytes(roi.model_path().read_bytes()[: 1 << 20])
    monkeypatch.setenv("MSROI_MODEL", str(cut))
    with pytest.raises(OSError, match=r"truncated\.onnx is corrupt or unreadable.*MSROI_MODEL"):
        roi.roi_map(photo)


def test_onnxruntime_missing(monkeypatch: pytest.MonkeyPatch, tmp_path, photo: Image.Image) -> None:
    import sys

    import pillow_msroi

    # A model path not yet loaded, so a new session (and the import) is needed.
    copy = tmp_path / "copy.onnx"
    copy.write_bytes(roi.model_path().read_bytes())
    monkeypatch.setenv("MSROI_MODEL", str(copy))
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ImportError, match="pip install onnxruntime"):
        roi.roi_map(photo)
    with pytest.raises(OSError, match=r"needs the MSROI network.*pip install onnxruntime.*or pass a map"):
        pillow_msroi.encode(photo)
    before = photo.tobytes()
    import io

    buf = io.BytesIO()
    with pytest.raises(OSError, match="pass a map"):
        photo.save(buf, "JPEG", semantic=True)
    assert buf.getvalue() == b"" and photo.tobytes() == before


def test_shared_session_from_threads(photo: Image.Image) -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import pillow_msroi

    serial_map = roi.roi_map(photo)
    serial_file = pillow_msroi.encode(photo)
    barrier = threading.Barrier(4)

    def run(i: int) -> tuple[np.ndarray, bytes]:
        barrier.wait()
        return roi.roi_map(photo), pillow_msroi.encode(photo)

    with ThreadPoolExecutor(max_workers=4) as pool:
        for m, data in pool.map(run, range(4)):
            np.testing.assert_array_equal(m, serial_map)
            assert data == serial_file


def test_installed_package_carries_its_model() -> None:
    """A normal (non-editable) install finds the model inside the package, not a checkout."""
    from pathlib import Path

    package = Path(roi.__file__).resolve().parent
    if (package.parent / "setup.py").is_file():
        pytest.skip("running from the source tree (in-place build); CI runs this against the installed wheel")
    assert roi.model_path() == package / "models" / "msroi.onnx"
    assert (package / "models" / "msroi.onnx.sha256").is_file()
    assert (package / "models" / "README.md").is_file()
