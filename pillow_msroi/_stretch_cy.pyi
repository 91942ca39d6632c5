"""Typed face of map stretching kernels (csrc/_stretch_cy.pyx)."""

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
def mean_max(src: npt.NDArray[np.float32], height: int, width: int) -> tuple[float, float]: ...
def block_means(
    src: npt.NDArray[np.float32],
    height: int,
    width: int,
    block_h: int,
    block_w: int,
    n_rows: int,
    n_cols: int,
) -> npt.NDArray[np.float32]: ...
