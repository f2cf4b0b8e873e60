"""Measure once, decide cheaply: per-unit stores of what per-row gates computed, by row id.

A gate's stored results are keyed by what they depend on: the code, the unit, the input
settings, the earlier gates' `measure_key()`s and its own — never by thresholds of a gate
that splits measuring from deciding (`MeasuredGate`). On a rerun, rows found in the store
by `id` are not recomputed; a `MeasuredGate` re-decides from the stored values, so a
threshold change costs a `decide`, not a `measure`. Rows not found (e.g. rows that now
survive an earlier gate whose threshold moved) are computed and added to the store.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from codesieve.core import cputime
from codesieve.core.atomic import TABLE_READ, WORK_CODEC, write_parquet_atomic
from codesieve.core.base import Gate, GateResult, MeasuredGate, UnitContext
from codesieve.core.batch import DocBatch
from codesieve.core.params import stable_hash

KEY = b"codesieve.memo.key"
REASONS = b"codesieve.memo.reasons"


class Memo:
    """The stores of one unit under `folder` (`work/memo`); `base` keys the unit and code."""

    def __init__(self, folder: str, unit: int, base: Any):
        self.folder = folder
        self.unit = unit
        self.base = base
        self.upstream: list[Any] = []

    @staticmethod
    def entry(gate: Gate, active: bool = True) -> list[Any]:
        """What an upstream gate contributes to later gates' keys (an inactive gate gives
        no columns, so later results differ)."""
        return [gate.name, gate.measure_key(), gate.fingerprint()] if active else [gate.name, "inactive"]

    def key(self, gate: Gate) -> str:
        return stable_hash({"base": self.base, "up": self.upstream, "gate": self.entry(gate)})

    def path(self, gate: Gate) -> str:
        return os.path.join(self.folder, gate.name, f"unit-{self.unit:05d}.pq")

    def load(self, gate: Gate, key: str) -> pa.Table | None:
        path = self.path(gate)
        if not os.path.exists(path):
            return None
        try:
            with cputime.timed("memo_io"):
                table = pq.read_table(path, **TABLE_READ)
        except (OSError, pa.ArrowException):
            return None  # a torn or foreign file: recompute
        meta = table.schema.metadata or {}
        return table if meta.get(KEY) == key.encode() else None

    def save(self, gate: Gate, key: str, table: pa.Table, reasons: list[str]) -> None:
        meta = {KEY: key.encode(), REASONS: "\x1f".join(reasons).encode()}
        with cputime.timed("memo_io"):
            write_parquet_atomic(table.replace_schema_metadata(meta), self.path(gate), codec=WORK_CODEC)


def apply_memoized(gate: Gate, batch: DocBatch, ctx: UnitContext, memo: Memo | None) -> GateResult:
    """`gate.apply(batch)`, reusing the rows `memo` holds for this gate (by id)."""
    if memo is None:
        return gate.apply(batch, ctx)
    key = memo.key(gate)
    memo.upstream.append(memo.entry(gate))
    if gate.is_global or not gate.per_row or batch.column("id") is None:
        return gate.apply(batch, ctx)
    stored = memo.load(gate, key)
    ids = batch.column("id")
    hit = np.zeros(batch.num_rows, dtype=bool)
    pos = np.zeros(batch.num_rows, dtype=np.int64)
    if stored is not None:
        found = pc.index_in(ids, stored.column("id"))
        hit = pc.is_valid(found).to_numpy(zero_copy_only=False)
        pos = pc.fill_null(found, 0).to_numpy(zero_copy_only=False).astype(np.int64)
    miss = np.flatnonzero(~hit)
    # nothing stored (a first run): the gate reads the batch itself, not a copy of every row
    sub = (batch if len(miss) == batch.num_rows else batch.take(~hit)) if len(miss) else None
    measured = isinstance(gate, MeasuredGate)
    if measured:
        new = _as_table(gate.measure(sub, ctx), sub) if sub is not None else None  # type: ignore[attr-defined]
        reasons: list[str] = []
    else:
        res = gate.apply(sub, ctx) if sub is not None else None
        new, reasons = (_result_table(res, sub) if res is not None else (None, []))
    if stored is not None and not reasons:
        reasons = (stored.schema.metadata or {}).get(REASONS, b"").decode().split("\x1f")
        reasons = [r for r in reasons if r]
    if new is not None:
        new = _typed(new, gate)
    merged = _merge(stored, pos, hit, new, miss)
    if new is not None and new.num_rows:
        keep = stored.filter(pc.invert(pc.is_in(stored.column("id"), value_set=new.column("id").combine_chunks()))) if stored is not None else None
        memo.save(gate, key, pa.concat_tables([keep, new]) if keep is not None else new, reasons)
    if measured:
        cols = {n: merged.column(n).combine_chunks() for n in merged.column_names if n != "id"}
        return gate.decide(batch, cols, ctx)  # type: ignore[attr-defined]
    return _result_from_table(merged, reasons)


def _typed(table: pa.Table, gate: Gate) -> pa.Table:
    """Columns cast to the types the gate declares (an all-null column may come back untyped)."""
    types = {f.name: f.type for f in gate.output_fields()}
    for i, name in enumerate(table.column_names):
        if name in types and table.column(i).type != types[name]:
            table = table.set_column(i, pa.field(name, types[name]), table.column(i).cast(types[name]))
    return table


def _as_table(columns: dict[str, pa.Array], batch: DocBatch) -> pa.Table:
    return pa.table({"id": batch.column("id"), **columns})


def _result_table(res: GateResult, batch: DocBatch) -> tuple[pa.Table, list[str]]:
    cols: dict[str, Any] = {"id": batch.column("id"), **res.columns}
    for j in range(res.fails.shape[1]):
        cols[f"_fail_{j}"] = pa.array(res.fails[:, j], pa.bool_())
    if res.band is not None:
        cols["_band"] = pa.array(np.asarray(res.band, dtype=np.int16), pa.int16())
    return pa.table(cols), list(res.reason_names)


def _result_from_table(table: pa.Table, reasons: list[str]) -> GateResult:
    fails = np.stack(
        [table.column(f"_fail_{j}").to_numpy(zero_copy_only=False) for j in range(len(reasons))], axis=1
    ) if reasons else np.zeros((table.num_rows, 0), dtype=bool)
    band = table.column("_band").to_numpy() if "_band" in table.column_names else None
    cols = {n: table.column(n).combine_chunks() for n in table.column_names
            if n != "id" and not n.startswith("_fail_") and n != "_band"}
    return GateResult(cols, fails.astype(bool), reasons, band)


def _merge(stored: pa.Table | None, pos: np.ndarray, hit: np.ndarray, new: pa.Table | None, miss: np.ndarray) -> pa.Table:
    """Rows in batch order: stored rows where `hit`, newly computed rows where not."""
    if new is None:
        return stored.take(pa.array(pos))  # type: ignore[union-attr]
    if stored is None or not hit.any():
        return new
    old = stored.select(new.column_names).take(pa.array(pos[hit]))
    both = pa.concat_tables([old, new.cast(old.schema)])
    order = np.empty(len(hit), dtype=np.int64)
    order[np.flatnonzero(hit)] = np.arange(hit.sum())
    order[miss] = hit.sum() + np.arange(len(miss))
    return both.take(pa.array(order))
