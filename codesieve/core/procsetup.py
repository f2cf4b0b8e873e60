"""Set-up of the processes that run pipelines (`run` and `dry-run`, and Ray's workers).

pyarrow imports pandas the first time it converts anything (`pa.array` of a list or of a
numpy array, a Parquet read), only to check whether the input is a pandas object: ~0.3 CPU-s
per process where pandas is installed (it is in the test environment, through `datasets`,
and in most data stacks). codesieve never hands pyarrow a pandas object.
"""

from __future__ import annotations

import importlib.abc
import sys
from typing import Any


class _NoPandas(importlib.abc.MetaPathFinder):
    """An import finder that makes `import pandas` fail (while it is on `sys.meta_path`)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError("pandas: not imported by pyarrow's probe in a codesieve process")
        return None


def skip_pandas_probe() -> None:
    """Have pyarrow decide, once and without importing pandas, that this process has no pandas.

    pyarrow probes once (`pyarrow.lib._pandas_api`) and remembers a failed import; with pandas
    unimportable for that one probe, its implicit checks (is this a pandas object?) stop there.
    An explicit conversion (`Table.to_pandas`, `Table.from_pandas`) imports pandas when it is
    called, as without this; pandas imports normally afterwards. A pandas object given to
    `pa.array` is then read as a plain sequence. Does nothing when pandas is already imported."""
    if "pandas" in sys.modules:
        return
    finder = _NoPandas()
    sys.meta_path.insert(0, finder)
    try:
        import pyarrow as pa

        pa.array([0])  # the probe: pyarrow asks for pandas here
    finally:
        sys.meta_path.remove(finder)
