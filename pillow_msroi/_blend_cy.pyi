"""Typed face of the blend's kernels (csrc/_blend_cy.pyx)."""

import numpy as np
import numpy.typing as npt

def blend_level(
    layer: npt.NDArray[np.uint8],
    levels: npt.NDArray[np.uint8],
    level: int,
    out: npt.NDArray[np.uint8],
) -> int: ...
def level_boxes(levels: npt.NDArray[np.uint8]) -> npt.NDArray[np.int64]: ...
