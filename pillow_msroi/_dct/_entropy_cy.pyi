"""Typed face of Huffman entropy coding (csrc/_entropy_cy.pyx)."""

import numpy as np
import numpy.typing as npt

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
