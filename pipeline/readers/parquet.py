"""Parquet input: units are runs of row groups (merged up to `unit_rows`) or slices of one
big row group; the row key of a row is its index in the file."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from codesieve.core.atomic import TASK_READ
from codesieve.core.errors import InputError
from codesieve.core.registry import register_reader
from codesieve.pipeline.readers.base import Reader, RowErrors, SourceFile, Unit, open_input

TEXT_TYPES = (pa.string(), pa.large_string(), pa.binary(), pa.large_binary())


def parquet_file(file: SourceFile) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(open_input(file))
    except Exception as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{file.rel}: not a readable Parquet file ({msg})") from None


def check_text_type(file: SourceFile, schema: pa.Schema, text_column: str) -> None:
    if text_column not in schema.names:
        raise InputError(
            f"{file.rel}: missing text column {text_column!r} (columns: {', '.join(schema.names)};"
            " set input.text_column in the config)"
        )
    t = schema.field(text_column).type
    if t not in TEXT_TYPES:
        raise InputError(f"{file.rel}: column {text_column!r} has type {t}, expected string")


@register_reader("parquet")
class ParquetReader(Reader):
    """Apache Parquet files (any compression)."""

    suffixes = (".parquet",)

    def plan(self, file: SourceFile, text_column: str, unit_rows: int, unit_bytes: int) -> Iterator[Unit]:
        # span = (first row in file, row start, row stop inside the groups, *row groups)
        if file.size == 0:
            return  # an empty shard: no rows
        pf = parquet_file(file)
        check_text_type(file, pf.schema_arrow, text_column)
        md = pf.metadata
        group: list[int] = []
        rows = start = 0
        for rg in range(md.num_row_groups):
            n = md.row_group(rg).num_rows
            if n > 2 * unit_rows:  # one big row group: several slices of it
                if group:
                    yield Unit(0, file, (start, 0, rows, *group), rows)
                    start, group, rows = start + rows, [], 0
                for s in range(0, n, unit_rows):
                    e = min(s + unit_rows, n)
                    yield Unit(0, file, (start + s, s, e, rg), e - s)
                start += n
                continue
            group.append(rg)
            rows += n
            if rows >= unit_rows:
                yield Unit(0, file, (start, 0, rows, *group), rows)
                start, group, rows = start + rows, [], 0
        if group:
            yield Unit(0, file, (start, 0, rows, *group), rows)

    def read(self, unit: Unit, text_column: str) -> tuple[pa.Table, np.ndarray, RowErrors]:
        first, row_start, row_stop, *groups = unit.span
        pf = parquet_file(unit.file)
        try:
            table = pf.read_row_groups(groups, **TASK_READ)
        except Exception as exc:
            raise InputError(f"{unit.file.rel}: cannot read row groups {groups} ({exc})") from None
        table = table.slice(row_start, unit.limited(row_stop - row_start))
        keys = np.arange(first, first + table.num_rows, dtype=np.int64)
        return table, keys, [None] * table.num_rows
