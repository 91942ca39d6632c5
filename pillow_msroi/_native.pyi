"""Typed face of the private Cython extension built from csrc/_native.pyx."""

import numpy as np
import numpy.typing as npt

def sample_bilinear(
    src: npt.NDArray[np.float32],
    height: int,
    width: int,
    rows: npt.NDArray[np.intp],
    cols: npt.NDArray[np.intp],
) -> npt.NDArray[np.float32]: ...
def upsample_bilinear(src: npt.NDArray[np.float32], height: int, width: int) -> npt.NDArray[np.float32]: ...
def assign_levels(
    src: npt.NDArray[np.float32],
    height: int,
    width: int,
    edges: npt.NDArray[np.float64],
    table: npt.NDArray[np.uint8],
    strict: bool = ...,
    divisor: float = ...,
) -> npt.NDArray[np.uint8]: ...
def blend_level(
    layer: npt.NDArray[np.uint8],
    levels: npt.NDArray[np.uint8],
    level: int,
    out: npt.NDArray[np.uint8],
) -> int: ...
def level_boxes(levels: npt.NDArray[np.uint8]) -> npt.NDArray[np.int64]: ...
def mean_max(src: npt.NDArray[np.float32], height: int, width: int) -> tuple[float, float]: ...
