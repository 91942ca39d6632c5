"""Scans: the scan script (baseline, or progressive spectral selection), the driver of the
entropy coder in csrc/_entropy_cy.pyx (counting in parallel row ranges, then writing), and
the Huffman code lengths that price the trellis's symbols."""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _pool
from ._entropy_cy import count_scan, encode_scan
from .coefficients import Coefficients
from .markers import Header, HuffmanSpecs


@dataclass(frozen=True)
class Scan:
    """One scan of the file: which components, which band of coefficients."""

    components: tuple[int, ...]  # indices into the frame's components
    ss: int = 0
    se: int = 63


def progressive_script(n_components: int) -> tuple[Scan, ...]:
    """Spectral selection without successive approximation (libjpeg's default bands):
    the DC of all components, then the AC bands one component at a time, the first few
    luma frequencies early so that a partial file already shows the picture."""
    if n_components == 1:
        return (Scan((0,), 0, 0), Scan((0,), 1, 5), Scan((0,), 6, 63))
    chroma = tuple(Scan((k,), 1, 63) for k in range(1, n_components))
    return (Scan(tuple(range(n_components)), 0, 0), Scan((0,), 1, 5), *chroma, Scan((0,), 6, 63))


def script(n_components: int, progressive: bool) -> tuple[Scan, ...]:
    return progressive_script(n_components) if progressive else (Scan(tuple(range(n_components))),)


class ScanCoder:
    """Counts and writes the scans of the levels in ``coefs.out`` for one file header."""

    def __init__(self, coefs: Coefficients, header: Header) -> None:
        self.coefs = coefs
        self.header = header
        self.script = script(len(header.components), header.progressive)

    def _args(self, scan: Scan) -> tuple[Any, ...]:
        """``encode_scan``'s and ``count_scan``'s leading arguments for one scan."""
        hd, c = self.header, self.coefs
        one = len(scan.components) == 1
        return (
            [c.out[k] for k in scan.components],
            [(1, 1) if one else (hd.components[k].h, hd.components[k].v) for k in scan.components],
            [c.tables[k] for k in scan.components],
            hd.restart_interval,
        )

    def _band(self, scan: Scan) -> tuple[int, int, tuple[int, int] | None]:
        one = len(scan.components) == 1
        return scan.ss, scan.se, self.coefs.blocks[scan.components[0]] if one else None

    def mcu_grid(self, scan: Scan) -> tuple[int, int]:
        """MCU rows and columns of a scan: blocks of its component alone, or the
        interleaved MCU grid."""
        if len(scan.components) == 1:
            return self.coefs.blocks[scan.components[0]]
        c0 = self.header.components[0]
        rows, cols = self.coefs.out[0].shape[:2]
        return rows // c0.v, cols // c0.h

    def count(self) -> list[np.ndarray]:
        """Symbol counts of every scan; each scan's MCU rows are counted in parts side by
        side (the parts' counts add up exactly)."""
        parts = []
        n = self.coefs.parts
        for k, scan in enumerate(self.script):
            rows = self.mcu_grid(scan)[0]
            cuts = sorted({rows * i // n for i in range(n)} | {rows})
            parts += [(k, r0, r1) for r0, r1 in zip(cuts[:-1], cuts[1:])]

        def count(k: int, r0: int, r1: int) -> np.ndarray:
            scan = self.script[k]
            return count_scan(*self._args(scan), *self._band(scan), r0, r1)

        counted = _pool.run_all(count, *zip(*parts))
        return [sum(c for (k, _, _), c in zip(parts, counted) if k == i) for i in range(len(self.script))]

    def code(self, counts: list[np.ndarray], emit: bool) -> list[tuple[Any, HuffmanSpecs]]:
        """Every scan coded with optimal tables from ``counts``: its bytes, or with ``emit``
        false its exact size in bits before stuffing, with its Huffman tables."""
        return [
            encode_scan(*self._args(scan), emit, *self._band(scan), c) for scan, c in zip(self.script, counts)
        ]


def code_lengths(freq: np.ndarray) -> np.ndarray:
    """Huffman code length per symbol for symbol counts ``freq`` (256), as float32 bits
    for the trellis: the optimal lengths, limited to 16 as JPEG requires by moving
    depth from the longest codes; symbols that did not occur are priced one bit over the
    longest code (at most 16), so a pass may still choose them when they pay."""
    freq = np.asarray(freq, dtype=np.float64)
    used = np.flatnonzero(freq > 0)
    out = np.full(256, 16.0, dtype=np.float32)
    if len(used) == 0:
        return out
    if len(used) == 1:
        out[used] = 1.0
        out[freq <= 0] = 2.0
        return out
    depth = np.zeros(256, dtype=np.int64)
    heap = [(float(freq[s]), i, [int(s)]) for i, s in enumerate(used)]
    heapq.heapify(heap)
    tie = len(heap)
    while len(heap) > 1:
        fa, _, a = heapq.heappop(heap)
        fb, _, b = heapq.heappop(heap)
        depth[a + b] += 1
        heapq.heappush(heap, (fa + fb, tie, a + b))
        tie += 1
    lengths = np.minimum(depth[used], 16)
    out[used] = lengths
    out[freq <= 0] = min(int(lengths.max()) + 1, 16)
    return out
