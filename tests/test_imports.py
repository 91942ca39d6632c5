"""The product apart from its evaluation: what importing and saving pull in."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

import pillow_msroi
from pillow_msroi import cli

EVALUATION_ONLY = ("scipy", "skimage", "matplotlib", "jpeglib")


def test_import_and_semantic_save_import_no_evaluation_dependency(tmp_path) -> None:
    # A fresh interpreter: this test process has imported everything already.
    code = (
        "import io, sys, numpy as np\n"
        "from PIL import Image\n"
        "import pillow_msroi, pillow_msroi.cli\n"
        "im = Image.fromarray((np.indices((40, 56)).sum(0) % 256).astype('uint8')).convert('RGB')\n"
        "for method in ('dct', 'blend'):\n"
        "    im.save(io.BytesIO(), 'JPEG', semantic=True, semantic_map=np.eye(4), semantic_method=method)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {EVALUATION_ONLY!r}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(pillow_msroi.__file__).parent.parent)}
    # Outside the checkout: ``python -c`` puts the current folder first on sys.path.
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env, cwd=tmp_path)
    assert done.stdout.strip() == "[]"


def test_bench_without_the_extra_says_which_to_install(monkeypatch, tmp_path, capsys) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "scipy" else real(name, *a))
    assert cli.main(["bench", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "pip install 'pillow-msroi[bench]'" in err and "scipy" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "name", ["encode", "encode_details", "encoding_map", "roi_map", "register", "unregister", "Encoded"]
)
def test_public_face(name: str) -> None:
    assert name in pillow_msroi.__all__ and hasattr(pillow_msroi, name)
