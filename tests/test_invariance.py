"""What the README promises for every input, as Hypothesis properties.

- "only relative values matter" (``semantic_map``): a map plus a constant, or times a
  positive constant, gives the same bytes, with either method.  The maps here are
  multiples of 1/64 and the constants integers (times powers of two), so the shifted and
  scaled maps are exact in float64 and the promise is byte equality, not closeness.
- "never larger than Pillow's plain JPEG of the same image at that quality with the same
  options, times 1 + semantic_slack": for tiny images, pathological maps (one hot
  pixel, all zero, values at the ends of float64) and every option, and with the dct's
  retry and fallback paths forced (no stuffing allowance, an optimistic or hopeless size
  estimate).

The README says a map of any size is stretched bilinearly inside the kernels, not that
it gives the bytes of the same map resized beforehand (the stretched map's minimum and
maximum need not be the small map's, so normalizing differs), so no such property is
tested; the stretch itself is tested against a numpy restatement (test_dct.py,
test_native.py).
"""

from __future__ import annotations

import io
import math
from unittest import mock

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st
from imaging import centred_map, plain_jpeg, synthetic_rgb
from PIL import Image

import pillow_msroi
from pillow_msroi import encode, encode_details
from pillow_msroi._dct import rate


# Maps of multiples of 1/64 in 0..10: any integer shift below 2**20 and any scale by an
# integer below 2**12 times a power of two stay exact.
dyadic_maps = st.tuples(st.integers(1, 9), st.integers(1, 9), st.integers(0, 2**32 - 1)).map(
    lambda t: np.random.default_rng(t[2]).integers(0, 641, (t[0], t[1])) / 64.0
)
methods = st.one_of(st.just(("dct", None)), st.tuples(st.just("blend"), st.integers(1, 6)))
CENTRED = np.round(centred_map(8, 6) * 640) / 64.0


def _image(w: int, h: int, mode: str, seed: int) -> Image.Image:
    return synthetic_rgb(w, h, seed=seed).convert(mode)


@given(
    map_=dyadic_maps,
    shift=st.integers(-(2**20), 2**20),
    method=methods,
    quality=st.integers(1, 100),
    size=st.tuples(st.integers(8, 64), st.integers(8, 64)),
    mode=st.sampled_from(["RGB", "L"]),
    seed=st.integers(0, 100),
)
@example(map_=CENTRED, shift=5, method=("dct", None), quality=50, size=(64, 48), mode="RGB", seed=0)
@example(map_=CENTRED, shift=-3, method=("blend", 3), quality=50, size=(64, 48), mode="RGB", seed=0)
@example(map_=CENTRED, shift=7, method=("blend", 2), quality=75, size=(64, 48), mode="RGB", seed=0)
def test_adding_a_constant_to_the_map_changes_nothing(map_, shift, method, quality, size, mode, seed):
    im = _image(*size, mode, seed)
    name, rule = method
    base = encode(im, map=map_, quality=quality, method=name, rule=rule)
    assert encode(im, map=map_ + shift, quality=quality, method=name, rule=rule) == base


@given(
    map_=dyadic_maps,
    factor=st.integers(1, 2**12 - 1),
    power=st.integers(-30, 30),
    method=methods,
    quality=st.integers(1, 100),
    size=st.tuples(st.integers(8, 64), st.integers(8, 64)),
    seed=st.integers(0, 100),
)
@example(map_=CENTRED, factor=3, power=-4, method=("dct", None), quality=50, size=(64, 48), seed=0)
@example(map_=CENTRED, factor=1000, power=0, method=("blend", 2), quality=50, size=(64, 48), seed=0)
def test_multiplying_the_map_by_a_positive_constant_changes_nothing(map_, factor, power, method, quality, size, seed):
    im = _image(*size, "RGB", seed)
    name, rule = method
    base = encode(im, map=map_, quality=quality, method=name, rule=rule)
    scaled = map_ * (factor * 2.0**power)
    assert encode(im, map=scaled, quality=quality, method=name, rule=rule) == base


def _pathological(kind: str, h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "hot-pixel":
        m = np.zeros((h, w))
        m[rng.integers(h), rng.integers(w)] = 1.0
        return m
    if kind == "zero":
        return np.zeros((h, w))
    if kind == "extremes":  # finite, but their range overflows float64
        return rng.choice([-np.finfo(float).max, 0.0, np.finfo(float).max], (h, w))
    if kind == "tiny":  # subnormal spread
        return rng.integers(0, 3, (h, w)) * 5e-324
    return rng.random((h, w))


@given(
    size=st.tuples(st.integers(1, 40), st.integers(1, 40)),
    mode=st.sampled_from(["1", "L", "RGB", "RGBX", "YCbCr", "CMYK"]),
    texture=st.sampled_from(["photo", "noise", "flat"]),
    map_kind=st.sampled_from(["hot-pixel", "zero", "extremes", "tiny", "random"]),
    map_shape=st.tuples(st.integers(1, 60), st.integers(1, 60)),
    method=st.sampled_from(["auto", "dct", "blend"]),
    quality=st.integers(1, 100),
    slack=st.sampled_from([0.0, 0.0, 0.003, 0.05]),
    subsampling=st.sampled_from([-1, 0, 1, 2]),
    extra=st.sampled_from([{}, {"optimize": True}, {"progressive": True}, {"restart_marker_blocks": 1}]),
    forcing=st.sampled_from(["none", "no-stuffing", "optimistic", "wildly-optimistic"]),
    seed=st.integers(0, 1000),
)
def test_the_budget_holds_for_every_input(
    size, mode, texture, map_kind, map_shape, method, quality, slack, subsampling, extra, forcing, seed
):
    w, h = size
    if texture == "noise":
        rgb = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
        im = Image.fromarray(rgb).convert(mode)
    elif texture == "flat":
        im = Image.new("RGB", size, (seed % 256, 90, 200)).convert(mode)
    else:
        im = _image(w, h, mode, seed)
    if mode == "CMYK" and method == "dct":
        method = "blend"
    map_ = _pathological(map_kind, *map_shape, seed)
    options = {"subsampling": subsampling, **extra}
    real_estimate = rate.Passes.estimate
    factor = {"optimistic": 0.97, "wildly-optimistic": 0.1}.get(forcing, 1.0)
    with (
        mock.patch.object(rate, "STUFFING", 0.0 if forcing == "no-stuffing" else rate.STUFFING),
        mock.patch.object(rate.Passes, "estimate", lambda self, q, s: max(1, int(real_estimate(self, q, s) * factor))),
    ):
        result = encode_details(im, map=map_, quality=quality, slack=slack, method=method, **options)
    plain = plain_jpeg(im, quality=quality, **options)
    assert result.plain_bytes == len(plain)
    assert result.budget == math.floor(len(plain) * (1.0 + slack))
    assert len(result.data) <= result.budget
    if result.fallback:
        assert result.data == plain
    with Image.open(io.BytesIO(result.data)) as out:
        assert out.size == size
        out.load()


def test_finite_maps_whose_range_overflows_float64():
    # max - min of these is inf: normalizing used to give NaN (the blend then raised an
    # unrelated ValueError, the dct priced blocks by NaN); a larger-than-image map of them
    # overflowed float32 while being shrunk.
    big = np.finfo(float).max
    im = synthetic_rgb(48, 32)
    for method in ("dct", "blend"):
        expected = encode(im, map=np.array([[1.0, -1.0], [0.0, 0.5]]), method=method)
        assert encode(im, map=np.array([[big, -big], [0.0, big / 2]]), method=method) == expected
    huge = np.zeros((64, 96))
    huge[:32] = big
    huge[32:] = -big
    assert len(encode(im, map=huge)) <= len(plain_jpeg(im))
