"""Compress many images on a Dask cluster (``pip install "pillow-msroi[dask]"``).

:func:`compress` takes input paths or URLs of any fsspec filesystem (local, ``memory://``,
``s3://`` with s3fs installed, ...), an output folder or URL and the save options, and
encodes each file in a Dask task.  It finds files, names outputs, skips existing outputs
and reports :class:`~pillow_msroi.batch.Row` manifest rows exactly as ``msroi compress``
does (both use :mod:`pillow_msroi.batch`).

- The network is loaded once per worker process: its ONNX session is cached in the
  process and shared by the worker's threads.
- A task that raises (a write that failed, say) is retried ``retries`` times; a task whose
  worker died is run again elsewhere by the scheduler (up to Dask's
  ``distributed.scheduler.allowed-failures``).  Problems of an input (unreadable, too
  large) are not retried: they are the row's ``error``.
- No half file is ever visible at an output: local files are written to a temporary
  name and renamed; on other filesystems the data goes to a temporary key beside the
  output, which is then moved (object stores show an object only once it is complete).

Any cluster works: pass its ``Client`` (``client=``) or its scheduler address
(``scheduler=``), or have a client already made in this process.  dask-jobqueue and
dask-kubernetes clusters are used through their ``Client`` like any other.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import secrets
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any

from . import _batch as batch
from ._batch import MANIFEST_FIELDS, Job, Row, SaveOptions

__all__ = ["compress", "plan", "run"]


def _require() -> tuple[Any, Any]:
    try:
        import distributed
        import fsspec
    except ImportError as exc:
        msg = (
            f"pillow_msroi.dask needs dask.distributed and fsspec ({exc}); "
            "install them with: pip install 'pillow-msroi[dask]'"
        )
        raise ImportError(msg) from exc
    return distributed, fsspec


def _resolver(storage_options: dict[str, Any] | None) -> batch.Resolver:
    _, fsspec = _require()
    from fsspec.implementations.local import LocalFileSystem

    options = storage_options or {}

    def resolve(text: str) -> tuple[Any, str, Callable[[str], str]]:
        fs, path = fsspec.core.url_to_fs(text, **options)
        if type(fs) is LocalFileSystem:
            # Absolute, so that workers started elsewhere find the same files.
            return batch.resolve_local(os.path.abspath(path if "://" in text else text))
        return fs, path, fs.unstrip_protocol

    return resolve


def plan(
    inputs: str | Sequence[str],
    out_dir: str,
    *,
    recursive: bool = False,
    force: bool = False,
    storage_options: dict[str, Any] | None = None,
) -> list[Job]:
    """The jobs :func:`run` runs: inputs found as ``msroi compress`` finds them (files,
    folders, glob patterns), outputs under ``out_dir`` mirroring the input folders."""
    resolve = _resolver(storage_options)
    inputs = [inputs] if isinstance(inputs, str) else list(inputs)
    out_fs, out_path, out_url = resolve(out_dir)
    root = out_url(out_path)
    sources = batch.discover(inputs, recursive=recursive, resolve=resolve, exclude=root)
    join = os.path.join if out_fs is batch.LOCAL else (lambda a, b: a.rstrip("/") + "/" + b)
    return batch.plan(sources, out_dir=root, force=force, join=join)


class FsspecStorage:
    """:class:`batch.Storage` over fsspec URLs; plain paths are local files."""

    def __init__(self, storage_options: dict[str, Any] | None = None) -> None:
        self._options = storage_options or {}

    def _fs(self, url: str) -> tuple[Any, str]:
        if "://" not in url:
            return None, url
        _, fsspec = _require()
        return fsspec.core.url_to_fs(url, **self._options)

    def open_input(self, source: str) -> IO[bytes]:
        fs, path = self._fs(source)
        return open(path, "rb") if fs is None else fs.open(path, "rb")

    def size(self, path: str) -> int:
        fs, p = self._fs(path)
        return os.stat(p).st_size if fs is None else int(fs.size(p))

    def exists(self, path: str) -> bool:
        fs, p = self._fs(path)
        return os.path.exists(p) if fs is None else bool(fs.exists(p))

    def write(self, path: str, data: bytes) -> None:
        fs, p = self._fs(path)
        if fs is None:
            batch.write_atomic(p, data)
            return
        parent, name = posixpath.split(p)
        tmp = f"{parent}/.{name}.{secrets.token_hex(4)}.tmp"
        with contextlib.suppress(NotImplementedError):
            fs.makedirs(parent, exist_ok=True)
        try:
            fs.pipe_file(tmp, data)
            fs.mv(tmp, p)
        except BaseException:
            with contextlib.suppress(Exception):
                if fs.exists(tmp):
                    fs.rm(tmp)
            raise


def _existing(outputs: list[str], storage_options: dict[str, Any] | None) -> set[str]:
    """Which of ``outputs`` exist: local files one by one, the others by one listing of
    the folder they share (one request to an object store, not one per file)."""
    found = {o for o in outputs if "://" not in o and os.path.exists(o)}
    remote = [o for o in outputs if "://" in o]
    if remote:
        _, fsspec = _require()
        fs, _ = fsspec.core.url_to_fs(remote[0], **(storage_options or {}))
        paths = [fs._strip_protocol(u) for u in remote]
        root = posixpath.dirname(paths[0]) if len(paths) == 1 else posixpath.commonpath(paths)
        listed = fs.find(root) if fs.isdir(root) else []
        found |= {fs.unstrip_protocol(p) for p in listed} & set(remote)
    return found


def _task(job: Job, options: SaveOptions, force: bool, storage_options: dict[str, Any] | None) -> Row:
    # Write errors raise, so that Dask retries the task; input errors are the row's.
    return batch.compress_one(job, options, force=force, storage=FsspecStorage(storage_options), raise_write_errors=True)


def run(
    jobs: Sequence[Job],
    options: SaveOptions,
    *,
    client: Any = None,
    scheduler: str | None = None,
    force: bool = False,
    retries: int = 2,
    storage_options: dict[str, Any] | None = None,
) -> Iterator[Row]:
    """Rows of ``jobs`` as their tasks finish.  A job whose task still fails after
    ``retries`` (or whose workers kept dying) gets a "failed" row saying why."""
    distributed, _ = _require()
    own = None
    if client is None:
        if scheduler is not None:
            try:
                own = client = distributed.Client(scheduler)
            except OSError as exc:
                msg = f"cannot reach the Dask scheduler at {scheduler} ({exc}); is it running, and is the address right?"
                raise OSError(msg) from exc
        else:
            try:
                client = distributed.get_client()
            except ValueError as exc:
                msg = "no Dask client: pass client= or scheduler= (an address such as tcp://host:8786), or make a Client first"
                raise ValueError(msg) from exc
    jobs = list(jobs)
    if not force:
        # Decided here, not in the tasks: a task that wrote its file on a worker that then
        # died is run again, and must write again rather than report "skipped".
        existing = _existing([j.output for j in jobs], storage_options)
        storage = FsspecStorage(storage_options)
        for job in jobs:
            if job.output in existing:
                yield batch.skipped_row(job, storage.size(job.output), options.quality)
        jobs = [j for j in jobs if j.output not in existing]
    run_id = uuid.uuid4().hex[:8]
    try:
        futures = client.map(
            _task, jobs, options=options, force=True, storage_options=storage_options,
            retries=retries, pure=False, key=[f"msroi-compress-{run_id}-{i}" for i in range(len(jobs))],
        )
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for future in distributed.as_completed(futures):
                job = jobs[index[future.key]]
                try:
                    yield future.result()
                except Exception as exc:
                    yield batch.failed_row(job, exc, options.quality)
        finally:
            client.cancel(futures)
    finally:
        if own is not None:
            own.close()


def compress(
    inputs: str | Sequence[str],
    out_dir: str,
    *,
    client: Any = None,
    scheduler: str | None = None,
    recursive: bool = False,
    force: bool = False,
    retries: int = 2,
    manifest: str | None = None,
    storage_options: dict[str, Any] | None = None,
    **save_options: Any,
) -> list[Row]:
    """Compress ``inputs`` (paths, folders, glob patterns or fsspec URLs) into ``out_dir``
    on a Dask cluster; return one row per file, in input order.

    ``save_options`` are those of :class:`~pillow_msroi.batch.SaveOptions` (``quality``,
    ``method``, ``rule``, ``slack``, ``map``, ``subsampling``, ``optimize``,
    ``progressive``, ``max_pixels``).  Existing outputs are skipped unless ``force``.
    ``manifest``: also write the rows to this ``.csv`` or ``.jsonl`` path or URL.
    """
    options = SaveOptions(**save_options)
    fmt = batch.manifest_format(manifest) if manifest is not None else None
    jobs = plan(inputs, out_dir, recursive=recursive, force=force, storage_options=storage_options)
    order = {(j.source, j.output): i for i, j in enumerate(jobs)}
    rows = sorted(
        run(jobs, options, client=client, scheduler=scheduler, force=force, retries=retries, storage_options=storage_options),
        key=lambda r: order[(r.input, r.output)],
    )
    if manifest is not None:
        _, fsspec = _require()
        with fsspec.open(manifest, "w", newline="", encoding="utf-8", **(storage_options or {})) as fp:
            m = batch.Manifest(fp, fmt)
            for row in rows:
                m.write(row)
    return rows
