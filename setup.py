"""Build the private Cython extension and ship the model files inside the package.

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

extensions = [
    Extension(
        "pillow_msroi._native",
        sources=["csrc/_native.pyx"],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=compile_args,
    ),
    Extension(
        "pillow_msroi._perceptual_cy",
        sources=["csrc/_perceptual_cy.pyx"],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=compile_args,
    ),
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
        "pillow_msroi": ["py.typed", "_native.pyi", "_perceptual_cy.pyi"],
        "pillow_msroi.models": ["*.onnx", "*.sha256", "*.json", "README.md"],
    },
    ext_modules=cythonize(
        extensions,
        language_level=3,
        compiler_directives={"embedsignature": True},
    ),
    zip_safe=False,
)
