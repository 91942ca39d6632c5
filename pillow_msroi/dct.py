"""Semantic quantization in the DCT domain (``method="dct"``).

The paper's pixel blend is re-encoded at one quality in the end, which gives the
favoured region back to plain JPEG's level.  Here the levels are chosen directly.  The
image is transformed once (libjpeg's colour conversion and downsampling, then a float
DCT); each pass quantizes all blocks with one table per component from the perceptual
family of :mod:`.perceptual` (a libjpeg-style quality scales it) by a trellis whose price
of a bit is set per block by local masking (texture hides error, smooth areas show it)
times the map's bounded factor.  The file stays one standard JPEG (baseline, or
progressive on request) with optimal Huffman tables, written by the entropy coder in
csrc/dct.pxi.

Rate control has two knobs, the table quality and the strength (a multiplier of every
block's price of a bit).  A pass only quantizes and counts symbols, which gives the file
size exactly but for byte stuffing, so passes are cheap: a few per image find the
highest quality that fits at :data:`STRENGTH`, then the next quality up with a slightly
higher price is tried to spend the rest, and only the result is written.

The file's structure is taken from Pillow's plain encode of the same image with the
caller's options, which is needed anyway for the budget: its frame header gives the
sampling factors (``subsampling``, ``"keep"`` and libjpeg's default resolved as Pillow
resolves them), component ids and whether it is progressive, its DRI the restart
interval, and its APPn/COM segments (JFIF with dpi, EXIF, ICC profile, XMP, comment,
Adobe) are copied verbatim.  The transform only needs the frame's components, which a
Pillow encode of a 16x16 corner with the same options gives at once, so the image is
transformed while the plain reference is still being encoded.
"""

from __future__ import annotations

import functools
import math
import struct
import threading
from collections.abc import Callable
from concurrent.futures import wait
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from . import _native, budget, perceptual, pool, writer
from .options import dct_unsupported

#: Multiplier of the perceptual quantizer's price of a bit (perceptual.PRICE) at which
#: rate control first searches the table quality.
STRENGTH = 1.0
#: Whether a progressive file's first pass learns the image's Huffman code lengths for
#: the trellis (its header has no AC tables; learnt lengths gain ~0.5 SSIMULACRA2 there,
#: nothing over Annex K's tables in a baseline file, measured on 6 Kodak images).
LEARN_BITS = True
#: First guess of the table's scale: ``ln scale = G0 + G1 ln scale(quality) + G2 ln bpp``
#: (bpp of the plain JPEG), fitted for the perceptual tables on the odd Kodak images at
#: qualities 20..90 (3.9 passes on average on the even ones at Q30/50/75, at most 6).
GUESS = (0.133, 0.815, 0.024)
#: d ln(size) / d ln(libjpeg table scale), measured on Kodak.
SCALE_EXPONENT = -1.0
#: d ln(size) / d ln(strength), measured on Kodak (-0.12 .. -0.28 at table qualities 60..88).
ELASTICITY = -0.18
#: A file this close under the budget (as a fraction) ends the search.
TOLERANCE = 0.01
#: Quality probes steered by the size law before the search falls back to bisection.
MODEL_PASSES = 5
#: Passes allowed to fit the next quality up by strengthening the map.
FILL_PASSES = 2
#: Written passes allowed to bring the real file under the budget after the search.
FINAL_PASSES = 4
#: Byte stuffing (a 0x00 after each 0xFF in the scan), as a fraction of the scan: 0.3 to
#: 0.6 % on Kodak; the search prices it at the high end.
STUFFING = 0.006

#: ITU T.81 Annex K.1 luminance and chrominance tables (natural order), which libjpeg
#: scales by quality.
_LUMA = np.array(
    [
        16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
        14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
        18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
        49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
    ],
    dtype=np.int64,
)  # fmt: skip
_CHROMA = np.array(
    [17, 18, 24, 47] + [99] * 4 + [18, 21, 26, 66] + [99] * 4
    + [24, 26, 56] + [99] * 5 + [47, 66] + [99] * 38,
    dtype=np.int64,
)

_SOF_BASELINE, _SOF_EXTENDED, _SOF_PROGRESSIVE = 0xC0, 0xC1, 0xC2


def _scale(quality: int) -> int:
    """libjpeg's percentage scaling of the base tables for a quality 1..100."""
    quality = min(max(int(quality), 1), 100)
    return 5000 // quality if quality < 50 else 200 - 2 * quality


def quant_table(quality: int, chroma: bool) -> np.ndarray:
    """libjpeg's table at ``quality`` (``jpeg_set_quality`` with baseline limits), natural order."""
    base = _CHROMA if chroma else _LUMA
    return np.clip((base * _scale(quality) + 50) // 100, 1, 255).astype(np.uint16)


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
            height, width, n = struct.unpack(">HHB", body[1:6])
            comps = tuple(
                Component(body[6 + 3 * i], body[7 + 3 * i] >> 4, body[7 + 3 * i] & 15, body[8 + 3 * i])
                for i in range(n)
            )
            frame = (width, height, comps, code == _SOF_PROGRESSIVE)
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


@dataclass(frozen=True)
class DctEncoded:
    """A DCT-domain semantic JPEG and how it was made."""

    data: bytes
    #: Quality of the one quantization table; None when nothing fit and ``data`` is plain.
    quality: int | None
    #: Multiplier of every block's price of a bit (perceptual.PRICE at 1; 0: rounding).
    strength: float
    budget: int
    plain_bytes: int
    #: Quantization + entropy-coding passes the rate control needed.
    encodes: int


def _pixels(im: Image.Image, header: Header) -> tuple[np.ndarray, bool]:
    """The image as uint8 (H, W, C) and whether its channels go through RGB -> YCbCr.

    Read in place where Pillow can export its memory (``image_pixels``: RGB then comes
    as RGBX, which the transform reads the same), which saves a copy of the image on
    every save; copied otherwise.
    """
    src = im.convert("L") if im.mode == "1" else im
    arr = _native.image_pixels(src)
    if arr is None:
        arr = np.asarray(src)
        if arr.ndim == 2:
            arr = arr[:, :, None]
    # Pillow hands RGB(X) to libjpeg to convert, except with keep_rgb (an Adobe marker
    # with transform 0); YCbCr images are written as they are.
    return arr, im.mode in ("RGB", "RGBX") and header.adobe_transform != 0


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


class _Prepared:
    """The coefficients of one image, ready to be quantized again and again."""

    def __init__(self, im: Image.Image, small: np.ndarray, frame: Header) -> None:
        """``frame``: a header with the file's components and Adobe transform, of any
        size; the file's own header must be given to :meth:`use` before quantizing."""
        pixels, to_ycbcr = _pixels(im, frame)
        self.frame = frame
        self.header = frame
        # Work is split in as many parts as the shared pool has threads.
        self.parts = pool.size()
        comps = frame.components
        hmax = max(c.h for c in comps)
        vmax = max(c.v for c in comps)
        w, h = im.size
        mcu_w, mcu_h = 8 * hmax, 8 * vmax
        pad_w, pad_h = _ceil_div(w, mcu_w) * mcu_w, _ceil_div(h, mcu_h) * mcu_h
        factors = [(hmax // c.h, vmax // c.v) for c in comps]
        if any(fh * c.h != hmax or fv * c.v != vmax for (fh, fv), c in zip(factors, comps)):
            msg = f"sampling factors {[(c.h, c.v) for c in comps]} are not integer ratios"
            raise ValueError(msg)
        mcu_rows, mcu_cols = pad_h // mcu_h, pad_w // mcu_w
        shapes = [(mcu_rows * c.v, mcu_cols * c.h, 64) for c in comps]
        # The coefficients (float32) and their levels (int16) in one scratch block; the
        # levels' pages are first touched by the quantizer, after ``pixels`` is gone.
        self.scratch = _SCRATCH.take(6 * sum(math.prod(s) for s in shapes))
        self.coefs = _views(self.scratch, shapes, np.float32, 0)
        # Bands of MCU rows transformed side by side (the kernel releases the GIL); the
        # full-size colour planes are never stored.
        # Twice as many bands as threads: the plain reference may hold one thread a while.
        bands = 2 * self.parts
        cuts = sorted({mcu_rows * k // bands for k in range(bands)} | {mcu_rows})
        sampling = [(c.h, c.v) for c in comps]
        self._map(functools.partial(_native.transform, pixels, to_ycbcr, sampling, self.coefs), cuts[:-1], cuts[1:])
        del pixels  # where it is a copy (a large image), the quantized levels need its room
        # Map means over 8x8 pixel blocks, computed once; coarser blocks of subsampled
        # components are pixel-weighted means of these.
        fine = _native.block_means(small, h, w, 8, 8, pad_h // 8, pad_w // 8)
        rows_in = np.clip(h - 8 * np.arange(pad_h // 8), 0, 8)
        cols_in = np.clip(w - 8 * np.arange(pad_w // 8), 0, 8)
        counts = np.outer(rows_in, cols_in).astype(np.float64)
        # Components with the same sampling (the two chroma planes) share one array.
        means = {f: _coarsen(fine, counts, f[1], f[0]) for f in set(factors)}
        field = dict(zip(set(factors), perceptual.masking(self.coefs[0], [(f[1], f[0]) for f in set(factors)])))
        self.weights = [perceptual.prices(field[f], means[f]) for f in factors]
        self.tables = [min(c.table, 1) for c in comps]
        self.out = _views(self.scratch, shapes, np.int16, 4 * sum(math.prod(s) for s in shapes))
        self.bits: dict[int, np.ndarray] = {}  # AC code lengths per table id (learn_bits)
        self.state: tuple[int, float] | None = None  # (quality, strength) that ``out`` holds
        self.counts: list[np.ndarray] | None = None  # per scan, of the levels in ``out``
        self.qtables: dict[int, np.ndarray] = {}  # quality's table per table id, for the file
        n = len(comps)
        self.script = progressive_script(n) if frame.progressive else (Scan(tuple(range(n))),)
        # Blocks that cover the image, per component: what a one-component scan codes.
        self.blocks = [
            (_ceil_div(_ceil_div(h * c.v, vmax), 8), _ceil_div(_ceil_div(w * c.h, hmax), 8)) for c in comps
        ]

    def fits(self, header: Header) -> bool:
        """Whether the coefficients were made for the frame of ``header``."""
        f = self.frame
        return (header.components, header.adobe_transform, header.progressive) == (
            f.components, f.adobe_transform, f.progressive
        )

    def use(self, header: Header) -> None:
        """The header of the plain file: size, restart interval, Huffman code lengths
        and metadata segments of the file to write."""
        if not self.fits(header):
            msg = "internal error: the plain JPEG's frame differs from the one the image was transformed for"
            raise RuntimeError(msg)
        self.header = header
        self.state = None
        self.counts = None

    def _map(self, fn: Callable[..., Any], *iterables: Any) -> list[Any]:
        # The kernels release the GIL, so the pool's threads share the work.
        return pool.run_all(fn, *iterables)

    def quantize(self, quality: int, strength: float) -> None:
        """Levels of every block for one table quality and map strength (kept for ``write``)."""
        if (quality, strength) == self.state:
            return
        self.state = (quality, strength)
        self.counts = None
        self.qtables = {t: perceptual.quant_table(quality, chroma=t == 1) for t in set(self.tables)}
        bits = [self.bits.get(t, self.header.ac_bits.get(t, _FLAT_BITS)) for t in self.tables]

        def part(k: int) -> None:
            # Blocks are quantized independently: each worker takes a share of block rows.
            for coef, price, out, t, b in zip(self.coefs, self.weights, self.out, self.tables, bits):
                rows = slice(len(coef) * k // self.parts, len(coef) * (k + 1) // self.parts)
                if rows.start < rows.stop:
                    perceptual.quantize(coef[rows], self.qtables[t], price[rows], strength, b, out[rows], t == 1)

        self._map(part, range(self.parts))

    def learn_bits(self, quality: int, strength: float) -> None:
        """Price the trellis's symbols by this image's own Huffman code lengths: those of
        the levels at ``quality`` and ``strength`` (one pass), for all later passes."""
        self.quantize(quality, strength)
        counts = self._count()
        for t in set(self.tables):
            freq = sum(
                c[512 + 256 * t : 512 + 256 * (t + 1)]
                for scan, c in zip(self.script, counts)
                if scan.se > 0 and any(self.tables[k] == t for k in scan.components)
            )
            self.bits[t] = perceptual.code_lengths(freq)
        self.state = None
        self.counts = None

    def _scan_args(self, scan: Scan) -> tuple[Any, ...]:
        """``encode_scan``'s and ``count_scan``'s leading arguments for one scan."""
        hd = self.header
        one = len(scan.components) == 1
        return (
            [self.out[k] for k in scan.components],
            [(1, 1) if one else (hd.components[k].h, hd.components[k].v) for k in scan.components],
            [self.tables[k] for k in scan.components],
            hd.restart_interval,
        )

    def _band(self, scan: Scan) -> tuple[int, int, tuple[int, int] | None]:
        one = len(scan.components) == 1
        return scan.ss, scan.se, self.blocks[scan.components[0]] if one else None

    def _mcu_grid(self, scan: Scan) -> tuple[int, int]:
        """MCU rows and columns of a scan: blocks of its component alone, or the
        interleaved MCU grid."""
        if len(scan.components) == 1:
            return self.blocks[scan.components[0]]
        c0 = self.header.components[0]
        rows, cols = self.out[0].shape[:2]
        return rows // c0.v, cols // c0.h

    def _count(self) -> list[np.ndarray]:
        """Symbol counts of every scan of the current levels; each scan's MCU rows are
        counted in parts side by side (the parts' counts add up exactly)."""
        if self.counts is None:
            parts = []
            for k, scan in enumerate(self.script):
                rows = self._mcu_grid(scan)[0]
                cuts = sorted({rows * i // self.parts for i in range(self.parts)} | {rows})
                parts += [(k, r0, r1) for r0, r1 in zip(cuts[:-1], cuts[1:])]

            def count(k: int, r0: int, r1: int) -> np.ndarray:
                scan = self.script[k]
                return _native.count_scan(*self._scan_args(scan), *self._band(scan), r0, r1)

            counted = self._map(count, *zip(*parts))
            self.counts = [
                sum(c for (k, _, _), c in zip(parts, counted) if k == i) for i in range(len(self.script))
            ]
        return self.counts

    def _scans(self, emit: bool) -> list[tuple[Any, dict[tuple[int, int], tuple[bytes, bytes]]]]:
        return [
            _native.encode_scan(*self._scan_args(scan), emit, *self._band(scan), counts)
            for scan, counts in zip(self.script, self._count())
        ]

    def _units(self, scan: Scan) -> int:
        rows, cols = self._mcu_grid(scan)
        return rows * cols

    def estimate(self, quality: int, strength: float) -> int:
        """File size for one table quality and strength, from counted symbols: exact but for
        byte stuffing (priced at ``STUFFING``) and the padding before restart markers."""
        self.quantize(quality, strength)
        counted = self._scans(emit=False)
        interval = self.header.restart_interval
        size = len(self._assemble([(b"", huffman) for _, huffman in counted]))
        for scan, (bits, _) in zip(self.script, counted):
            restarts = (self._units(scan) - 1) // interval if interval else 0
            # A marker is 2 bytes after 0..7 padding bits (a little more with stuffing).
            size += math.ceil(bits / 8 * (1.0 + STUFFING) + 2.6 * restarts)
        return size

    def write(self) -> bytes:
        """The JPEG file of the levels of the last ``quantize``."""
        return self._assemble(self._scans(emit=True))

    def _assemble(self, scans: list[tuple[Any, dict[tuple[int, int], tuple[bytes, bytes]]]]) -> bytes:
        return _assemble(self.header, self.qtables, self.tables, list(zip(self.script, scans)))


_FLAT_BITS = np.full(256, 8.0, dtype=np.float32)


class _Scratch:
    """One block of memory kept from one encode to the next (at most ``LIMIT`` bytes).

    Fresh multi-megabyte arrays are fresh pages for the kernel to fault in and zero, and
    depending on the heap's history glibc's malloc hands them back to the system after
    each encode: up to a fault per 4 KiB on every encode (``python
    bench/test_dct_quality.py --faults`` counts them).  Encodes in
    several threads at once each take the block if it is free and big enough, else
    allocate their own; the last one done keeps its block.
    """

    LIMIT = 32 << 20

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._block: np.ndarray | None = None

    def take(self, nbytes: int) -> np.ndarray:
        with self._lock:
            block = self._block
            # Not one far larger than needed either: it would stay out of the system's reach.
            if block is not None and nbytes <= block.nbytes <= 2 * nbytes:
                self._block = None
                return block[:nbytes]
        return np.empty(nbytes, dtype=np.uint8)

    def give(self, block: np.ndarray) -> None:
        base = block if block.base is None else block.base
        if base.nbytes <= self.LIMIT:
            with self._lock:
                self._block = base


_SCRATCH = _Scratch()


def _views(block: np.ndarray, shapes: list[tuple[int, ...]], dtype: type, offset: int) -> list[np.ndarray]:
    """Arrays of ``shapes`` laid end to end in ``block`` from byte ``offset``."""
    out, size = [], np.dtype(dtype).itemsize
    for shape in shapes:
        n = math.prod(shape) * size
        out.append(block[offset : offset + n].view(dtype).reshape(shape))
        offset += n
    return out


def _coarsen(means: np.ndarray, counts: np.ndarray, fv: int, fh: int) -> np.ndarray:
    """Means over blocks of ``fv`` x ``fh`` fine blocks, weighted by pixels inside the image."""
    if fv == fh == 1:
        return means
    rows, cols = means.shape[0] // fv, means.shape[1] // fh
    total = (np.maximum(means, 0) * counts).reshape(rows, fv, cols, fh).sum(axis=(1, 3))
    n = counts.reshape(rows, fv, cols, fh).sum(axis=(1, 3))
    return np.where(n > 0, total / np.where(n > 0, n, 1.0), -1.0).astype(np.float32)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _segment(code: int, body: bytes) -> bytes:
    return bytes((0xFF, code)) + struct.pack(">H", len(body) + 2) + body


def _assemble(
    hd: Header,
    qtables: dict[int, np.ndarray],
    table_ids: list[int],
    scans: list[tuple[Scan, tuple[bytes, dict[tuple[int, int], tuple[bytes, bytes]]]]],
) -> bytes:
    """The file: the caller's APPn/COM segments, one DQT, the frame, then per scan its
    Huffman tables, header and data."""
    dqt = b"".join(
        bytes([t]) + qtables[t][_native.ZIGZAG].astype(np.uint8).tobytes() for t in sorted(qtables)
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


def encode_dct(
    im: Image.Image,
    small: np.ndarray,
    quality: int,
    slack: float,
    jpeg: dict[str, Any],
    strength: float = STRENGTH,
) -> DctEncoded:
    """Semantic JPEG of ``im`` made in the DCT domain, never larger than Pillow's plain
    JPEG at ``quality`` with the options ``jpeg`` times ``1 + slack``.

    ``im`` is a private view (:func:`writer.view`), ``small`` the normalized float32 map
    (any size up to the image's), ``jpeg`` the caller's Pillow options with subsampling
    resolved.  The file is baseline unless the caller asks for ``progressive``.
    """
    unsupported = dct_unsupported(im.mode, jpeg)
    if unsupported:
        raise ValueError(unsupported)
    options = {**jpeg, "quality": quality}
    plain_job = pool.shared().submit(writer.write, im, options)
    try:
        frame = parse_header(writer.write(writer.view(im.crop((0, 0, min(im.width, 16), min(im.height, 16)))), options))
        prepared = _Prepared(im, np.ascontiguousarray(small, dtype=np.float32), frame)
    finally:
        wait([plain_job])  # not left running past an error either
    plain = plain_job.result()
    limit = math.floor(len(plain) * (1.0 + slack))
    header = parse_header(plain)
    if not prepared.fits(header):  # the corner should always agree; never trust it blindly
        prepared = _Prepared(im, np.ascontiguousarray(small, dtype=np.float32), header)
    prepared.use(header)
    try:
        return _rate_control(prepared, plain, limit, quality, strength)
    finally:
        _SCRATCH.give(prepared.scratch)


def _rate_control(prepared: _Prepared, plain: bytes, limit: int, quality: int, strength: float) -> DctEncoded:
    h = prepared.header
    guess = _first_guess(quality, 8 * len(plain) / (h.width * h.height))
    learn = LEARN_BITS and not h.ac_bits  # progressive: no AC tables before the first scan
    if learn:
        prepared.learn_bits(guess, strength)
    fit = _fit(prepared.estimate, limit, guess, strength)
    passes = fit.passes + learn
    if fit.quality == 100 and strength > 0:
        # At the finest table, plain rounding is what plain quality 100 does: keep every
        # level when it fits, rather than trading any for bytes the budget does not need.
        passes += 1
        if prepared.estimate(100, 0.0) <= limit:
            fit = _Fit(100, 0.0, passes)
    if fit.quality is None:
        return DctEncoded(plain, None, strength, limit, len(plain), passes)
    # The search priced byte stuffing; the real file may still be a little larger, which
    # a slightly stronger map takes back.
    q, s = fit.quality, fit.strength
    for _ in range(FINAL_PASSES):
        prepared.quantize(q, s)
        data = prepared.write()
        passes += 1
        if len(data) <= limit:
            return DctEncoded(data, q, s, limit, len(plain), passes)
        s = max(s, 0.1) * (len(data) / limit * (1.0 + TOLERANCE / 4)) ** (1.0 / -ELASTICITY)
    return DctEncoded(plain, None, strength, limit, len(plain), passes)


def _first_guess(quality: int, bits_per_pixel: float) -> int:
    """Typical final table quality at the default strength, from the caller's quality and
    how many bits per pixel plain JPEG spends there (Kodak fit, within ~1 quality)."""
    g0, g1, g2 = GUESS
    log_scale = g0 + g1 * math.log(_law_scale(quality)) + g2 * math.log(max(bits_per_pixel, 1e-3))
    return min(100, max(quality, round(budget.quality_at(math.exp(log_scale)))))


@dataclass(frozen=True)
class _Fit:
    quality: int | None
    strength: float
    passes: int


def _law_scale(quality: int) -> int:
    """libjpeg's scale for the size law: Q100's 0 acts as 1 (all table entries are 1)."""
    return max(_scale(quality), 1)


def _fit(size_of: Callable[[int, float], int], limit: int, guess: int, strength: float) -> _Fit:
    """The largest file within ``limit`` over table quality and map strength, in few passes.

    First the highest table quality that fits at ``strength``: file size goes nearly as
    ``scale ** SCALE_EXPONENT`` (``scale``: libjpeg's table scaling of the quality), so
    each probe is steered by that law, calibrated on the nearest probes.  A quality step
    is several percent of the file; what is left of the budget then goes to the next
    quality up with a stronger map (size ~ ``strength ** ELASTICITY``, the exponent
    re-measured after a miss).  Steered probes are limited to ``MODEL_PASSES``, then the
    quality search bisects, so any image ends within ``MODEL_PASSES + 7 + FILL_PASSES``.
    """
    lo, hi = 0, 101
    sizes: dict[int, int] = {}
    passes, probe = 0, guess
    while True:
        size = size_of(probe, strength)
        passes += 1
        sizes[probe] = size
        if size <= limit:
            lo = probe
        else:
            hi = probe
        if hi - lo <= 1 or (lo == probe and size >= limit * (1.0 - TOLERANCE)):
            break
        if passes >= MODEL_PASSES:
            probe = (lo + hi) // 2
            continue
        below = max((q for q in sizes if q <= lo), default=None)
        above = min((q for q in sizes if q >= hi), default=None)
        exponent = SCALE_EXPONENT
        if below is not None and above is not None and sizes[above] > sizes[below]:
            span = math.log(_law_scale(above) / _law_scale(below))
            exponent = math.log(sizes[above] / sizes[below]) / span if span < 0 else SCALE_EXPONENT
        aim = limit * (1.0 - TOLERANCE / 2) / size
        target = math.floor(budget.quality_at(_law_scale(probe) * aim ** (1.0 / exponent)))
        if lo >= 1 and target <= lo and strength > 0:
            break  # lo + 1 should not fit: the fill below tries it with a stronger map
        probe = min(max(target, lo + 1), hi - 1)
    if lo < 1:
        return _Fit(None, strength, passes)
    best = _Fit(lo, strength, passes)
    if lo == 100 or strength <= 0 or sizes[lo] >= limit * (1.0 - TOLERANCE):
        return best
    # Size of lo + 1 at the caller's strength: measured, or predicted by the size law.
    over = sizes.get(lo + 1) or sizes[lo] * (_law_scale(lo + 1) / _law_scale(lo)) ** SCALE_EXPONENT
    elasticity, s_prev, size_prev = ELASTICITY, strength, over
    for _ in range(FILL_PASSES):
        s_next = s_prev * (limit * (1.0 - TOLERANCE / 2) / size_prev) ** (1.0 / elasticity)
        size = size_of(lo + 1, s_next)
        passes += 1
        if size <= limit:
            return _Fit(lo + 1, s_next, passes)
        if size < size_prev:
            elasticity = math.log(size / size_prev) / math.log(s_next / s_prev)
        s_prev, size_prev = s_next, size
    return _Fit(best.quality, best.strength, passes)
