"""Peak extra memory of a semantic save, in fresh processes (Linux VmHWM).

Extra memory is the peak resident size during the save minus the size just before it,
as a multiple of the image's RGB bytes; plain Pillow JPEG is the reference.  Target: at
most 4x for 24 megapixels, and a larger image streams (its multiple does not grow).
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from targets import MEMORY_OVER_RGB

import pillow_msroi

SCRIPT = Path(__file__).parent / "experiments" / "peak_memory.py"


@functools.cache  # the plain reference of a size is measured once for both methods
def peak(width: int, height: int, plain: bool = False, method: str = "auto") -> dict:
    env = {**os.environ, "PYTHONPATH": str(Path(pillow_msroi.__file__).parent.parent)}
    cmd = [sys.executable, str(SCRIPT), str(width), str(height), f"--method={method}", *(["--plain"] if plain else [])]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    return json.loads(done.stdout)


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("method", ["auto", "blend"])
@pytest.mark.parametrize(("width", "height"), [(6000, 4000), (10000, 7500)])
def test_peak_memory(width, height, method, report):
    semantic = peak(width, height, method=method)
    plain = peak(width, height, True)
    report(
        f"peak extra memory, {width}x{height} ({width * height / 1e6:.0f} MP): semantic ({method}) "
        f"{semantic['extra'] / 2**20:.0f} MiB = {semantic['extra_over_rgb']:.2f}x RGB bytes, "
        f"plain JPEG {plain['extra'] / 2**20:.0f} MiB = {plain['extra_over_rgb']:.2f}x"
    )
    assert semantic["extra_over_rgb"] <= MEMORY_OVER_RGB
