"""The one compiled kernel (codesieve/core/_kernels.c); everything else is in pyproject.toml.

`optional=True`: without a C compiler the install still succeeds and the numpy path runs.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("codesieve.core._kernels", ["codesieve/core/_kernels.c"], optional=True,
                             extra_compile_args=["-O3"])])
