"""codesieve's processes run Arrow on jemalloc, which hands back what a task freed (issue #14:
worker peak RSS flat with corpus size; with mimalloc a Ray worker kept ~35 MB more resident
between tasks on 4x the dev corpus than on the corpus itself)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pyarrow as pa
import pytest

from codesieve.pipeline.executors import ARROW_POOL, arrow_pool_env

# a task that allocates and writes 2 x 256 MB in Arrow's default pool on another thread (as
# Arrow's own thread pools do) and frees it; RSS before / after, without any release call
TASK = """
import json, threading, numpy as np, pyarrow as pa, pyarrow.compute as pc
from codesieve.pipeline.executors import _resident_mb
src = pa.array(np.arange(2**25, dtype=np.int64))  # 256 MB of numpy's memory, not the pool's
before = _resident_mb()
def work():
    out = [pc.add(src, i) for i in range(2)]
    assert pa.default_memory_pool().bytes_allocated() >= 2**29
    del out
t = threading.Thread(target=work); t.start(); t.join()
print(json.dumps([pa.default_memory_pool().backend_name, before, _resident_mb()]))
"""


def _run(env: dict[str, str]) -> tuple[str, float]:
    base = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    out = subprocess.run([sys.executable, "-c", TASK], env={**base, **env}, capture_output=True, text=True,
                         check=True, timeout=60)
    backend, before, after = json.loads(out.stdout)
    return backend, after - before


@pytest.mark.skipif(ARROW_POOL not in pa.supported_memory_backends(), reason=f"this pyarrow has no {ARROW_POOL}")
def test_freed_task_memory_is_not_kept_resident(monkeypatch):
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    env = arrow_pool_env()
    assert env == {"ARROW_DEFAULT_MEMORY_POOL": ARROW_POOL}
    backend, kept = _run(env)
    assert backend == ARROW_POOL
    assert kept < 64, f"{kept:.0f} MB of freed Arrow memory still resident"
    backend, kept = _run({})  # pyarrow's own default keeps it: what the setting is for
    if backend == "mimalloc":
        assert kept > 256
    # a pool the user chose is left alone
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "system")
    assert arrow_pool_env() == {}


# two tasks through the local executor on mimalloc (which keeps freed pages): the first leaves
# 256 MB of freed pool pages resident (below RELEASE_ABOVE_MB with its ~150 MB process, so
# nothing is released after it); the second is a unit-like task (`release_first`)
RELEASE_FIRST = """
import json, threading, numpy as np, pyarrow as pa, pyarrow.compute as pc
from codesieve.pipeline.executors import LocalExecutor, RELEASE_ABOVE_MB, _resident_mb
def hold():
    src = pa.array(np.arange(2**24, dtype=np.int64))  # 128 MB (numpy's), freed at the end
    def work():
        out = [pc.add(src, i) for i in range(2)]  # 256 MB of the pool's, freed on this thread
        del out
    t = threading.Thread(target=work); t.start(); t.join()
    return _resident_mb()
def probe():
    return _resident_mb()
def probe_first():
    return _resident_mb()
probe_first.release_first = True
ex = LocalExecutor()
print(json.dumps([ex.map(hold, [()])[0], RELEASE_ABOVE_MB, ex.map(probe, [()])[0], ex.map(probe_first, [()])[0]]))
"""


def test_unit_tasks_start_from_a_released_heap():
    base = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    out = subprocess.run([sys.executable, "-c", RELEASE_FIRST], env={**base, "ARROW_DEFAULT_MEMORY_POOL": "mimalloc"},
                         capture_output=True, text=True, check=True, timeout=60)
    held, above, plain, first = json.loads(out.stdout)
    if held >= above:
        pytest.skip(f"this process already holds {held:.0f} MB (>= RELEASE_ABOVE_MB)")
    assert plain > first + 200, f"a release_first task started at {first:.0f} MB, a plain one at {plain:.0f} MB"
