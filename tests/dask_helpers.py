"""Filesystems that misbehave once, for the Dask tests (importable by worker processes).

``killonce://`` reads like the local filesystem, except that the first read of a file
kills the process reading it (a Dask worker); ``failonce://`` writes like it, except
that the first move of a written file to its name raises.  A marker file beside the file records that it
happened, so the next attempt (another worker, or a retry) succeeds.
"""

from __future__ import annotations

import os

import fsspec
from distributed.diagnostics.plugin import WorkerPlugin
from fsspec.implementations.local import LocalFileSystem


def _first_time(path: str, what: str) -> bool:
    marker = f"{path}.{what}"
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.close(fd)
    return True


class KillOnceFileSystem(LocalFileSystem):
    protocol = ("killonce",)

    def _open(self, path, mode="rb", **kwargs):
        if "r" in mode and _first_time(self._strip_protocol(path), "killed"):
            os._exit(1)  # as a worker killed by the OOM killer or a lost node would end
        return super()._open(path, mode, **kwargs)


class FailOnceFileSystem(LocalFileSystem):
    protocol = ("failonce",)

    def mv(self, path1, path2, *args, **kwargs):
        final = self._strip_protocol(path2)
        if _first_time(final, "failed"):
            raise OSError(5, "Input/output error (injected once)", final)
        return super().mv(path1, path2, *args, **kwargs)


def register() -> None:
    fsspec.register_implementation("killonce", KillOnceFileSystem, clobber=True)
    fsspec.register_implementation("failonce", FailOnceFileSystem, clobber=True)


class RegisterFileSystems(WorkerPlugin):
    """Registers both protocols in every worker, restarted ones included."""

    def setup(self, worker):
        register()


def fill_memory(files: dict[str, bytes]) -> None:
    fs = fsspec.filesystem("memory")
    for path, data in files.items():
        fs.pipe_file(path, data)


def read_memory(folder: str) -> dict[str, bytes]:
    fs = fsspec.filesystem("memory")
    if not fs.exists(folder):
        return {}
    return {p: fs.cat_file(p) for p in fs.find(folder)}


def clear_memory() -> None:
    fs = fsspec.filesystem("memory")
    for p in list(fs.store):
        fs.store.pop(p, None)
    fs.pseudo_dirs[:] = [""]
