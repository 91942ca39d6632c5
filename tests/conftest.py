"""Fixtures: small deterministic images and maps; Hypothesis profiles."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from imaging import centred_map, synthetic_rgb
from PIL import Image

# "ci": the same examples on every run (derandomized, no example database), so a red CI
# run is reproducible and a green one is not luck; selected where $CI is set (CI systems
# set it; .ci/run does).  "dev": fresh random examples on each local run, same count.
# $HYPOTHESIS_PROFILE picks one explicitly (e.g. "dev" with more examples for a soak).
_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("ci", derandomize=True, database=None, max_examples=30, print_blob=True, **_COMMON)
settings.register_profile("dev", max_examples=30, **_COMMON)
settings.register_profile("soak", max_examples=500, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


@pytest.fixture
def photo() -> Image.Image:
    return synthetic_rgb(160, 120)


@pytest.fixture
def photo_map() -> np.ndarray:
    return centred_map(20, 15)
