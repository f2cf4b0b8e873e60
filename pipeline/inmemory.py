"""Run one global gate over in-memory batches (benchmarks, tests, notebooks).

The same three steps the runner takes (`prepare` per unit, `resolve` once, `apply` per
unit), with the same file layout under `work` (`pipeline.layout`), so results are identical
to a `codesieve run` of that gate.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa

from codesieve.core.atomic import write_parquet_atomic
from codesieve.core.base import GateResult, UnitContext
from codesieve.core.batch import DocBatch
from codesieve.core.registry import GATES
from codesieve.pipeline import layout
from codesieve.pipeline.plugins import load_plugins


def run_global_gate(
    name: str, batches: Iterable[DocBatch], params: dict[str, Any], work: str, executor: Any,
    timings: dict[str, float] | None = None,
) -> tuple[pa.Table, dict[str, Any]]:
    """Run the registered global gate `name` over `batches` (one unit each).

    Returns (`id`, the gate's columns, `reason`: its first failed check or null) per document
    in input order, and the resolve step's statistics. `timings` receives wall seconds per
    step (and `prepare_cpu`, CPU seconds of the prepare step).
    """
    load_plugins()
    timings = timings if timings is not None else {}
    gate = GATES[name].build(dict(params), name)
    work = layout.work_dir(work)
    batches = list(batches)
    t0, c0 = time.perf_counter(), time.process_time()
    key_files = []
    for unit, batch in enumerate(batches):
        keys = gate.prepare(batch, UnitContext(unit, work))
        keys = keys.append_column("_unit", pa.array(np.full(keys.num_rows, unit, np.int32)))
        key_files.append(layout.gate_keys(work, name, unit))
        write_parquet_atomic(keys, key_files[-1])
    timings["prepare"] = time.perf_counter() - t0
    timings["prepare_cpu"] = time.process_time() - c0
    t0 = time.perf_counter()
    folder = layout.gate_dir(work, name)
    os.makedirs(folder, exist_ok=True)
    stats = gate.resolve(key_files, folder, executor)
    timings["resolve"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = [_rows(batch, gate.apply(batch, UnitContext(unit, work, gate_dir=folder))) for unit, batch in enumerate(batches)]
    timings["apply"] = time.perf_counter() - t0
    return pa.concat_tables(out), stats


def _rows(batch: DocBatch, res: GateResult) -> pa.Table:
    reason = np.full(batch.num_rows, None, dtype=object)
    for j in reversed(range(len(res.reason_names))):  # the first failed check wins
        reason[res.fails[:, j]] = res.reason_names[j]
    return pa.table({"id": batch.column("id"), **res.columns, "reason": pa.array(reason.tolist(), pa.string())})
