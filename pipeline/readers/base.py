"""The reader interface: one class per input format.

A reader plans a file into bounded work units (`plan`) and reads one unit (`read`). A unit
holds at most about `unit_rows` rows (or `unit_bytes` of an uncompressed text file), so a
worker's memory is bounded by the unit, never by the size of the file. Readers register by
name (`@register_reader("jsonl")`) with the file suffixes they take; `input.formats` in a
config maps further suffixes to a reader.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs

from codesieve.core.errors import UserError

#: one error name per row (None: the row read fine); see io.QUARANTINE_REASONS
RowErrors = list[str | None]


@dataclass(frozen=True)
class SourceFile:
    uri: str  # what to open: a local path or a URI with scheme
    rel: str  # name relative to the input root: used in ids and messages
    kind: str  # the reader's name: parquet | jsonl | jsonl.gz | jsonl.zst | ...
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Unit:
    """One task's worth of input: `span` is the reader's own description of which part of
    `file` (row range and row groups of a Parquet file, a byte range of a JSONL file, a
    line range of a compressed one); `num_rows` is known for row-addressed spans."""

    index: int
    file: SourceFile
    span: tuple[int, ...] = ()
    num_rows: int | None = None
    max_rows: int = -1  # --limit-rows cut (-1: no cut)
    extra: tuple[Unit, ...] = ()  # further small units read by the same task (see io.plan_units)

    def parts(self) -> tuple[Unit, ...]:
        """This unit and the small ones grouped with it, each read by its own reader."""
        return (self, *self.extra) if self.extra else (self,)

    def describe(self) -> dict:
        return asdict(self)

    def limited(self, n: int) -> int:
        """How many of `n` rows this unit keeps under its --limit-rows cut."""
        return n if self.max_rows < 0 else min(n, self.max_rows)


def filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    """(filesystem, path inside it) for a local path or a URI."""
    import os

    if "://" in uri:
        try:
            return pafs.FileSystem.from_uri(uri)
        except Exception as exc:
            raise UserError(f"--input {uri}: cannot open ({exc})") from None
    return pafs.LocalFileSystem(), os.path.abspath(uri)


def open_input(file: SourceFile) -> pafs.NativeFile:
    fs, path = filesystem(file.uri)
    return fs.open_input_file(path.split("?", 1)[0])


class Reader:
    """Plans and reads one input format. Subclasses set `suffixes` and implement both methods."""

    name: ClassVar[str]
    suffixes: ClassVar[tuple[str, ...]] = ()

    def plan(self, file: SourceFile, text_column: str, unit_rows: int, unit_bytes: int) -> Iterator[Unit]:
        """Yield the units of `file` in order (`index` is renumbered by the caller)."""
        raise NotImplementedError

    def read(self, unit: Unit, text_column: str) -> tuple[pa.Table, np.ndarray, RowErrors]:
        """(rows, one stable row key per row for ids, per-row read errors)."""
        raise NotImplementedError

    def count_rows(self, unit: Unit, text_column: str) -> int:
        """Rows in `unit` (for --limit-rows); readers with `num_rows` on units need not override."""
        if unit.num_rows is not None:
            return unit.num_rows
        return self.read(unit, text_column)[0].num_rows
