"""Typed face of colour conversion, downsampling and DCT (csrc/_transform_cy.pyx)."""

import numpy as np
import numpy.typing as npt

ZIGZAG: npt.NDArray[np.intp]
def image_pixels(image: object) -> npt.NDArray[np.uint8] | None: ...
def color_planes(
    src: npt.NDArray[np.uint8],
    pad_h: int,
    pad_w: int,
    n_out: int,
    to_ycbcr: bool,
) -> npt.NDArray[np.uint8]: ...
def downsample(plane: npt.NDArray[np.uint8], h_factor: int, v_factor: int) -> npt.NDArray[np.uint8]: ...
def forward_dct(plane: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]: ...
def transform(
    src: npt.NDArray[np.uint8],
    to_ycbcr: bool,
    sampling: list[tuple[int, int]],
    outs: list[npt.NDArray[np.float32]],
    mcu_row0: int,
    mcu_row1: int,
) -> None: ...
