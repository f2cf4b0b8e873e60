"""DocBatch: one Arrow batch of documents plus lazily computed, shared column features.

Rules and scorers read features from here (line lengths, extensions, ...) so each is
computed once per batch, vectorized with pyarrow.compute and numpy.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def _combine(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        return arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    return arr


class DocBatch:
    """Documents of one work unit (or the survivors of earlier gates).

    `table` holds the input columns plus annotations made so far (`lang`, ...).
    The text column is never null here: bad rows are quarantined before gates run.
    """

    def __init__(self, table: pa.Table, text_column: str = "content"):
        self.table = table
        self.text_column = text_column

    def __len__(self) -> int:
        return self.table.num_rows

    @property
    def num_rows(self) -> int:
        return self.table.num_rows

    def column(self, name: str) -> pa.Array | None:
        """A column as one Arrow array, or None if the batch has no such column."""
        if name not in self.table.column_names:
            return None
        return _combine(self.table.column(name))

    def take(self, mask: np.ndarray) -> DocBatch:
        """The sub-batch of rows where `mask` is true."""
        return DocBatch(self.table.filter(pa.array(mask, type=pa.bool_())), self.text_column)

    def with_column(self, name: str, values: pa.Array) -> DocBatch:
        table = self.table
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, values)
        else:
            table = table.append_column(name, values)
        return DocBatch(table, self.text_column)

    # --- text features ------------------------------------------------------------

    @cached_property
    def text(self) -> pa.Array:
        """The text column as one (large_)string array."""
        return _combine(self.table.column(self.text_column))

    @cached_property
    def char_len(self) -> np.ndarray:
        """Length of each document in Unicode code points (int64)."""
        return pc.utf8_length(self.text).to_numpy(zero_copy_only=False).astype(np.int64)

    @cached_property
    def byte_len(self) -> np.ndarray:
        """Length of each document in UTF-8 bytes (int64)."""
        return pc.binary_length(self.text).to_numpy(zero_copy_only=False).astype(np.int64)

    @cached_property
    def lines(self) -> pa.ListArray:
        """Each document split on '\\n' (a trailing newline gives a final empty line)."""
        return pc.split_pattern(self.text, "\n")

    @cached_property
    def line_offsets(self) -> np.ndarray:
        """Offsets into the flat line arrays: document i owns lines [off[i], off[i+1])."""
        lines = self.lines
        off = lines.offsets.to_numpy()
        return (off - off[0]).astype(np.int64)

    @cached_property
    def flat_lines(self) -> pa.Array:
        return self.lines.flatten()

    @cached_property
    def line_len(self) -> np.ndarray:
        """Length in code points of every line of every document, flattened."""
        return pc.utf8_length(self.flat_lines).to_numpy(zero_copy_only=False).astype(np.int64)

    @cached_property
    def num_lines(self) -> np.ndarray:
        """Number of lines per document, not counting the empty piece after a final newline."""
        counts = np.diff(self.line_offsets)
        ends_nl = pc.ends_with(self.text, "\n").to_numpy(zero_copy_only=False)
        return counts - (ends_nl & (counts > 1))

    def per_doc(self, flat: np.ndarray, reducer: np.ufunc, empty: float = 0.0) -> np.ndarray:
        """Reduce a flat per-line array to one value per document (e.g. np.maximum)."""
        return segment_reduce(flat, self.line_offsets, reducer, empty)

    # --- path features -------------------------------------------------------------

    @cached_property
    def path(self) -> pa.Array:
        """The `path` column, or nulls when the input has none."""
        col = self.column("path")
        if col is None:
            return pa.nulls(self.num_rows, pa.string())
        return col.cast(pa.string())

    @cached_property
    def filename(self) -> pa.Array:
        """Last path component, lower-cased is *not* applied (Makefile vs makefile matter)."""
        return pc.replace_substring_regex(self.path, r"^.*/", "")

    @cached_property
    def extension(self) -> pa.Array:
        """Lower-cased extension without the dot ('' when none)."""
        ext = pc.extract_regex(self.filename, r"\.(?P<ext>[^./]+)$")
        return pc.fill_null(pc.utf8_lower(pc.struct_field(ext, [0])), "")

    @cached_property
    def lang(self) -> pa.Array:
        """Programming language per document (`lang` column, from the language gate or input)."""
        col = self.column("lang")
        if col is None:
            return pa.nulls(self.num_rows, pa.string())
        return col.cast(pa.string())


def segment_reduce(
    flat: np.ndarray, offsets: np.ndarray, reducer: np.ufunc, empty: float = 0.0
) -> np.ndarray:
    """Reduce `flat` over segments [offsets[i], offsets[i+1]); empty segments get `empty`."""
    n = len(offsets) - 1
    out = np.full(n, empty, dtype=np.float64 if flat.dtype.kind == "f" else flat.dtype)
    if n == 0 or len(flat) == 0:
        return out
    starts = offsets[:-1]
    nonempty = offsets[1:] > starts
    if nonempty.any():
        out[nonempty] = reducer.reduceat(flat, starts[nonempty])
    return out
