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

# DCT-domain method (csrc/dct.pxi)
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
def block_means(
    src: npt.NDArray[np.float32],
    height: int,
    width: int,
    block_h: int,
    block_w: int,
    n_rows: int,
    n_cols: int,
) -> npt.NDArray[np.float32]: ...
def quantize_rd(
    coef: npt.NDArray[np.float32],
    qtable: npt.NDArray[np.uint16],
    weight: npt.NDArray[np.float32],
    base: float,
    scale: float,
    ac_bits: npt.NDArray[np.float32],
    out: npt.NDArray[np.int16],
) -> int: ...
COUNTS: int

def count_scan(
    components: list[npt.NDArray[np.int16]],
    sampling: list[tuple[int, int]],
    tables: list[int],
    restart_interval: int,
    ss: int = ...,
    se: int = ...,
    blocks: tuple[int, int] | None = ...,
    row0: int = ...,
    row1: int | None = ...,
) -> npt.NDArray[np.int64]: ...
def encode_scan(
    components: list[npt.NDArray[np.int16]],
    sampling: list[tuple[int, int]],
    tables: list[int],
    restart_interval: int,
    emit: bool = ...,
    ss: int = ...,
    se: int = ...,
    blocks: tuple[int, int] | None = ...,
    counts: npt.NDArray[np.int64] | None = ...,
) -> tuple[bytes | int, dict[tuple[int, int], tuple[bytes, bytes]]]: ...
