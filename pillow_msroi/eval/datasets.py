"""The eye-fixation datasets by name (OSIE, MIT1003): where their files are, how they
load, and their fixed train/validation splits, for the benchmarks and the training recipe."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

__all__ = ["DATASETS", "Dataset", "dataset", "load_split"]


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    #: Folder under ``shared/data``.
    folder: str
    #: The fixations file beside ``stimuli/``.
    fixations: str
    load: Callable[[Path], list[Any]]
    split: Callable[[list[Any]], tuple[list[Any], list[Any]]]


def _osie() -> Dataset:
    from .osie import load_osie, osie_split

    return Dataset("osie", "OSIE", "osie", "fixations.mat", load_osie, osie_split)


def _mit1003() -> Dataset:
    from .mit1003 import load_mit1003, mit1003_split

    return Dataset("mit1003", "MIT1003", "mit1003", "fixations.json", load_mit1003, mit1003_split)


_FACTORIES = {"osie": _osie, "mit1003": _mit1003}
#: Names ``dataset()`` accepts.
DATASETS: tuple[str, ...] = tuple(_FACTORIES)


def dataset(name: str) -> Dataset:
    """The dataset called ``name`` (one of ``DATASETS``)."""
    try:
        return _FACTORIES[name]()
    except KeyError:
        raise ValueError(f"unknown fixation dataset {name!r}; known: {', '.join(DATASETS)}") from None


def load_split(folder: Path, name: str) -> tuple[list[Any], list[Any]]:
    """(train, validation) records of dataset ``name`` stored in ``folder``."""
    ds = dataset(name)
    folder = Path(folder)
    if not (folder / ds.fixations).is_file() or not (folder / "stimuli").is_dir():
        raise OSError(f"{folder} needs {ds.fixations} and stimuli/ (the {ds.title} layout)")
    return ds.split(ds.load(folder))
