"""The compiled kernels are optional (`setup.py` builds them with `optional=True`, so an install
without a C compiler still works on the numpy/Arrow paths). Where a compiler exists, a failed
build must not pass unnoticed: every kernel test would skip and the slow paths would run."""

from __future__ import annotations

import shutil
import sysconfig

import pytest


def test_kernels_are_built_where_a_compiler_exists() -> None:
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None:
        pytest.skip(f"no C compiler ({cc}): the kernels are optional")
    from codesieve.core import _kernels

    assert hasattr(_kernels, "line_split") and hasattr(_kernels, "license_spans")
