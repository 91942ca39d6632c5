"""Build the private Cython extensions and ship the model files inside the package.

Each ``csrc/_<stage>_cy.pyx`` becomes ``pillow_msroi._<stage>_cy``; the C helpers they
share are the headers in ``csrc/``.

The top-level ``models/`` folder (ONNX network, checksum, model card) is mapped into the
wheel as ``pillow_msroi/models`` so a normal, non-editable install finds it.
"""

import os

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, find_packages, setup

compile_args = ["-O3"]
if os.name != "nt":
    compile_args += ["-fno-strict-aliasing"]

#: One extension per kernel module, each beside the Python module that drives it: map
#: stretching (both methods), the blend, and the DCT encoder's transform, quantization
#: and entropy-coding stages.
KERNELS = {
    "pillow_msroi._stretch_cy": "csrc/_stretch_cy.pyx",
    "pillow_msroi._blend_cy": "csrc/_blend_cy.pyx",
    "pillow_msroi._dct._transform_cy": "csrc/_transform_cy.pyx",
    "pillow_msroi._dct._quantize_cy": "csrc/_quantize_cy.pyx",
    "pillow_msroi._dct._entropy_cy": "csrc/_entropy_cy.pyx",
}

extensions = [
    Extension(
        name,
        sources=[source],
        include_dirs=["csrc", np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=compile_args,
        depends=["csrc/msroi_bits.h", "csrc/msroi_color.h", "csrc/msroi_arrow.h"],
    )
    for name, source in KERNELS.items()
]

packages = find_packages(include=["pillow_msroi", "pillow_msroi.*"])
package_dir = {"pillow_msroi": "pillow_msroi"}
if os.path.isdir("models"):
    packages.append("pillow_msroi.models")
    package_dir["pillow_msroi.models"] = "models"

setup(
    packages=packages,
    package_dir=package_dir,
    package_data={
        "pillow_msroi": ["py.typed", "*.pyi"],
        "pillow_msroi._dct": ["*.pyi"],
        "pillow_msroi.models": ["*.onnx", "*.sha256", "*.json", "README.md"],
    },
    ext_modules=cythonize(
        extensions,
        language_level=3,
        compiler_directives={"embedsignature": True},
    ),
    zip_safe=False,
)
