"""What a better progressive coder could save on our files: the semantic files re-coded
losslessly by libjpeg-turbo's ``jpegtran`` (Debian ``libjpeg-turbo-progs``), so the levels
stay ours and only the scans change.

    python bench/experiments/progressive_ceiling.py [--images 1 3 5 ...] [--budgets 30 75]

Columns, total bytes over the images: our baseline file; ours with ``progressive=True``
(spectral selection, no EOB runs; its budget is Pillow's progressive file, so it is not
the baseline's size); that file with the same bands but EOB runs (``jpegtran -scans``);
our baseline re-coded with libjpeg's default successive-approximation script
(``jpegtran -progressive``) and with spectral selection plus EOB runs.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

import pillow_msroi

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for kodak.py
from kodak import shared_dir  # noqa: E402

#: Our progressive script (scans.progressive_script, 4:2:0 colour): DC, luma 1-5, chroma, luma 6-63.
BANDS = "0,1,2: 0-0, 0, 0;\n0: 1-5, 0, 0;\n1: 1-63, 0, 0;\n2: 1-63, 0, 0;\n0: 6-63, 0, 0;\n"


def _jpegtran(data: bytes, args: list[str], tmp: Path) -> bytes:
    src = tmp / "in.jpg"
    src.write_bytes(data)
    return subprocess.run(["jpegtran", *args, "-copy", "all", str(src)], check=True, capture_output=True).stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, nargs="+", default=list(range(1, 25, 2)))
    ap.add_argument("--budgets", type=int, nargs="+", default=[30, 75])
    args = ap.parse_args()
    if shutil.which("jpegtran") is None:
        print("needs jpegtran: apt install libjpeg-turbo-progs", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        scans = tmp / "bands.txt"
        scans.write_text(BANDS)
        print("| budget | baseline | progressive | progressive + EOB runs | baseline as SA progressive | baseline as bands + EOB runs |")
        print("|---|---|---|---|---|---|")
        for q in args.budgets:
            t = [0] * 5
            for n in args.images:
                with Image.open(shared_dir() / "data" / "kodak" / f"kodim{n:02d}.png") as src:
                    im = src.convert("RGB")
                base = pillow_msroi.encode(im, quality=q)
                prog = pillow_msroi.encode(im, quality=q, progressive=True)
                sizes = (len(base), len(prog), len(_jpegtran(prog, ["-scans", str(scans)], tmp)),
                         len(_jpegtran(base, ["-progressive"], tmp)), len(_jpegtran(base, ["-scans", str(scans)], tmp)))
                t = [a + b for a, b in zip(t, sizes)]
            print(f"| Q{q} | {t[0]:,} | {t[1]:,} | {t[2]:,} ({t[2] / t[1] - 1:+.2%}) | "
                  f"{t[3]:,} ({t[3] / t[0] - 1:+.2%}) | {t[4]:,} ({t[4] / t[0] - 1:+.2%}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
