"""The one function that runs gates on a unit: used by `run`, `dry-run` and local dedup.

Each gate sees only the rows still alive; its score columns are scattered back onto the
whole unit (nulls where it did not run), failures set the tier, stage and reasons.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pyarrow as pa

from codesieve.core import cputime
from codesieve.core.base import Gate, GateResult, UnitContext
from codesieve.core.batch import DocBatch
from codesieve.pipeline.memo import Memo, apply_memoized
from codesieve.pipeline.tiers import UnitState, reason_lists


def new_gate_stats() -> dict[str, Any]:
    return {"rows_in": 0, "rows_failed": 0, "bytes_failed": 0, "reasons": {}, "seconds": 0.0}


def alive_batch(table: pa.Table, state: UnitState, alive: np.ndarray, text_column: str) -> DocBatch:
    """The rows at `alive`, with the columns earlier gates added (later gates read e.g. `lang`).
    When every row is alive the unit's columns are used as they are (no copy of the text)."""
    if len(alive) == table.num_rows:
        batch = DocBatch(table, text_column)
        for name, col in state.columns.items():
            batch = batch.with_column(name, col)
        return batch
    idx = pa.array(alive)
    batch = DocBatch(table.take(idx), text_column)
    for name, col in state.columns.items():
        batch = batch.with_column(name, col.take(idx))
    return batch


def run_gates(
    gates: list[tuple[int, Gate]],
    table: pa.Table,
    state: UnitState,
    ctx: UnitContext,
    stats: dict[str, Any],
    fields: dict[str, pa.DataType],
    active: list[str] | None = None,
    gate_dirs: dict[str, str] | None = None,
    memo: Memo | None = None,
    late: dict[int, list[Gate]] | None = None,
) -> None:
    """Run `gates` (tier index, gate) in order on the rows still alive in `state`.

    `active`: names of the gates that run (None: all); the others pass every row.
    `gate_dirs`: a global gate's folder, set as `ctx.gate_dir` while it applies.
    `memo`: stored per-row results to reuse (see `pipeline.memo`).
    `late`: `plan.late_points`: gates whose late columns are due before tier index K.
    """
    for tier, gate in gates:
        alive = np.flatnonzero(state.alive)
        st = stats.setdefault(gate.name, new_gate_stats())
        is_active = active is None or gate.name in active
        if not is_active or len(alive) == 0:
            if memo is not None:
                memo.upstream.append(memo.entry(gate, is_active))
            continue
        if late and not gate.is_global:  # a global reader got them before its prepare step
            add_late_columns(late.get(tier, []), table, state, ctx, fields, memo)
        t0 = time.perf_counter()
        with cputime.timed(f"gate:{gate.name}"):
            batch = alive_batch(table, state, alive, ctx.text_column)
            ctx.gate_dir = (gate_dirs or {}).get(gate.name, "")
            res = apply_memoized(gate, batch, ctx, memo)
        state.add_columns(res.columns, alive, fields)
        failed = ~res.passed
        pos = alive[failed]
        if len(pos):
            reasons = reason_lists(res.fails[failed], res.reason_names)
            state.fail(pos, tier, pa.array([gate.name] * len(pos), pa.string()), reasons)
        if res.band is not None:
            state.band[alive] = np.asarray(res.band, dtype=np.int16)
        _count(st, res, batch, failed, len(alive), len(pos))
        st["seconds"] += time.perf_counter() - t0


class _Late(Gate):
    """A gate's late columns as a per-row gate of its own, so `Memo` can store them."""

    def __init__(self, gate: Gate):
        super().__init__(gate.params)
        self.gate = gate
        self.name = f"{gate.name}.late"  # type: ignore[misc]

    def output_fields(self) -> list[pa.Field]:
        names = set(self.gate.late_fields())
        return [f for f in self.gate.output_fields() if f.name in names]

    def apply(self, batch: DocBatch, ctx: UnitContext) -> GateResult:
        return GateResult(self.gate.late_columns(batch, ctx), np.zeros((batch.num_rows, 0), dtype=bool), [])

    def measure_key(self) -> Any:
        return self.gate.measure_key()

    def fingerprint(self) -> dict[str, Any]:
        return self.gate.fingerprint()


def add_late_columns(
    gates: list[Gate], table: pa.Table, state: UnitState, ctx: UnitContext,
    fields: dict[str, pa.DataType], memo: Memo | None = None,
) -> None:
    """Compute `gates`' late columns (`Gate.late_fields`) on the rows still alive."""
    alive = np.flatnonzero(state.alive)
    for gate in gates if len(alive) else []:
        with cputime.timed(f"late:{gate.name}"):
            batch = alive_batch(table, state, alive, ctx.text_column)
            res = apply_memoized(_Late(gate), batch, ctx, memo)
        state.add_columns(res.columns, alive, fields)


def _count(st: dict[str, Any], res: Any, batch: DocBatch, failed: np.ndarray, n_in: int, n_failed: int) -> None:
    st["rows_in"] += n_in
    st["rows_failed"] += n_failed
    if n_failed:
        st["bytes_failed"] += int(batch.byte_len[failed].sum())
    counts = res.fails.sum(axis=0) if res.fails.size else []
    for name, c in zip(res.reason_names, counts):
        if c:
            st["reasons"][name] = st["reasons"].get(name, 0) + int(c)


def merge_gate_stats(parts: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in parts:
        for gate, st in part.items():
            o = out.setdefault(gate, new_gate_stats())
            for k in ("rows_in", "rows_failed", "bytes_failed", "seconds"):
                o[k] += st[k]
            for r, c in st["reasons"].items():
                o["reasons"][r] = o["reasons"].get(r, 0) + c
    return out
