"""The batches a dry run examines: the rows `run` would give a gate, or a finished run's stored
rows (re-decided from stored values, never measured again)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pyarrow as pa

from codesieve.core.base import Gate, UnitContext
from codesieve.core.batch import DocBatch
from codesieve.core.errors import UserError
from codesieve.pipeline import layout
from codesieve.pipeline.config import PipelineConfig
from codesieve.pipeline.gaterun import add_late_columns, alive_batch, run_gates
from codesieve.pipeline.plan import QUARANTINE_NAME, late_points
from codesieve.pipeline.tiers import UnitState

# ------------------------------------------------------------------------------------
# reading: the same batches `run` would give the examined gate


def _gate_index(cfg: PipelineConfig, name: str) -> int:
    names = cfg.gate_names()
    if name not in names:
        raise UserError(f"--config {cfg.source}: has no {name!r} gate (its gates: {', '.join(names)})")
    return names.index(name)


def survivor_batches(
    cfg: PipelineConfig,
    input_path: str,
    gate_name: str,
    lang_column: str | None = None,
    limit_rows: int | None = None,
    skip_global: bool = False,
) -> Any:
    """Yield (rows read, bytes read, DocBatch reaching `gate_name`) per work unit.

    Shard-local gates before `gate_name` are applied in config order and their columns
    added, exactly as `run` does; with `lang_column`, they are skipped and `lang` is that
    input column.
    """
    from codesieve.pipeline.io import iter_batches

    if os.path.exists(layout.manifest_path(input_path)):
        yield from stored_batches(input_path, gate_name, limit_rows)
        return
    idx = _gate_index(cfg, gate_name)
    before: list[Gate] = [] if lang_column else cfg.gates[:idx]
    if skip_global:
        before = [g for g in before if not g.is_global]
    for g in before:
        if g.is_global:
            raise UserError(
                f"gate {g.name!r} is global and comes before {gate_name!r}; a dry run cannot apply it"
            )
    for unit, (_src, batch) in enumerate(
        iter_batches(
            input_path, cfg.input.text_column, limit_rows, cfg.input.max_doc_bytes, cfg.input.unit_rows
        )
    ):
        rows, nbytes = batch.num_rows, int(batch.byte_len.sum())
        if lang_column:
            col = batch.column(lang_column)
            if col is None:
                raise UserError(f"--lang-column {lang_column}: no such input column")
            batch = batch.with_column("lang", col.cast(pa.string()))
        ctx = UnitContext(unit=unit, work_dir="", text_column=cfg.input.text_column)
        state = UnitState(batch.num_rows)
        fields = {f.name: f.type for g in before for f in g.output_fields()}
        late = late_points(cfg.gates[: idx + 1]) if before else {}  # key idx: late columns the gate reads
        run_gates(list(enumerate(before)), batch.table, state, ctx, {}, fields, late=late)
        add_late_columns(late.get(idx, []), batch.table, state, ctx, fields)
        batch = alive_batch(batch.table, state, np.flatnonzero(state.alive), cfg.input.text_column)
        yield rows, nbytes, batch


def stored_batches(output: str, gate_name: str, limit_rows: int | None = None) -> Any:
    """Like `survivor_batches`, from a finished run's output: the rows that reached
    `gate_name`, with every column the run stored (`h_*`, `q_*`, ...), so a dry run
    re-decides from stored values instead of measuring again."""
    import pyarrow.dataset as ds

    from codesieve.pipeline.manifest import read_manifest

    manifest = read_manifest(output) or {}
    names = manifest.get("tier_names", {})
    tc = manifest.get("config", {}).get("input", {}).get("text_column", "content")
    idx = next((int(k) for k, v in names.items() if v == f"failed:{gate_name}"), None)
    if idx is None:
        raise UserError(f"--input {output}: that run has no {gate_name!r} gate (its tiers: {names})")
    data = ds.dataset(output, format="parquet", partitioning="hive")
    reached = (ds.field("tier") >= idx) & (ds.field("tier_name") != QUARANTINE_NAME)
    left = limit_rows
    for part in data.to_batches(filter=reached):
        table = pa.Table.from_batches([part])
        if left is not None:
            table, left = table.slice(0, left), left - min(left, table.num_rows)
        batch = DocBatch(table, tc)
        yield table.num_rows, int(batch.byte_len.sum()), batch
        if left == 0:
            break
