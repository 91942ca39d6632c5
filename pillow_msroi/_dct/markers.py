"""Markers: what Pillow's plain JPEG says about the file to write (frame, restart interval,
metadata segments, Huffman code lengths), and the assembly of the file around the scans."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ._transform_cy import ZIGZAG

if TYPE_CHECKING:  # pragma: no cover
    from .scans import Scan

_SOF_BASELINE, _SOF_EXTENDED, _SOF_PROGRESSIVE = 0xC0, 0xC1, 0xC2


@dataclass(frozen=True)
class Component:
    ident: int
    h: int
    v: int
    table: int  # quantization (and Huffman) table id


@dataclass(frozen=True)
class Header:
    """What a plain Pillow JPEG says about the file to write."""

    width: int
    height: int
    components: tuple[Component, ...]
    restart_interval: int
    progressive: bool
    segments: bytes  # APPn and COM segments, verbatim and in order
    adobe_transform: int | None  # APP14 colour transform flag, None without APP14
    #: Code length of every AC symbol in each AC Huffman table that comes before the first
    #: scan (16 where a symbol is absent).  A progressive file's AC tables come with their
    #: scans, so for it this is empty and every AC symbol is priced at a flat 8 bits.
    ac_bits: dict[int, np.ndarray]


def parse_header(data: bytes) -> Header:
    """The frame, restart interval and metadata segments of a JPEG, up to its first scan."""
    if data[:2] != b"\xff\xd8":
        msg = "not a JPEG (no SOI marker)"
        raise ValueError(msg)
    pos, segments = 2, []
    frame: tuple[int, int, tuple[Component, ...], bool] | None = None
    restart, adobe = 0, None
    ac_bits: dict[int, np.ndarray] = {}
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            msg = f"malformed JPEG header at byte {pos}"
            raise ValueError(msg)
        code = data[pos + 1]
        if code == 0xFF:  # fill byte
            pos += 1
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        body = data[pos + 4 : pos + 2 + length]
        if code == 0xDA:
            break
        if 0xE0 <= code <= 0xEF or code == 0xFE:
            segments.append(data[pos : pos + 2 + length])
            if code == 0xEE and body[:5] == b"Adobe" and len(body) >= 12:
                adobe = body[11]
        elif code in (_SOF_BASELINE, _SOF_EXTENDED, _SOF_PROGRESSIVE):
            frame = _frame(body, code == _SOF_PROGRESSIVE)
        elif code == 0xDD:
            restart = int.from_bytes(body[:2], "big")
        elif code == 0xC4:
            ac_bits.update(_huffman_lengths(body))
        pos += 2 + length
    if frame is None:
        msg = "JPEG has no frame header"
        raise ValueError(msg)
    width, height, comps, progressive = frame
    return Header(width, height, comps, restart, progressive, b"".join(segments), adobe, ac_bits)


def _frame(body: bytes, progressive: bool) -> tuple[int, int, tuple[Component, ...], bool]:
    height, width, n = struct.unpack(">HHB", body[1:6])
    comps = tuple(
        Component(body[6 + 3 * i], body[7 + 3 * i] >> 4, body[7 + 3 * i] & 15, body[8 + 3 * i])
        for i in range(n)
    )
    return width, height, comps, progressive


_CODE_LENGTHS = np.arange(1, 17, dtype=np.float32)


def _huffman_lengths(body: bytes) -> dict[int, np.ndarray]:
    """Code length per symbol of the AC tables in one DHT segment."""
    out, pos = {}, 0
    while pos + 17 <= len(body):
        tc_th, counts = body[pos], np.frombuffer(body, np.uint8, 16, pos + 1)
        n = int(counts.sum())
        if tc_th >> 4 == 1:
            bits = np.full(256, 16.0, dtype=np.float32)
            bits[np.frombuffer(body, np.uint8, n, pos + 17)] = np.repeat(_CODE_LENGTHS, counts)
            out[tc_th & 15] = bits
        pos += 17 + n
    return out


def _segment(code: int, body: bytes) -> bytes:
    return bytes((0xFF, code)) + struct.pack(">H", len(body) + 2) + body


#: A scan's entropy-coded data and its Huffman tables {(class, id): (counts, values)}.
HuffmanSpecs = dict[tuple[int, int], tuple[bytes, bytes]]


def assemble(
    hd: Header,
    qtables: dict[int, np.ndarray],
    table_ids: list[int],
    scans: list[tuple[Scan, tuple[bytes, HuffmanSpecs]]],
) -> bytes:
    """The file: the caller's APPn/COM segments, one DQT, the frame, then per scan its
    Huffman tables, header and data."""
    dqt = b"".join(
        bytes([t]) + qtables[t][ZIGZAG].astype(np.uint8).tobytes() for t in sorted(qtables)
    )
    sof = struct.pack(">BHHB", 8, hd.height, hd.width, len(hd.components)) + b"".join(
        bytes((c.ident, (c.h << 4) | c.v, t)) for c, t in zip(hd.components, table_ids)
    )
    code = _SOF_PROGRESSIVE if hd.progressive else _SOF_BASELINE
    parts = [b"\xff\xd8", hd.segments, _segment(0xDB, dqt), _segment(code, sof)]
    if hd.restart_interval:
        parts.append(_segment(0xDD, struct.pack(">H", hd.restart_interval)))
    for scan, (data, huffman) in scans:
        dht = b"".join(
            bytes([(cls << 4) | t]) + counts + values for (cls, t), (counts, values) in sorted(huffman.items())
        )
        sos = bytes([len(scan.components)])
        sos += b"".join(
            bytes((hd.components[k].ident, (table_ids[k] << 4) | table_ids[k])) for k in scan.components
        )
        parts += [_segment(0xC4, dht), _segment(0xDA, sos + bytes((scan.ss, scan.se, 0))), data]
    parts.append(b"\xff\xd9")
    return b"".join(parts)
