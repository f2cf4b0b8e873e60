"""Example: an input format in one file: CSV files with a header row, streamed in units of
`unit_rows` rows. Config: `plugins: [csv_reader.py]` (files ending in `.csv` are then read)."""

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from codesieve.core.registry import register_reader
from codesieve.pipeline.readers import Reader, SourceFile, Unit, open_input


@register_reader("csv")
class CsvReader(Reader):
    """Comma-separated values with a header; the row key is the row's index in the file."""

    suffixes = (".csv",)

    def _batches(self, file: SourceFile, text_column: str) -> Iterator[pa.RecordBatch]:
        convert = pacsv.ConvertOptions(column_types={text_column: pa.large_string()})
        parse = pacsv.ParseOptions(newlines_in_values=True)  # documents span lines
        yield from pacsv.open_csv(open_input(file), parse_options=parse, convert_options=convert)

    def plan(self, file: SourceFile, text_column: str, unit_rows: int, unit_bytes: int) -> Iterator[Unit]:
        total = sum(b.num_rows for b in self._batches(file, text_column))
        for start in range(0, total, unit_rows):
            yield Unit(0, file, (start, min(start + unit_rows, total)), min(unit_rows, total - start))

    def read(self, unit: Unit, text_column: str) -> tuple[pa.Table, np.ndarray, list]:
        start, stop = unit.span
        stop = start + unit.limited(stop - start)
        parts, seen = [], 0
        for b in self._batches(unit.file, text_column):
            lo, hi = max(start - seen, 0), min(stop - seen, b.num_rows)
            if hi > lo:
                parts.append(b.slice(lo, hi - lo))
            seen += b.num_rows
            if seen >= stop:
                break
        table = pa.Table.from_batches(parts) if parts else pa.table({text_column: pa.array([], pa.large_string())})
        return table, np.arange(start, start + table.num_rows, dtype=np.int64), [None] * table.num_rows
