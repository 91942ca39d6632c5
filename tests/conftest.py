"""Fixtures: small deterministic images and maps."""

from __future__ import annotations

import numpy as np
import pytest
from imaging import centred_map, synthetic_rgb
from PIL import Image


@pytest.fixture
def photo() -> Image.Image:
    return synthetic_rgb(160, 120)


@pytest.fixture
def photo_map() -> np.ndarray:
    return centred_map(20, 15)
