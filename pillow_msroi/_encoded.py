"""The result contract: every method's ``encode`` returns an :class:`Encoded`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, repr=False)
class Encoded:
    """A semantic JPEG and how it was made."""

    data: bytes
    #: Quality of the final encode; None when nothing fit and ``data`` is the plain JPEG.
    quality: int | str | None  # "keep": a JPEG source's own tables
    #: Largest allowed size: plain JPEG at the caller's quality times (1 + slack).
    budget: int
    #: Size of that plain JPEG.
    plain_bytes: int
    #: uint8 (height, width) level of every pixel, 1..9 = JPEG layer Q20..Q100.
    level_map: np.ndarray
    #: Qualities of the layers that were encoded and blended.
    layers: tuple[int, ...]
    #: Final-quality encodes the budget search needed (blend: at most 8; dct: passes).
    encodes: int
    #: Selection rule used (blend); None for dct.
    rule: int | None
    #: The method that ran ("blend" or "dct"; "auto" is resolved).
    method: str
    #: method="dct": multiplier of every block's price of a bit (1: the field's own); else None.
    strength: float | None = None

    def __repr__(self) -> str:
        # The file and the level map are shown by size: printing a result must not dump
        # a hundred kilobytes of JPEG.
        h, w = self.level_map.shape
        return (
            f"Encoded(data=<{len(self.data):,} bytes>, quality={self.quality!r}, budget={self.budget!r}, "
            f"plain_bytes={self.plain_bytes!r}, level_map=<{w}x{h} {self.level_map.dtype}>, layers={self.layers!r}, "
            f"encodes={self.encodes!r}, rule={self.rule!r}, method={self.method!r}, strength={self.strength!r})"
        )

    @property
    def fallback(self) -> bool:
        """True when even quality 1 exceeded the budget and the plain JPEG was returned."""
        return self.quality is None
