"""Many images at once: finding the inputs, naming the outputs, writing each file safely,
and one manifest row per file.

The ``msroi compress`` command (local worker processes) and :mod:`pillow_msroi.dask` (a
cluster) are both thin layers over this module, so they find the same files, name the
outputs the same way, skip and refuse the same things and report the same rows.

Paths are reached through a small filesystem interface: the local one here, or any
fsspec filesystem (``memory://``, ``s3://``, ...) in :mod:`pillow_msroi.dask`.
"""

from __future__ import annotations

import contextlib
import csv
import glob
import io
import json
import multiprocessing
import os
import posixpath
import secrets
import signal
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import IO, Any, Protocol

import numpy as np
from PIL import Image, UnidentifiedImageError

from ._api import encode_details
from ._maps import MAP_MODES, as_map_array
from ._modes import is_wide, wide_to_l
from ._roi import MODEL_ENV
from ._options import (
    DEFAULT_METHOD,
    DEFAULT_QUALITY,
    DEFAULT_SLACK,
    check_method,
    check_quality,
    check_rule,
    check_slack,
)

#: Names a JPEG file may have; anything else is refused as an output name.
JPEG_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".jfif")
#: Manifest formats by file suffix.
MANIFEST_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
SUBSAMPLINGS = ("4:4:4", "4:2:2", "4:2:0")


class BatchError(ValueError):
    """The inputs or outputs of a batch as a whole are wrong (nothing was written)."""


# ---------------------------------------------------------------------------- options


@dataclass(frozen=True, eq=False)
class SaveOptions:
    """The encoding options of every file of a batch, validated once, up front."""

    quality: int = DEFAULT_QUALITY
    method: str = DEFAULT_METHOD
    rule: int | None = None
    slack: float = DEFAULT_SLACK
    #: One map for every image (2-D array or mode L/F image); None: the network per image.
    map: Any = None
    subsampling: str | None = None
    optimize: bool = False
    progressive: bool = False
    #: Largest input in pixels; None: Pillow's decompression-bomb limit.
    max_pixels: int | None = None

    def __post_init__(self) -> None:
        check_quality(self.quality)
        check_rule(self.rule, "rule")
        check_slack(self.slack, "slack")
        check_method(self.method, "method")
        if self.subsampling is not None and self.subsampling not in SUBSAMPLINGS:
            msg = f"subsampling must be one of {', '.join(SUBSAMPLINGS)} or None, got {self.subsampling!r}"
            raise ValueError(msg)
        if self.max_pixels is not None and (isinstance(self.max_pixels, bool) or not isinstance(self.max_pixels, int) or self.max_pixels < 1):
            msg = f"max_pixels must be a positive integer or None, got {self.max_pixels!r}"
            raise ValueError(msg)
        if self.map is not None:
            # Checked (and made a plain array) here, so a bad map fails once, not per file.
            object.__setattr__(self, "map", as_map_array(self.map, "map"))

    def jpeg_options(self, info: dict[str, Any]) -> dict[str, Any]:
        """Pillow's JPEG options for one input: its EXIF, ICC profile and dpi are kept."""
        jpeg = {k: info[k] for k in ("exif", "icc_profile", "dpi") if info.get(k)}
        if self.subsampling:
            jpeg["subsampling"] = self.subsampling
        if self.optimize:
            jpeg["optimize"] = True
        if self.progressive:
            jpeg["progressive"] = True
        return jpeg


def read_map(path: str | os.PathLike[str]) -> np.ndarray:
    """A map image file as a 2-D array (any one-channel mode; colour images as grey)."""
    try:
        with Image.open(path) as m:
            return as_map_array(m if m.mode in MAP_MODES else m.convert("L"), "map")
    except OSError as exc:
        msg = f"map {os.fspath(path)}: cannot read as an image ({exc})"
        raise OSError(msg) from exc


def check_output_name(name: str) -> str:
    """``name`` if it is a JPEG file name; else a ValueError saying which names are."""
    suffix = posixpath.splitext(name.replace(os.sep, "/"))[1].lower()
    if suffix not in JPEG_SUFFIXES:
        msg = f"{name}: the output is a JPEG file; give it a JPEG name ({', '.join(JPEG_SUFFIXES)})"
        raise ValueError(msg)
    return name


def manifest_format(name: str) -> str:
    """"csv" or "jsonl" from a manifest's file name."""
    fmt = MANIFEST_FORMATS.get(posixpath.splitext(name)[1].lower())
    if fmt is None:
        msg = f"manifest {name}: name it .csv or .jsonl (JSON lines)"
        raise ValueError(msg)
    return fmt


# ----------------------------------------------------------------------- filesystems


class FileSystem(Protocol):
    """The part of an fsspec filesystem a batch uses (the local one below mimics it)."""

    def isdir(self, path: str) -> bool: ...
    def isfile(self, path: str) -> bool: ...
    def exists(self, path: str) -> bool: ...
    def glob(self, pattern: str) -> list[str]: ...
    def find(self, path: str) -> list[str]: ...
    def ls(self, path: str, detail: bool = ...) -> list[str]: ...


class LocalFileSystem:
    """Local paths as given (relative stays relative), with fsspec's method names."""

    def isdir(self, path: str) -> bool:
        return os.path.isdir(path)

    def isfile(self, path: str) -> bool:
        return os.path.isfile(path)

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def glob(self, pattern: str) -> list[str]:
        return glob.glob(pattern, recursive=True)

    def find(self, path: str) -> list[str]:
        found = []
        # Linked folders are not followed (a link to a parent would never end).
        for root, dirs, files in os.walk(path):
            dirs.sort()
            found.extend(os.path.join(root, f) for f in files)
        return found

    def ls(self, path: str, detail: bool = False) -> list[str]:
        return [os.path.join(path, name) for name in os.listdir(path)]


LOCAL = LocalFileSystem()
#: ``resolve(text) -> (filesystem, path, url_of)``: where an input or output lives.
Resolver = Callable[[str], tuple[FileSystem, str, Callable[[str], str]]]


def resolve_local(text: str) -> tuple[Any, str, Callable[[str], str]]:
    return LOCAL, os.fspath(text), lambda p: p


def _image_suffixes() -> frozenset[str]:
    Image.init()
    return frozenset(ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN)


def _wanted(path: str, suffixes: frozenset[str]) -> bool:
    # Dot files are skipped: hidden files, and our own temporary ``.name.xxxx.tmp`` files.
    name = posixpath.basename(path.replace(os.sep, "/"))
    return not name.startswith(".") and posixpath.splitext(name)[1].lower() in suffixes


def _glob_base(pattern: str) -> str:
    """The folder part of a glob pattern before its first wildcard."""
    parts = pattern.replace(os.sep, "/").split("/")
    fixed: list[str] = []
    for part in parts[:-1]:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return "/".join(fixed) if fixed else ("/" if pattern.startswith("/") else "")


def _relative(path: str, base: str) -> str:
    path, base = path.replace(os.sep, "/"), base.replace(os.sep, "/").rstrip("/")
    if not base:
        return path.lstrip("/")
    return posixpath.relpath(path, base)


@dataclass(frozen=True)
class Source:
    """One input: where to read it and its path relative to what the user named (the
    part ``--out-dir`` mirrors)."""

    url: str
    relative: str


def discover(
    inputs: Sequence[str], *, recursive: bool = False, resolve: Resolver = resolve_local, exclude: str | None = None
) -> list[Source]:
    """Files named by ``inputs``: files as given, folders' images (their subfolders too
    with ``recursive``), glob patterns' matches (``**`` matches subfolders).  Inside
    folders and patterns only files with an image extension Pillow reads are taken, never
    dot files, and nothing under ``exclude`` (the output folder, so a second run does not
    take the first run's outputs as inputs).  A file named twice is taken once."""
    suffixes = _image_suffixes()
    sources: list[Source] = []
    seen: set[str] = set()

    def add(fs: Any, path: str, base: str, url_of: Callable[[str], str]) -> None:
        url = url_of(path)
        if exclude is not None and _under(url, exclude):
            return
        key = os.path.realpath(url) if fs is LOCAL else url
        if key not in seen:
            seen.add(key)
            sources.append(Source(url, _relative(path, base)))

    for text in inputs:
        fs, path, url_of = resolve(text)
        if fs.isdir(path):
            files = fs.find(path) if recursive else [p for p in fs.ls(path, detail=False) if fs.isfile(p)]
            for f in sorted(p for p in files if _wanted(p, suffixes)):
                add(fs, f, path, url_of)
        elif fs.isfile(path):
            add(fs, path, posixpath.dirname(path.replace(os.sep, "/")), url_of)
        elif glob.has_magic(path):
            matches = sorted(fs.glob(path))
            files = [m for m in matches if fs.isfile(m) and _wanted(m, suffixes)]
            if not files:
                msg = f"{text}: the pattern matches no image file"
                raise BatchError(msg)
            base = _glob_base(path)
            for f in files:
                add(fs, f, base, url_of)
        else:
            msg = f"{text}: no such file or folder"
            raise BatchError(msg)
    if not sources:
        msg = "no image files found in " + ", ".join(inputs) + (" (pass -r / recursive=True for subfolders)" if not recursive else "")
        raise BatchError(msg)
    return sources


def _under(url: str, folder: str) -> bool:
    if "://" in url or "://" in folder:
        return url.startswith(folder.rstrip("/") + "/")
    return os.path.realpath(url).startswith(os.path.realpath(folder).rstrip(os.sep) + os.sep)


# -------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class Job:
    """One file to write: read ``source``, write ``output`` (paths or URLs)."""

    source: str
    output: str


def plan(
    sources: Sequence[Source],
    *,
    output: str | None = None,
    out_dir: str | None = None,
    force: bool = False,
    join: Callable[[str, str], str] = os.path.join,
) -> list[Job]:
    """Output names: ``output`` for a single input, or ``out_dir`` plus each source's
    relative path with a ``.jpg`` suffix (the input tree mirrored).  Two inputs that would
    share an output are named in the error, and an input is never an output unless
    ``force``."""
    if (output is None) == (out_dir is None):
        msg = "give exactly one of output (one input) and out_dir"
        raise BatchError(msg)
    if output is not None:
        if len(sources) != 1:
            msg = f"-o/--output takes one input, got {len(sources)} files; use --out-dir for several"
            raise BatchError(msg)
        jobs = [Job(sources[0].url, check_output_name(output))]
    else:
        assert out_dir is not None
        jobs = [Job(s.url, join(out_dir, posixpath.splitext(s.relative)[0] + ".jpg")) for s in sources]
        by_output: dict[str, list[str]] = {}
        for job in jobs:
            by_output.setdefault(_key(job.output), []).append(job.source)
        clashes = [(out, srcs) for out, srcs in by_output.items() if len(srcs) > 1]
        if clashes:
            lines = [f"{' and '.join(srcs)} would all be written to {out}" for out, srcs in clashes[:5]]
            more = f" (and {len(clashes) - 5} more)" if len(clashes) > 5 else ""
            msg = "; ".join(lines) + more + "; rename them or compress them in separate runs"
            raise BatchError(msg)
    if not force:
        inputs = {_key(j.source) for j in jobs}
        for job in jobs:
            if _key(job.output) in inputs:
                msg = f"{job.output} is an input; refusing to overwrite it (pass --force / force=True)"
                raise BatchError(msg)
    return jobs


def _key(path: str) -> str:
    # Local paths compare by the file they reach (links resolved); URLs as written.
    return path if "://" in path else os.path.realpath(path)


# -------------------------------------------------------------------------- one file


@dataclass(frozen=True)
class Row:
    """One manifest row: what happened to one input (the CLI and the Dask call alike)."""

    input: str
    output: str
    #: "written", "skipped" (the output existed; ``force`` overwrites) or "failed".
    status: str
    input_bytes: int | None = None
    #: Size of the output (for "skipped": of the existing file).
    bytes: int | None = None
    #: Size of Pillow's plain JPEG of the same image at ``quality`` (the budget).
    plain_bytes: int | None = None
    #: Quality the file was asked for (the plain JPEG's).
    quality: int | None = None
    #: Quality of the final encode; None when nothing fit and the plain JPEG was written.
    final_quality: int | None = None
    method: str | None = None
    seconds: float = 0.0
    #: Why it failed (None unless ``status == "failed"``).
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def line(self) -> str:
        """One human-readable line."""
        if self.status == "failed":
            return f"{self.input}: {self.error}"
        if self.status == "skipped":
            return f"{self.input} -> {self.output}: exists, skipped (pass --force to overwrite)"
        assert self.bytes is not None and self.plain_bytes
        change = 100.0 * (self.bytes - self.plain_bytes) / self.plain_bytes
        final = f"q{self.final_quality}" if self.final_quality is not None else "plain (nothing smaller fit)"
        return (
            f"{self.input} -> {self.output}: {self.bytes:,} bytes, plain JPEG q{self.quality} "
            f"{self.plain_bytes:,} ({change:+.1f} %), final {final}"
        )


#: Manifest columns, in order.
MANIFEST_FIELDS = tuple(f.name for f in fields(Row))


class InputError(Exception):
    """This input cannot be encoded (unreadable, too large, options that do not apply)."""


class Storage(Protocol):
    """How one file is read and written: local paths here, fsspec in pillow_msroi.dask."""

    def open_input(self, source: str) -> IO[bytes]: ...
    def size(self, path: str) -> int: ...
    def exists(self, path: str) -> bool: ...
    def write(self, path: str, data: bytes) -> None: ...


class LocalStorage:
    def open_input(self, source: str) -> IO[bytes]:
        return open(source, "rb")

    def size(self, path: str) -> int:
        return os.stat(path).st_size

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def write(self, path: str, data: bytes) -> None:
        write_atomic(path, data)


def jpeg_ready(im: Image.Image) -> Image.Image:
    """Images JPEG cannot hold as they are (alpha, palette, 16-bit) become RGB or L."""
    if im.mode in ("1", "L", "RGB", "CMYK", "YCbCr"):
        return im
    if is_wide(im.mode):
        return wide_to_l(im)
    if "A" in im.getbands() or im.mode == "P" and "transparency" in im.info:
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("L" if im.mode == "LA" else "RGB")
    return im.convert("RGB")


def open_image(fp: str | os.PathLike[str] | IO[bytes], name: str, max_pixels: int | None) -> tuple[Image.Image, dict]:
    """Read an input fully, ready for JPEG; images above the decompression-bomb limit are
    refused.  Pillow itself only warns between its limit and twice that; a batch refuses
    all of it unless the limit is raised, and checks the size before any pixel is decoded."""
    limit = Image.MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        with Image.open(fp) as opened:
            pixels = opened.width * opened.height
            if limit is not None and pixels > limit:
                msg = (
                    f"{opened.width}x{opened.height} is {pixels:,} pixels, more than the limit of "
                    f"{limit:,} (Pillow's decompression-bomb guard); pass --max-pixels / max_pixels to allow it"
                )
                raise InputError(msg)
            opened.load()
            return jpeg_ready(opened), dict(opened.info)
    except (OSError, SyntaxError, ValueError) as exc:
        # Pillow names a file object by its repr; the caller names the file.
        reason = "not a format Pillow reads" if isinstance(exc, UnidentifiedImageError) else exc
        msg = f"cannot read as an image ({reason})"
        raise InputError(msg) from exc
    finally:
        Image.MAX_IMAGE_PIXELS = saved


class WriteError(OSError):
    """Writing an output failed (the destination, not the input, is at fault)."""


def compress_one(
    job: Job, options: SaveOptions, *, force: bool = False, storage: Storage | None = None, raise_write_errors: bool = False
) -> Row:
    """Encode one input to its output and say what happened.

    Problems of the input (unreadable, too large, options that do not apply) make a
    "failed" row; so do write errors unless ``raise_write_errors`` (a cluster retries
    those), which raises :class:`WriteError`.
    """
    storage = storage or LocalStorage()
    t0 = time.perf_counter()
    row = {"input": job.source, "output": job.output, "quality": options.quality}
    try:
        if not force and storage.exists(job.output):
            return skipped_row(job, storage.size(job.output), options.quality)
        in_bytes = storage.size(job.source)
        with storage.open_input(job.source) as fp:
            im, info = open_image(fp, job.source, options.max_pixels)
        try:
            result = encode_details(
                im, quality=options.quality, map=options.map, rule=options.rule, slack=options.slack,
                method=options.method, **options.jpeg_options(info),
            )
        except (ValueError, TypeError, OSError) as exc:
            raise InputError(str(exc)) from exc
    except (InputError, OSError) as exc:
        return Row(**row, status="failed", seconds=time.perf_counter() - t0, error=_reason(exc))
    try:
        storage.write(job.output, result.data)
    except OSError as exc:
        if raise_write_errors:
            msg = f"{job.output}: cannot write ({_reason(exc)})"
            raise WriteError(msg) from exc
        return Row(**row, status="failed", input_bytes=in_bytes, seconds=time.perf_counter() - t0,
                   error=f"cannot write {job.output} ({_reason(exc)})")
    return Row(
        **row, status="written", input_bytes=in_bytes, bytes=len(result.data), plain_bytes=result.plain_bytes,
        final_quality=result.quality, method=result.method, seconds=time.perf_counter() - t0,
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror and not isinstance(exc, WriteError):
        return exc.strerror + (f": {exc.filename}" if exc.filename else "")
    return str(exc)


def skipped_row(job: Job, size: int | None, quality: int | None = None) -> Row:
    """The row of a job whose output existed (and ``force`` was not given)."""
    return Row(input=job.source, output=job.output, status="skipped", bytes=size, quality=quality)


def failed_row(job: Job, error: BaseException | str, quality: int | None = None) -> Row:
    """The row of a job that never returned one (its task raised, its worker died)."""
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return Row(input=job.source, output=job.output, status="failed", quality=quality, error=text)


# ------------------------------------------------------------------- atomic writing


def _new_file_mode() -> int:
    """0666 less the umask, as ``open()`` would create the file.  The umask can only be
    read by setting it; /proc avoids that race between threads where it exists."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary file beside ``path`` that replaces it only if the block succeeds.

    A symbolic link is written through: the file it points to is replaced and the link
    stays.  The file gets the mode an overwritten file had, else the umask's (a plain
    temporary file would be 0600, unreadable to a web server).  Missing folders are made.
    """
    target = Path(os.path.realpath(path))
    if target.is_dir():
        msg = f"{os.fspath(path)} is a folder; give a file name"
        raise IsADirectoryError(msg)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = _new_file_mode()
    target.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            break
        except FileExistsError:
            continue
    os.close(fd)
    try:
        os.chmod(tmp, mode)  # not os.fchmod: Windows lacks it before Python 3.13
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` all or nothing (see :func:`atomic_output`)."""
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


# ------------------------------------------------------------------------ running


_worker: dict[str, Any] = {}


def _start_worker(options: SaveOptions, force: bool, model: str | None) -> None:
    # The parent handles Ctrl-C (it cancels what has not started); a file being encoded
    # finishes or is not written, as every write is atomic.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The fork server keeps the environment it started with: the model is the parent's now.
    if model is None:
        os.environ.pop(MODEL_ENV, None)
    else:
        os.environ[MODEL_ENV] = model
    _worker.update(options=options, force=force)
    warm_up(options)


def warm_up(options: SaveOptions) -> None:
    """Load the network once in this process (the session is cached per process), so the
    first file does not pay for it.  A missing model shows up in each file's row."""
    if options.map is None:
        from ._roi import encoding_map

        with contextlib.suppress(Exception):
            encoding_map(Image.new("RGB", (64, 64)))


def _work(job: Job) -> Row:
    return compress_one(job, _worker["options"], force=_worker["force"])


def _process_context() -> multiprocessing.context.BaseContext:
    """How worker processes start.  Not a plain fork: the parent may hold threads (the
    encoder's pool, a progress bar) that a fork would copy without their owners.  A fork
    server that has imported this package starts workers in a fraction of spawn's time
    (which imports numpy, Pillow and the package afresh in each); spawn where there is none."""
    method = os.environ.get("MSROI_START_METHOD") or ("forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn")
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        context.set_forkserver_preload([__name__])
    return context


def run(jobs: Sequence[Job], options: SaveOptions, *, processes: int | None = None, force: bool = False) -> Iterator[Row]:
    """Rows of ``jobs`` as they finish, encoded by ``processes`` worker processes (default:
    the CPU count), each loading the network once; one process (or one job) runs here."""
    processes = (os.cpu_count() or 1) if processes is None else processes
    if processes < 1:
        msg = f"processes must be at least 1, got {processes}"
        raise ValueError(msg)
    processes = min(processes, len(jobs))
    if processes <= 1:
        for job in jobs:
            yield compress_one(job, options, force=force)
        return
    context = _process_context()
    pool = ProcessPoolExecutor(processes, mp_context=context, initializer=_start_worker, initargs=(options, force, os.environ.get(MODEL_ENV)))
    try:
        futures = {pool.submit(_work, job): job for job in jobs}
        for future in as_completed(futures):
            try:
                yield future.result()
            except Exception as exc:  # a worker died (killed, out of memory)
                yield failed_row(futures[future], exc, options.quality)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# ---------------------------------------------------------------------- reporting


@dataclass
class Summary:
    """Totals over rows; bytes count the files written."""

    written: int = 0
    skipped: int = 0
    failed: int = 0
    input_bytes: int = 0
    output_bytes: int = 0
    plain_bytes: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    def add(self, row: Row) -> None:
        if row.status == "written":
            self.written += 1
            self.input_bytes += row.input_bytes or 0
            self.output_bytes += row.bytes or 0
            self.plain_bytes += row.plain_bytes or 0
        elif row.status == "skipped":
            self.skipped += 1
        else:
            self.failed += 1
            self.failures.append(row.input)

    @classmethod
    def of(cls, rows: Iterable[Row]) -> Summary:
        s = cls()
        for row in rows:
            s.add(row)
        return s

    def text(self) -> str:
        line = f"{self.written} written, {self.skipped} skipped (existing), {self.failed} failed"
        if self.written:
            line += f"; inputs {_size(self.input_bytes)} -> outputs {_size(self.output_bytes)}"
            if self.plain_bytes:
                change = 100.0 * (self.output_bytes - self.plain_bytes) / self.plain_bytes
                line += f", {change:+.1f} % against plain JPEG ({_size(self.plain_bytes)})"
        if self.seconds:
            line += f", in {self.seconds:.1f} s"
        return line


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    raise AssertionError


class Manifest:
    """Rows written as they come (CSV with a header, or JSON lines), so an interrupted run
    keeps the rows of the files it finished."""

    def __init__(self, fp: IO[str], fmt: str) -> None:
        self._fp = fp
        self._csv = csv.DictWriter(fp, fieldnames=MANIFEST_FIELDS, lineterminator="\n") if fmt == "csv" else None
        if self._csv is not None:
            self._csv.writeheader()

    def write(self, row: Row) -> None:
        values = asdict(row)
        if self._csv is not None:
            self._csv.writerow({k: "" if v is None else v for k, v in values.items()})
        else:
            self._fp.write(json.dumps(values) + "\n")
        self._fp.flush()


def read_manifest(fp: IO[str], fmt: str) -> list[dict[str, Any]]:
    """Rows of a manifest as dicts (CSV values are strings, empty for none)."""
    if fmt == "csv":
        return list(csv.DictReader(fp))
    return [json.loads(line) for line in fp if line.strip()]


def manifest_text(rows: Iterable[Row], fmt: str) -> str:
    buf = io.StringIO()
    m = Manifest(buf, fmt)
    for row in rows:
        m.write(row)
    return buf.getvalue()
