"""Assembling per-row outcomes: tiers, stage_failed, reasons and score columns.

Gates see only survivors; their columns are scattered back onto the whole unit with
nulls for rows that never reached them. Everything here is Arrow/numpy, no row loops.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# `tier` is int32 in files so that Hive partition discovery (`tier=K/` folders, int32)
# and the column agree in pyarrow, polars, duckdb and HF datasets.
STATE_FIELDS = [
    pa.field("tier", pa.int32()),
    pa.field("stage_failed", pa.string()),
    pa.field("reasons", pa.list_(pa.string())),
]
TIER_NAME_FIELD = pa.field("tier_name", pa.string())
BAND_FIELD = pa.field("_band", pa.int16())  # work files only


def scatter(values: pa.Array, positions: np.ndarray, n: int, type_: pa.DataType | None = None) -> pa.Array:
    """A length-n array holding `values` at `positions` and nulls elsewhere."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if type_ is not None and values.type != type_:
        values = values.cast(type_)
    idx = np.full(n, len(values), dtype=np.int64)
    idx[positions] = np.arange(len(values), dtype=np.int64)
    ext = pa.concat_arrays([values, pa.nulls(1, values.type)])
    return ext.take(pa.array(idx))


def reason_lists(fails: np.ndarray, names: list[str]) -> pa.ListArray:
    """One list of failed check names per row (in config order) from a (n, k) bool matrix."""
    n = fails.shape[0]
    rows, cols = np.nonzero(fails)
    counts = np.bincount(rows, minlength=n)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    values = pa.array(names, pa.string()).take(pa.array(cols, pa.int64())) if len(names) else pa.array([], pa.string())
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values)


class UnitState:
    """Outcome so far of every row of one unit."""

    def __init__(self, n: int):
        self.n = n
        self.tier = np.full(n, -1, dtype=np.int16)  # -1: still alive
        self.band = np.zeros(n, dtype=np.int16)  # the last gate's band, for rows passing it
        self._stage_parts: list[tuple[np.ndarray, pa.Array]] = []
        self._reason_parts: list[tuple[np.ndarray, pa.Array]] = []
        self.columns: dict[str, pa.Array] = {}

    @property
    def alive(self) -> np.ndarray:
        return self.tier < 0

    def fail(self, positions: np.ndarray, tier: int, stage: pa.Array, reasons: pa.ListArray) -> None:
        """Record that rows at `positions` failed at `tier` (stage/reasons aligned with them)."""
        if len(positions) == 0:
            return
        self.tier[positions] = tier
        self._stage_parts.append((positions, stage))
        self._reason_parts.append((positions, reasons))

    def add_columns(self, columns: dict[str, pa.Array], positions: np.ndarray, fields: dict[str, pa.DataType]) -> None:
        for name, values in columns.items():
            self.columns[name] = scatter(values, positions, self.n, fields.get(name))

    def _assemble(self, parts: list[tuple[np.ndarray, pa.Array]], type_: pa.DataType) -> pa.Array:
        if not parts:
            return pa.nulls(self.n, type_)
        values = pa.concat_arrays([v.cast(type_) for _, v in parts])
        positions = np.concatenate([p for p, _ in parts])
        return scatter(values, positions, self.n)

    def stage_failed(self) -> pa.Array:
        return self._assemble(self._stage_parts, pa.string())

    def reasons(self) -> pa.Array:
        arr = self._assemble(self._reason_parts, pa.list_(pa.string()))
        return pc.if_else(pc.is_null(arr), pa.scalar([], pa.list_(pa.string())), arr) if arr.null_count else arr

    def to_table(self, table: pa.Table) -> pa.Table:
        """`table` plus this state (tier null while alive), saved between passes."""
        out = table.append_column(STATE_FIELDS[0], pa.array(self.tier, pa.int32(), mask=self.tier < 0))
        out = out.append_column(STATE_FIELDS[1], self.stage_failed())
        out = out.append_column(STATE_FIELDS[2], self.reasons())
        out = out.append_column(BAND_FIELD, pa.array(self.band, pa.int16()))
        for name, col in self.columns.items():
            out = out.append_column(name, col)
        return out

    @classmethod
    def from_table(cls, table: pa.Table, score_columns: list[str]) -> tuple[pa.Table, UnitState]:
        """Split a table saved by `to_table` into (input columns, state)."""
        st = cls(table.num_rows)
        tier = table.column("tier").combine_chunks()
        st.tier = pc.fill_null(tier, -1).to_numpy(zero_copy_only=False).astype(np.int16)
        st.band = table.column(BAND_FIELD.name).to_numpy().astype(np.int16)
        done = np.flatnonzero(st.tier >= 0)
        if len(done):
            idx = pa.array(done)
            st._stage_parts.append((done, table.column("stage_failed").combine_chunks().take(idx)))
            st._reason_parts.append((done, table.column("reasons").combine_chunks().take(idx)))
        saved = [n for n in score_columns if n in table.column_names]
        for name in saved:
            st.columns[name] = table.column(name).combine_chunks()
        own = [f.name for f in STATE_FIELDS] + [BAND_FIELD.name] + saved
        return table.drop_columns(own), st
