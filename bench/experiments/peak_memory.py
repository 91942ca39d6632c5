"""Peak extra memory of one semantic save of a large image, in a fresh process.

Usage: python bench/experiments/peak_memory.py WIDTH HEIGHT [--method=auto|dct|blend] [--plain]

Prints a JSON line: the image's RGB bytes, the process's resident memory before the save
and the peak during it (Linux VmHWM, reset just before the save through clear_refs), and
their difference as a multiple of the RGB bytes.
"""

from __future__ import annotations

import gc
import io
import json
import sys

import numpy as np
from PIL import Image


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(f"{field} not in /proc/self/status")


def photo_like(width: int, height: int) -> Image.Image:
    """Smooth colour fields with texture, built band by band to keep the setup small."""
    im = Image.new("RGB", (width, height))
    rng = np.random.default_rng(0)
    step = 256
    xx = np.arange(width, dtype=np.float32)
    for top in range(0, height, step):
        rows = np.arange(top, min(top + step, height), dtype=np.float32)[:, None]
        r = 128 + 100 * np.sin(xx / 300 + rows / 500)
        g = 128 + 100 * np.cos(xx / 170 - rows / 260)
        b = 128 + 60 * np.sin((xx + rows) / 90)
        band = np.stack(np.broadcast_arrays(r, g, b), axis=-1) + rng.normal(0, 8, (len(rows), width, 3))
        im.paste(Image.fromarray(np.clip(band, 0, 255).astype(np.uint8)), (0, top))
    return im


def main() -> None:
    width, height = int(sys.argv[1]), int(sys.argv[2])
    plain = "--plain" in sys.argv
    method = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--method=")), "auto")
    import pillow_msroi  # noqa: F401 - registers the semantic save hook

    im = photo_like(width, height)
    yy, xx = np.mgrid[0:24, 0:36] + 0.5
    roi = np.exp(-(((xx - 18) / 7) ** 2 + ((yy - 12) / 5) ** 2) / 2)
    gc.collect()
    before = _status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current RSS
    buf = io.BytesIO()
    if plain:
        im.save(buf, "JPEG", quality=75)
    else:
        im.save(buf, "JPEG", quality=75, semantic=True, semantic_map=roi, semantic_method=method)
    peak = _status("VmHWM")
    rgb = width * height * 3
    print(json.dumps({
        "width": width, "height": height, "semantic": not plain, "method": None if plain else method, "rgb_bytes": rgb, "file_bytes": len(buf.getvalue()),
        "rss_before": before, "peak": peak, "extra": peak - before, "extra_over_rgb": round((peak - before) / rgb, 3),
    }))


if __name__ == "__main__":
    main()
