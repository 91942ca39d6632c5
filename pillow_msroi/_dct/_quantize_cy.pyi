"""Typed face of quantization: the masking activity and the trellis (csrc/_quantize_cy.pyx)."""

import numpy as np
import numpy.typing as npt

def block_activity(
    coef: npt.NDArray[np.float32], freq_weight: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]: ...
def trellis_quantize(
    coef: npt.NDArray[np.float32],
    qtable: npt.NDArray[np.uint16],
    price: npt.NDArray[np.float32],
    freq_weight: npt.NDArray[np.float32],
    ac_bits: npt.NDArray[np.float32],
    keep_low: int,
    out: npt.NDArray[np.int16],
) -> int: ...
