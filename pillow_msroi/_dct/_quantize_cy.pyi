"""Typed face of rate-distortion quantization (csrc/_quantize_cy.pyx)."""

import numpy as np
import numpy.typing as npt

def quantize_rd(
    coef: npt.NDArray[np.float32],
    qtable: npt.NDArray[np.uint16],
    weight: npt.NDArray[np.float32],
    base: float,
    scale: float,
    ac_bits: npt.NDArray[np.float32],
    out: npt.NDArray[np.int16],
) -> int: ...
