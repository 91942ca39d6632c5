"""The README's Python examples run as written.

Each ```python block runs as its own script in a folder holding the files the README's
examples name (``photo.png``, ``photos/*.png``); ```py blocks need a cluster or cloud
credentials and are only compiled.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from imaging import synthetic_rgb

import pillow_msroi

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", README.read_text(encoding="utf-8"), flags=re.S | re.M)


def test_the_readme_has_examples():
    assert len(_blocks("python")) >= 4 and len(_blocks("py")) >= 1


@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_python_block_runs(tmp_path, index):
    code = _blocks("python")[index]
    if "distributed" in code:
        pytest.importorskip("distributed")
    synthetic_rgb(160, 120, seed=1).save(tmp_path / "photo.png")
    (tmp_path / "photos").mkdir()
    for i in range(2):
        synthetic_rgb(96, 64, seed=2 + i).save(tmp_path / "photos" / f"p{i}.png")
    script = tmp_path / "example.py"
    script.write_text(code, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(pillow_msroi.__file__).parent.parent), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"README block {index} failed:\n{code}\n{done.stderr[-3000:]}"
    if "photos" in code:  # the folder examples wrote one JPEG per photo
        written = sorted(p.name for p in tmp_path.rglob("p*.jpg"))
        assert written == ["p0.jpg", "p1.jpg"]


@pytest.mark.parametrize("index", range(len(_blocks("py"))))
def test_cluster_blocks_compile(index):
    compile(_blocks("py")[index], f"README py block {index}", "exec")
