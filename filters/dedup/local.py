"""Run the dedup gate's three steps over in-memory batches (benchmarks, tests, notebooks).

`pipeline.runner` is the production path; this drives the same gate methods in the same
order with the same file layout under `work`, so results are identical.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa

from codesieve.core.atomic import write_parquet_atomic
from codesieve.core.base import UnitContext
from codesieve.core.batch import DocBatch
from codesieve.filters.dedup.gate import DedupGate


def run_dedup(
    batches: Iterable[DocBatch], params: dict[str, Any], work: str, executor: Any, timings: dict[str, float] | None = None
) -> tuple[pa.Table, dict[str, Any]]:
    """Dedup `batches` (one unit each); return (id, dup_cluster, dup_cluster_size, reason)
    per document in input order, and the resolve step's statistics. `timings` receives
    wall seconds per step (and `prepare_cpu`, CPU seconds of pass 1)."""
    timings = timings if timings is not None else {}
    gate = DedupGate.build(dict(params), "dedup")
    work_dir = os.path.join(work, "_work")
    batches = list(batches)
    key_files = []
    t0, c0 = time.perf_counter(), time.process_time()
    for unit, batch in enumerate(batches):
        keys = gate.prepare(batch, UnitContext(unit, work_dir))
        keys = keys.append_column("_unit", pa.array(np.full(keys.num_rows, unit, np.int32)))
        path = os.path.join(work_dir, "keys", f"unit-{unit:05d}.pq")
        write_parquet_atomic(keys, path)
        key_files.append(path)
    timings["prepare"] = time.perf_counter() - t0
    timings["prepare_cpu"] = time.process_time() - c0
    t0 = time.perf_counter()
    os.makedirs(os.path.join(work_dir, "dedup"), exist_ok=True)
    stats = gate.resolve(key_files, os.path.join(work_dir, "dedup"), executor)
    timings["resolve"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = []
    for unit, batch in enumerate(batches):
        res = gate.apply(batch, UnitContext(unit, work_dir, gate_dir=os.path.join(work_dir, "dedup")))
        reason = np.full(batch.num_rows, None, dtype=object)
        for j, name in enumerate(res.reason_names):
            reason[res.fails[:, j]] = name
        out.append(
            pa.table({
                "id": batch.column("id"), "dup_cluster": res.columns["dup_cluster"],
                "dup_cluster_size": res.columns["dup_cluster_size"], "reason": pa.array(reason.tolist(), pa.string()),
            })
        )
    timings["apply"] = time.perf_counter() - t0
    return pa.concat_tables(out), stats
