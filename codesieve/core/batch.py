"""DocBatch: one Arrow batch of documents plus lazily computed, shared column features.

Rules and scorers read features from here (line lengths, extensions, ...) so each is
computed once per batch, vectorized with pyarrow.compute and numpy.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

try:
    from codesieve.core import _kernels  # compiled by `pip install -e .` (setup.py); optional
except ImportError:  # pragma: no cover - a build without a C compiler
    _kernels = None


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
        """Each document split on '\\n' (a trailing newline gives a final empty line).

        Same array as `pc.split_pattern(text, "\\n")` (type, offsets, bytes), cut by the
        compiled `line_split` (memchr + one copy of the text); `split_lines_arrow` is the
        reference (tests/test_kernels_text.py)."""
        if _kernels is None or self.text.null_count:
            return split_lines_arrow(self.text)
        lines, chars = split_lines(self.text)
        self.__dict__["_line_chars"] = chars  # `line_len` for free
        return lines

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
        """Length in code points of every line of every document, flattened (int64)."""
        flat = self.flat_lines
        if "_line_chars" in self.__dict__:  # counted by the kernel that split the lines
            return self.__dict__.pop("_line_chars")
        return pc.utf8_length(flat).to_numpy(zero_copy_only=False).astype(np.int64)

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


def string_buffers(strings: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(data buffer as uint8, int64 offsets into it) of a (large_)string or (large_)binary
    array without nulls, without copying the data."""
    t = strings.type
    width = np.int64 if pa.types.is_large_string(t) or pa.types.is_large_binary(t) else np.int32
    _, off_buf, data_buf = strings.buffers()
    off = np.frombuffer(off_buf, dtype=width)[strings.offset : strings.offset + len(strings) + 1].astype(np.int64)
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(1, np.uint8)
    return data, off


def split_lines_arrow(text: pa.Array) -> pa.ListArray:
    """Reference for `split_lines`: Arrow's split on '\\n'."""
    return pc.split_pattern(text, "\n")


def split_lines(text: pa.Array) -> tuple[pa.ListArray, np.ndarray]:
    """`text` (a (large_)string array without nulls) split on '\\n' by the compiled kernel:
    (a list<same string type> array equal to `split_lines_arrow(text)`, the code points of
    every line, flattened: Arrow's `utf8_length` of the pieces)."""
    data, off = string_buffers(text)
    newlines = np.empty(len(text), np.int64)
    _kernels.byte_counts(data, off, 10, newlines)
    doc_off = np.zeros(len(text) + 1, np.int64)
    np.cumsum(newlines + 1, out=doc_off[1:])
    size = int(off[-1] - off[0] - newlines.sum())
    out = np.empty(size + 8, np.uint8)  # 8 bytes of slack for the kernel's word copies
    line_off, chars = np.empty(int(doc_off[-1]) + 1, np.int64), np.empty(int(doc_off[-1]), np.int64)
    _kernels.line_split(data, off, out, line_off, chars)
    out = out[:size]
    large = pa.types.is_large_string(text.type)
    if not large and len(out) >= 2**31:  # pragma: no cover - a > 2 GB batch of `string`
        lines = split_lines_arrow(text)
        return lines, pc.utf8_length(lines.flatten()).to_numpy(zero_copy_only=False).astype(np.int64)
    flat = pa.Array.from_buffers(
        text.type, len(line_off) - 1,
        [None, pa.py_buffer(line_off if large else line_off.astype(np.int32)), pa.py_buffer(out)],
    )
    return pa.ListArray.from_arrays(pa.array(doc_off.astype(np.int32), pa.int32()), flat), chars


def utf8_prefix(text: pa.Array | pa.ChunkedArray, n_chars: int) -> pa.Array:
    """The first `n_chars` code points of each string: the strings of Arrow's
    `utf8_slice_codeunits(text, 0, n_chars)` (the reference, which walks every string; that
    keeps the input type, this gives large_string), cut at byte lengths from the compiled
    `utf8_prefix_bytes` and copied once."""
    text = _combine(text)
    if _kernels is None or text.null_count or n_chars < 0:
        return pc.utf8_slice_codeunits(text, 0, n_chars)
    data, off = string_buffers(text)
    nbytes = np.empty(len(text), np.int64)
    _kernels.utf8_prefix_bytes(data, off, n_chars, nbytes)
    return prefix_slices(text, nbytes)


def prefix_slices(text: pa.Array, nbytes: np.ndarray) -> pa.Array:
    """large_string array of the first `nbytes[i]` bytes of each (null-free) string: views of
    the text buffer cut into (prefix, rest) pieces, then one `take` of the prefixes."""
    _, off = string_buffers(text)
    bounds = np.empty(2 * len(text) + 1, np.int64)  # prefix_0, rest_0, prefix_1, rest_1, ...
    bounds[0:-1:2], bounds[1:-1:2], bounds[-1] = off[:-1], off[:-1] + nbytes, off[-1]
    data = text.buffers()[2] or pa.py_buffer(b"")
    pieces = pa.Array.from_buffers(pa.large_string(), len(bounds) - 1, [None, pa.py_buffer(bounds), data])
    return pieces.take(pa.array(np.arange(0, len(bounds) - 1, 2, dtype=np.int64)))
