"""The perceptual quantizer: kernels against numpy/brute-force restatements, then files."""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest
from imaging import synthetic_rgb
from PIL import Image
from skimage import data as skdata

import pillow_msroi
from pillow_msroi import _dct as dct
from pillow_msroi import _maps as maps
from pillow_msroi import _writer as writer
from pillow_msroi._dct import _quantize_cy, field, rate, scans, tables
from pillow_msroi._dct._transform_cy import ZIGZAG
from pillow_msroi._options import SemanticOptions

ZZ = ZIGZAG


def block_cost(levels: np.ndarray, x: np.ndarray, weight: np.ndarray, price: float, bits: np.ndarray) -> float:
    """Weighted squared error in steps plus price times the AC bits of one zigzag block,
    counted symbol by symbol as an encoder writes them."""
    err = float((weight[1:] * (x[1:] - levels[1:]) ** 2).sum())
    nbits, run = 0.0, 0
    last = max((k for k in range(1, 64) if levels[k]), default=0)
    for k in range(1, last + 1):
        if levels[k] == 0:
            run += 1
            continue
        while run > 15:
            nbits += bits[0xF0]
            run -= 16
        size = int(abs(levels[k])).bit_length()
        nbits += bits[(run << 4) | size] + size
        run = 0
    if last < 63:
        nbits += bits[0x00]
    return err + price * nbits


def brute_force(x: np.ndarray, weight: np.ndarray, price: float, bits: np.ndarray, keep_low: int) -> float:
    """The least cost over every choice of zero / rounded / rounded - 1 per coefficient."""
    ax = np.abs(x)
    cands = [k for k in range(1, 64) if ax[k] >= 0.5]
    options = []
    for k in cands:
        top = int(np.floor(ax[k] + 0.5))
        opts = {top, top - 1} if k <= keep_low else {0, top, top - 1}
        options.append(sorted(o for o in opts if o >= 0 and (o > 0 or k > keep_low)))
    best = np.inf
    for choice in itertools.product(*options):
        levels = np.zeros(64)
        for k, n in zip(cands, choice):
            levels[k] = n * np.sign(x[k])
        best = min(best, block_cost(levels, x, weight, price, bits))
    return best


def trellis(coef, table, price, weight=None, bits=None, keep_low=0):
    out = np.empty(coef.shape, np.int16)
    weight = np.ones(64, np.float32) if weight is None else weight
    bits = np.full(256, 6.0, np.float32) if bits is None else bits
    n = _quantize_cy.trellis_quantize(coef, table, price, weight, bits, keep_low, out)
    return out, n


@pytest.mark.parametrize("keep_low", [0, 2])
def test_trellis_finds_the_least_cost_of_every_block(keep_low):
    rng = np.random.default_rng(11 + keep_low)
    table = np.full(64, 10, np.uint16)
    table[0] = 8
    bits = rng.uniform(2, 16, 256).astype(np.float32)
    weight = rng.uniform(0.5, 2.0, 64).astype(np.float32)
    for trial in range(40):
        # Few coefficients of a step or more (the brute force is exponential), with long
        # zero runs among them, some over 16.
        coef = rng.normal(0, 2, (1, 1, 64)).astype(np.float32)
        hot = rng.choice(np.arange(1, 64), size=rng.integers(1, 8), replace=False)
        hot[0] = min(hot[0], 2) if trial % 2 else hot[0]
        coef[0, 0, hot] = rng.normal(0, 25, len(hot))
        price = np.array([[rng.uniform(0.01, 3.0)]], np.float32)
        out, _ = trellis(coef, table, price, weight, bits, keep_low)
        x = coef[0, 0] / table[ZZ]
        got = block_cost(out[0, 0].astype(float), x, weight, float(price[0, 0]), bits)
        want = brute_force(x, weight, float(price[0, 0]), bits, keep_low)
        assert got == pytest.approx(want, rel=1e-4, abs=1e-4)
        assert out[0, 0, 0] == np.round(x[0])


def test_trellis_without_price_rounds_and_pads_keep_only_dc():
    rng = np.random.default_rng(3)
    coef = (rng.normal(0, 60, (4, 5, 64)) * rng.random(64) ** 3).astype(np.float32)
    table = tables.quant_table(75, chroma=False)
    price = np.zeros((4, 5), np.float32)
    price[1, 2] = -1
    out, n = trellis(coef, table, price)
    expected = np.clip(np.round(coef / table[ZZ]), -1024, 1023)
    expected[1, 2, 1:] = 0
    np.testing.assert_array_equal(out, expected)
    assert n == np.count_nonzero(expected[:, :, 1:])


def test_trellis_error_grows_with_price_and_keeps_low_terms():
    rng = np.random.default_rng(4)
    coef = (rng.normal(0, 80, (6, 6, 64)) * rng.random(64) ** 2).astype(np.float32)
    table = tables.quant_table(60, chroma=False)
    x = coef / table[ZZ]
    errors, counts = [], []
    for price in (0.0, 0.05, 0.5, 5.0, 500.0):
        out, n = trellis(coef, table, np.full((6, 6), price, np.float32), keep_low=2)
        errors.append(float(((out - x)[:, :, 1:] ** 2).sum()))
        counts.append(n)
        # Levels never grow or flip sign; low terms that round to nonzero stay nonzero.
        assert np.all(np.abs(out) <= np.abs(np.round(x)))
        assert np.all(np.sign(out) * np.sign(x) >= 0)
        rounded = np.round(x[:, :, 1:3])
        assert np.all((rounded == 0) | (out[:, :, 1:3] != 0))
    assert errors == sorted(errors) and counts == sorted(counts, reverse=True)


def test_trellis_rejects_bad_arguments():
    coef = np.zeros((2, 2, 64), np.float32)
    table = np.ones(64, np.uint16)
    with pytest.raises(ValueError, match="price grid"):
        trellis(coef, table, np.zeros((3, 2), np.float32))
    with pytest.raises(ValueError, match="keep_low"):
        trellis(coef, table, np.zeros((2, 2), np.float32), keep_low=64)
    with pytest.raises(ValueError, match="table entries"):
        trellis(coef, np.zeros(64, np.uint16), np.zeros((2, 2), np.float32))


def test_block_activity_is_the_weighted_mean_square_of_ac():
    rng = np.random.default_rng(5)
    coef = rng.normal(0, 20, (3, 4, 64)).astype(np.float32)
    weight = rng.uniform(0, 2, 64).astype(np.float32)
    expected = (coef[:, :, 1:] ** 2 * weight[1:]).sum(axis=2) / weight[1:].sum()
    np.testing.assert_allclose(_quantize_cy.block_activity(coef, weight), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="positive AC"):
        _quantize_cy.block_activity(coef, np.zeros(64, np.float32))


def test_masking_field_is_larger_in_texture_and_coarsens_for_chroma():
    rng = np.random.default_rng(6)
    coef = np.zeros((4, 4, 64), np.float32)
    coef[:, 2:, 1:] = rng.normal(0, 40, (4, 2, 63))  # right half textured
    luma, chroma = field.masking(coef, [(1, 1), (2, 2)])
    assert luma.shape == (4, 4) and chroma.shape == (2, 2)
    assert luma[:, 3].min() > 2 * luma[:, 0].max()
    assert luma.min() >= 1.0 and luma.max() <= field.ACT_MAX
    np.testing.assert_allclose(chroma, luma.reshape(2, 2, 2, 2).mean(axis=(1, 3)))


def test_map_factor_is_bounded_and_neutral_for_a_uniform_map():
    means = np.array([[0.0, 0.5], [1.0, -1.0]], np.float32)
    f = field.map_factor(means)
    assert f[0, 0] > f[0, 1] > f[1, 0]
    assert f[:, :].max() <= field.MAP_RANGE and f.min() >= 1 / field.MAP_RANGE
    np.testing.assert_allclose(field.map_factor(np.full((3, 3), 0.3, np.float32)), 1.0)
    assert field.prices(np.ones((2, 2)), means)[1, 1] == -1


def test_favoured_blocks_give_up_part_of_their_masking():
    # Where people look, texture hides less: a favoured textured block's price rises
    # with its activity by only field ** (1 - MAP_MASKING); a block the map ignores
    # keeps the whole field.
    assert 0 < field.MAP_MASKING < 1
    masking = np.array([[1.0, 16.0, 1.0, 16.0]])
    means = np.array([[1.0, 1.0, 0.0, 0.0]], np.float32)
    p = field.prices(masking, means).astype(np.float64)
    np.testing.assert_allclose(p[0, 1] / p[0, 0], 16.0 ** (1 - field.MAP_MASKING), rtol=1e-5)
    np.testing.assert_allclose(p[0, 3] / p[0, 2], 16.0, rtol=1e-5)


def test_semantic_luma_table_has_finer_high_frequencies_only():
    for q in (20, 50, 75):
        plain, semantic = tables.quant_table(q, False).astype(int), tables.quant_table(q, False, semantic=True)
        assert semantic[0] == plain[0] and np.all(semantic <= plain) and semantic[63] < plain[63]
        np.testing.assert_array_equal(tables.quant_table(q, True, semantic=True), tables.quant_table(q, True))


def test_a_map_that_lifts_a_few_blocks_keeps_the_cores_table():
    means = np.zeros((64, 64), np.float32)
    means[10, 10] = 1.0  # one block in 4096: min-max normalization made it the maximum
    assert not field.favours(means)
    means[:8, :] = 1.0  # an eighth of the image
    assert field.favours(means)
    means[:, 60:] = -1.0  # padding blocks are no part of the image's share
    assert field.favours(means)
    assert not field.favours(np.full((4, 4), -1.0, np.float32))
    assert not field.favours(np.zeros((4, 4), np.float32))


@pytest.mark.parametrize("size", [(256, 256), (203, 141)])  # the second: padding blocks
@pytest.mark.parametrize("uniform", [True, False])
def test_files_carry_the_semantic_luma_table_only_for_a_map_that_favours(astronaut, uniform, size):
    small = np.ones((8, 8)) if uniform else np.linspace(0, 1, 64).reshape(8, 8)
    result = pillow_msroi.encode_details(astronaut.resize(size), quality=50, map=small)
    with Image.open(io.BytesIO(result.data)) as im:
        luma = sorted(im.quantization[0])
    assert luma == sorted(tables.quant_table(result.quality, False, semantic=not uniform))
    assert luma != sorted(tables.quant_table(result.quality, False, semantic=uniform))


def test_tables_are_baseline_and_monotone_in_quality():
    previous = None
    for q in range(1, 101):
        for chroma in (False, True):
            t = tables.quant_table(q, chroma)
            assert t.dtype == np.uint16 and t.min() >= 1 and t.max() <= 255
        t = tables.quant_table(q, False).astype(int)
        if previous is not None:
            assert np.all(t <= previous)
        previous = t
    assert np.all(tables.quant_table(100, False) == 1)


# ----------------------------------------------------------------------------- whole files


def encode(im, quality=50, map_=None, **jpeg):
    small = maps.prepare_map(np.ones((4, 4)) if map_ is None else map_, *im.size)
    return dct.encode(writer.view(im), small, SemanticOptions(quality=quality, method="dct"), {"subsampling": -1, **jpeg})


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    return Image.fromarray(skdata.astronaut()).resize((256, 256))


@pytest.mark.parametrize("quality", [5, 30, 50, 75, 95])
def test_files_fit_the_budget_and_decode(astronaut, quality):
    for im in (astronaut, synthetic_rgb(97, 61, seed=quality)):
        result = encode(im, quality)
        assert len(result.data) <= result.budget
        out = Image.open(io.BytesIO(result.data))
        out.load()
        assert out.size == im.size


def _decoded_ycbcr(data: bytes) -> np.ndarray:
    """The decoder's YCbCr planes (upsampled chroma), before any colour conversion."""
    with Image.open(io.BytesIO(data)) as im:
        im.draft("YCbCr", im.size)
        return np.asarray(im, dtype=np.float64)


def test_quality_100_keeps_plain_quality_100s_chroma_and_betters_its_luma(astronaut):
    # Quality 100 ends in plain rounding at tables of ones: chroma through libjpeg's
    # integer DCT gives plain quality 100's chroma exactly (the float DCT's was a little
    # worse), luma through the float DCT a little better (bench/experiments/quality100.py).
    for im in (astronaut, synthetic_rgb(97, 61, seed=3)):
        ours = pillow_msroi.encode(im, quality=100, map=np.linspace(0, 1, 64).reshape(8, 8))
        plain = writer.write(writer.view(im), {"subsampling": -1, "quality": 100})
        assert len(ours) < len(plain)
        o, p = _decoded_ycbcr(ours), _decoded_ycbcr(plain)
        np.testing.assert_array_equal(o[..., 1:], p[..., 1:])
        # libjpeg's luma of the original: a plain quality-100 encode's DC-exact reference.
        luma = np.asarray(im.convert("RGB"), dtype=np.float64) @ np.array([0.299, 0.587, 0.114])
        assert np.mean((o[..., 0] - luma) ** 2) < np.mean((p[..., 0] - luma) ** 2)


@pytest.mark.parametrize("quality", [30, 50])
def test_fewer_flat_tiles_than_plain_jpeg(astronaut, quality):
    # The old core's bug: at equal bytes it dropped every AC term of half the blocks, so
    # areas with gentle detail became flat 8x8 tiles.  In a grey image a block coded with
    # its DC alone decodes to one value; count those where the original is not flat.
    im = astronaut.convert("L")
    src = np.asarray(im, dtype=np.float64).reshape(32, 8, 32, 8).transpose(0, 2, 1, 3).reshape(32, 32, 64)
    detailed = src.std(axis=2) > 2.0

    def flat_share(data: bytes) -> float:
        out = np.asarray(Image.open(io.BytesIO(data)), dtype=np.float64)
        blocks = out.reshape(32, 8, 32, 8).transpose(0, 2, 1, 3).reshape(32, 32, 64)
        return float((np.ptp(blocks, axis=2) == 0)[detailed].mean())

    ours = flat_share(encode(im, quality).data)
    plain = flat_share(writer.write(writer.view(im), {"subsampling": -1, "quality": quality}))
    assert ours <= plain


def test_code_lengths_are_huffmans():
    rng = np.random.default_rng(9)
    freq = np.zeros(256)
    used = rng.choice(256, 40, replace=False)
    freq[used] = rng.integers(1, 5000, 40)
    bits = scans.code_lengths(freq)
    # A complete prefix code over the used symbols, no code over 16 bits, rarer symbols
    # never shorter, and the expected length within a bit of the entropy.
    assert np.sum(2.0 ** -bits[used]) == pytest.approx(1.0)
    assert bits.max() <= 16
    order = used[np.argsort(freq[used])]
    assert np.all(np.diff(bits[order]) <= 0)
    p = freq[used] / freq.sum()
    entropy = -(p * np.log2(p)).sum()
    assert entropy <= (p * bits[used]).sum() < entropy + 1
    assert np.all(bits[freq == 0] == bits[used].max() + 1)
    np.testing.assert_array_equal(scans.code_lengths(np.eye(256)[7] * 3)[[7, 8]], [1, 2])


def test_progressive_files_learn_their_own_code_lengths(astronaut, monkeypatch):
    # A progressive header carries no AC tables: one pass learns the image's lengths.
    learnt = []
    original = rate.Passes.learn_bits

    def spy(self, quality, strength):
        original(self, quality, strength)
        learnt.append(dict(self.bits))

    monkeypatch.setattr(rate.Passes, "learn_bits", spy)
    baseline = encode(astronaut, 50)
    assert not learnt and len(baseline.data) <= baseline.budget
    result = encode(astronaut, 50, progressive=True)
    assert len(learnt) == 1 and set(learnt[0]) == {0, 1}
    assert all(b.max() <= 16 and b.min() >= 1 for b in learnt[0].values())
    assert len(result.data) <= result.budget
    out = Image.open(io.BytesIO(result.data))
    out.load()
    assert out.info.get("progressive") == 1


def test_every_block_keeps_its_lowest_ac_terms_however_dear_a_bit(astronaut):
    # The "never tiled": at any price, the first two AC terms (zigzag 1..2) that
    # round to a level keep one, so a thinned block still has its coarse shape.
    from pillow_msroi._dct import coefficients, markers, quantize

    header = markers.parse_header(writer.write(writer.view(astronaut), {"subsampling": -1, "quality": 50}))
    coefs = coefficients.Coefficients(writer.view(astronaut), np.zeros((1, 1), np.float32), header)
    try:
        tables = quantize.table_set(coefs, 60)
        quantize.quantize(coefs, tables, 1000.0, {})
        for coef, out, t in zip(coefs.coefs, coefs.out, coefs.tables):
            step = tables[t][ZZ].astype(np.float64)
            rounded = np.floor(np.abs(coef / step) + 0.5)
            low = slice(1, 3)  # the first two AC terms, as the README says
            np.testing.assert_array_equal(out[..., low] != 0, rounded[..., low] != 0)
            assert (out[..., 3:] != 0).mean() < 0.5 * (rounded[..., 3:] != 0).mean()  # a dear bit thins the rest
    finally:
        coefs.release()
