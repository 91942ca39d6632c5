"""The byte-budget search against brute force."""

from __future__ import annotations

import math

import pytest

from pillow_msroi._budget import MAX_ENCODES, highest_quality_within


def sizes_exponential(scale: float, rate: float):
    return lambda q: b"x" * int(scale * math.exp(rate * q))


def sizes_jumpy(q: int) -> bytes:  # monotone with plateaus and a cliff near the top
    return b"x" * (1000 + 10 * (q // 7) + (5000 if q > 95 else 0))


CASES = [sizes_exponential(2000, 0.02), sizes_exponential(50, 0.09), sizes_jumpy]


@pytest.mark.parametrize("make", CASES)
@pytest.mark.parametrize("guess", [None, 1, 50, 75, 100])
def test_finds_highest_fitting_quality_within_eight_encodes(make, guess):
    for budget in [0, 10, 1000, 1500, 2000, 2500, 4000, 6000, 10**9]:
        calls = []

        def encode(q):
            calls.append(q)
            return make(q)

        fit = highest_quality_within(encode, budget, guess=guess)
        fitting = [q for q in range(1, 101) if len(make(q)) <= budget]
        assert fit.quality == (max(fitting) if fitting else None)
        assert len(calls) <= MAX_ENCODES and len(set(calls)) == len(calls)
        if fit.quality is not None:
            assert fit.data == make(fit.quality)
        else:
            assert fit.data is None


def test_good_guess_needs_few_encodes():
    make = sizes_exponential(2000, 0.02)
    budget = len(make(70)) + 1
    fit = highest_quality_within(make, budget, guess=70)
    assert fit.quality == 70 and fit.encodes <= 3


@pytest.mark.parametrize("exponent", [0.45, 0.5, 0.7])
@pytest.mark.parametrize("guess", [30, 50, 75])
def test_size_law_brackets_the_answer_in_few_encodes(exponent, guess):
    # A file that follows libjpeg's table scaling, as real encodes roughly do.
    def make(q):
        scale = 5000.0 / q if q < 50 else max(200.0 - 2.0 * q, 1.0)
        return b"x" * int(40000 * scale**-exponent)

    for offset in (-3, 0, 2, 5):
        budget = len(make(guess + offset)) + 1
        fit = highest_quality_within(make, budget, guess=guess)
        assert fit.quality == guess + offset
        assert fit.encodes <= 4
