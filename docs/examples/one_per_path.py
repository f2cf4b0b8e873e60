"""Example: a global gate in one file: keep one document per `path` across all shards (e.g.
one copy of a file over several versions of a package). Config: `plugins: [one_per_path.py]`,
then `- gate: one_per_path` in `gates` (any number of global gates may follow each other)."""

import os
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from codesieve.core.atomic import write_parquet_atomic
from codesieve.core.base import GateResult, GlobalGate, UnitContext
from codesieve.core.batch import DocBatch
from codesieve.core.registry import register_gate


@register_gate("one_per_path")
class OnePerPath(GlobalGate):
    """Keeps the smallest id among documents sharing a `path`; the others fail."""

    def output_fields(self) -> list[pa.Field]:
        return [pa.field("same_path_kept", pa.string())]

    def prepare(self, batch: DocBatch, ctx: UnitContext) -> pa.Table:
        """Pass before the global step: the keys it needs, per document."""
        return pa.table({"id": batch.column("id"), "path": batch.path})

    def resolve(self, key_files: list[str], work_dir: str, executor: Any) -> dict[str, Any]:
        """All shards at once: the kept id per path, written once per unit for `apply`."""
        keys = pa.concat_tables([pq.read_table(f) for f in key_files if os.path.exists(f)])
        kept = keys.group_by("path").aggregate([("id", "min")]).rename_columns(["path", "kept"])
        joined = keys.join(kept, "path").filter(pc.is_valid(pc.field("path")))
        for unit in np.unique(joined.column("_unit").to_numpy()):
            part = joined.filter(pc.equal(joined.column("_unit"), int(unit))).select(["id", "kept"])
            write_parquet_atomic(part.sort_by("id"), os.path.join(work_dir, f"unit-{int(unit):05d}.pq"))
        return {"paths": kept.num_rows, "documents": keys.num_rows}

    def apply(self, batch: DocBatch, ctx: UnitContext) -> GateResult:
        """Pass after the global step: read this unit's verdicts from `ctx.gate_dir`."""
        path = os.path.join(ctx.gate_dir, f"unit-{ctx.unit:05d}.pq")
        ids = batch.column("id")
        kept = pa.nulls(len(ids), pa.string())
        if os.path.exists(path):
            v = pq.read_table(path)
            kept = pc.take(v.column("kept"), pc.index_in(ids, v.column("id")))
        kept = kept.combine_chunks() if isinstance(kept, pa.ChunkedArray) else kept
        fails = pc.fill_null(pc.not_equal(kept, ids), False).to_numpy(zero_copy_only=False)[:, None]
        return GateResult({"same_path_kept": kept}, fails, ["same_path"])
