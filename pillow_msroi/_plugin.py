"""The Pillow save hook: ``img.save("x.jpg", semantic=True)``.

Pillow's JPEG plugin is imported first, so its own registration has happened and cannot
later overwrite ours; the handler found there is kept and every plain save is delegated
to it untouched, byte for byte.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import IO, Any

from PIL import Image, JpegImagePlugin

from . import _api, _options

_FORMAT = JpegImagePlugin.JpegImageFile.format
_lock = threading.Lock()
_original: Callable[[Image.Image, IO[bytes], str | bytes], None] | None = None


def _save(im: Image.Image, fp: IO[bytes], filename: str | bytes) -> None:
    info: dict[str, Any] = im.encoderinfo
    original = _original or JpegImagePlugin._save
    if not _options.semantic_requested(info):
        original(im, fp, filename)
        return
    semantic, map_, jpeg = _options.from_encoderinfo(info)
    # Everything is encoded in memory first: a failure leaves nothing written to fp.
    data = _api.encode_image(im, semantic, map_, jpeg).data
    fp.write(data)


def register() -> None:
    """Route JPEG saves through the semantic hook (idempotent)."""
    global _original
    with _lock:
        current = Image.SAVE.get(_FORMAT)
        if current is _save:
            return
        _original = current or JpegImagePlugin._save
        Image.register_save(_FORMAT, _save)


def unregister() -> None:
    """Restore the JPEG save handler that was in place before :func:`register` (idempotent)."""
    global _original
    with _lock:
        if Image.SAVE.get(_FORMAT) is _save and _original is not None:
            Image.register_save(_FORMAT, _original)
        _original = None


def is_registered() -> bool:
    return Image.SAVE.get(_FORMAT) is _save
