"""JSON Lines input, plain or compressed (gzip, zstd).

Plain files are split into line-aligned byte ranges of `unit_bytes` (a unit owns the lines
that start inside its range; the row key is the line's byte offset). Compressed files are
streamed: planning decompresses once to find the line and byte offsets of every `unit_rows`
lines, and a unit is read by streaming past its start, so a worker holds one unit, never the
whole file (the row key is the line number).
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from typing import IO

import numpy as np
import pyarrow as pa
import pyarrow.json as pajson

from codesieve.core.errors import InputError
from codesieve.core.registry import register_reader
from codesieve.pipeline.readers.base import Reader, RowErrors, SourceFile, Unit, open_input
from codesieve.pipeline.readers.jsondepth import max_depth

#: deeper JSON nesting than this is quarantined (`json_too_deep`): readers and Parquet
#: recurse per level
MAX_DEPTH = 64

CHUNK = 1 << 20


@register_reader("jsonl")
class JsonlReader(Reader):
    """Uncompressed JSON Lines: one JSON object per line."""

    suffixes = (".jsonl", ".ndjson")

    def plan(self, file: SourceFile, text_column: str, unit_rows: int, unit_bytes: int) -> Iterator[Unit]:
        for s in range(0, max(file.size, 1), unit_bytes):
            yield Unit(0, file, (s, min(s + unit_bytes, file.size)))

    def read(self, unit: Unit, text_column: str) -> tuple[pa.Table, np.ndarray, RowErrors]:
        data, base = self._block(unit)
        lines, offsets = _split_lines(data)
        keep = [i for i, line in enumerate(lines) if line.strip()]
        if unit.max_rows >= 0:
            keep = keep[: unit.max_rows]
        return parse_lines([lines[i] for i in keep], offsets[keep] + base, unit.file, text_column)

    def count_rows(self, unit: Unit, text_column: str) -> int:
        data, _ = self._block(unit)
        ends, nonblank = line_ends(data)
        tail = data[int(ends[-1]) + 1 if len(ends) else 0 :]
        return int(nonblank.sum()) + bool(tail.strip())

    @staticmethod
    def _block(unit: Unit) -> tuple[bytes, int]:
        """The bytes of the lines that start inside the unit's range, and their file offset."""
        start, stop = unit.span
        with open_input(unit.file) as fh:
            if start > 0:  # the line containing byte start-1 belongs to the previous unit
                fh.seek(start - 1)
                skip = _bytes_to_newline(fh)
                if skip < 0:
                    return b"", start
                start = start - 1 + skip
            if start >= stop:
                return b"", start
            fh.seek(start)
            data = fh.read(stop - start)
            if data and not data.endswith(b"\n"):
                rest = fh.read(CHUNK)
                while rest:
                    nl = rest.find(b"\n")
                    if nl >= 0:
                        data += rest[: nl + 1]
                        break
                    data += rest
                    rest = fh.read(CHUNK)
            return data, start


def _bytes_to_newline(fh: IO[bytes]) -> int:
    """Bytes up to and including the next newline (-1: none before the end)."""
    skip = 0
    while True:
        chunk = fh.read(1 << 16)
        if not chunk:
            return -1
        nl = chunk.find(b"\n")
        if nl >= 0:
            return skip + nl + 1
        skip += len(chunk)


class _CompressedJsonl(Reader):
    """Streamed compressed JSON Lines; subclasses give the decompressing stream."""

    def stream(self, raw: IO[bytes], file: SourceFile) -> IO[bytes]:
        raise NotImplementedError

    def _open(self, file: SourceFile) -> tuple[IO[bytes], IO[bytes]]:
        raw = open_input(file)
        return raw, self.stream(raw, file)

    def plan(self, file: SourceFile, text_column: str, unit_rows: int, unit_bytes: int) -> Iterator[Unit]:
        # span = (first line number, decompressed byte start, decompressed byte stop)
        raw, fh = self._open(file)
        try:
            line, pos, start, start_line, rows, tail = 0, 0, 0, 0, 0, b""
            while True:
                chunk = _checked_read(fh, file, CHUNK)
                if not chunk:
                    break
                data = tail + chunk
                cut = data.rfind(b"\n") + 1
                ends, nonblank = line_ends(data[:cut])
                # a unit closes at each non-blank line that brings its rows to unit_rows
                seen = rows + np.cumsum(nonblank)
                for k in np.flatnonzero(nonblank & (seen % unit_rows == 0)).tolist():
                    end = pos + int(ends[k]) + 1
                    yield Unit(0, file, (start_line, start, end), unit_rows)
                    start, start_line = end, line + k + 1
                rows = int(seen[-1] % unit_rows) if len(seen) else rows
                line += len(ends)
                pos += cut
                tail = data[cut:]
            if tail:
                pos += len(tail)
                rows += bool(tail.strip())
            if rows or pos > start:
                yield Unit(0, file, (start_line, start, pos), rows)
        finally:
            raw.close()

    def read(self, unit: Unit, text_column: str) -> tuple[pa.Table, np.ndarray, RowErrors]:
        first_line, start, stop = unit.span
        raw, fh = self._open(unit.file)
        try:
            left = start
            while left > 0:
                got = _checked_read(fh, unit.file, min(left, CHUNK))
                if not got:
                    break
                left -= len(got)
            data = _checked_read(fh, unit.file, stop - start)
        finally:
            raw.close()
        lines, _ = _split_lines(data)
        keep = [i for i, line in enumerate(lines) if line.strip()]
        if unit.max_rows >= 0:
            keep = keep[: unit.max_rows]
        keys = np.asarray(keep, dtype=np.int64) + first_line
        return parse_lines([lines[i] for i in keep], keys, unit.file, text_column)


def _checked_read(fh: IO[bytes], file: SourceFile, n: int = CHUNK) -> bytes:
    try:
        return fh.read(n)
    except Exception as exc:
        raise InputError(f"{file.rel}: cannot decompress ({exc})") from None


@register_reader("jsonl.gz")
class GzipJsonlReader(_CompressedJsonl):
    """gzip-compressed JSON Lines, streamed."""

    suffixes = (".jsonl.gz", ".ndjson.gz")

    def stream(self, raw: IO[bytes], file: SourceFile) -> IO[bytes]:
        return gzip.GzipFile(fileobj=raw, mode="rb")


@register_reader("jsonl.zst")
class ZstdJsonlReader(_CompressedJsonl):
    """zstd-compressed JSON Lines, streamed."""

    suffixes = (".jsonl.zst", ".ndjson.zst")

    def stream(self, raw: IO[bytes], file: SourceFile) -> IO[bytes]:
        import zstandard

        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True))


_BLANK = np.zeros(256, dtype=bool)
_BLANK[list(b" \t\n\r\x0b\x0c")] = True  # what bytes.strip() removes


def line_ends(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(offset of every b"\\n" in `data`, bool per line ending there: it has a byte that
    `bytes.strip()` keeps), with numpy: no per-line Python."""
    arr = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(arr == 10)
    kept = np.concatenate([[0], np.cumsum(~_BLANK[arr], dtype=np.int64)])
    starts = np.concatenate([[0], ends[:-1] + 1]).astype(np.int64)
    return ends, kept[ends] > kept[starts]


def _split_lines(data: bytes) -> tuple[list[bytes], np.ndarray]:
    lines = data.split(b"\n")
    offsets = np.zeros(len(lines), dtype=np.int64)
    if lines:
        offsets[1:] = np.cumsum([len(x) + 1 for x in lines[:-1]])
    return lines, offsets


def parse_lines(lines: list[bytes], keys: np.ndarray, file: SourceFile, text_column: str) -> tuple[pa.Table, np.ndarray, RowErrors]:
    """Rows of JSON lines: Arrow's JSON reader, or line by line when a line is bad.

    Lines nested deeper than MAX_DEPTH never reach a JSON parser (see `jsondepth`)."""
    deep = max_depth(lines, MAX_DEPTH) > MAX_DEPTH
    if deep.any():
        return _parse_slowly(lines, keys, file, text_column, deep)
    block = b"\n".join(lines)
    schema = pa.schema([(text_column, pa.large_string())])
    try:
        table = pajson.read_json(
            pa.BufferReader(block),
            # one block, parsed on this thread (see `codesieve.core.atomic.TASK_READ`)
            read_options=pajson.ReadOptions(use_threads=False, block_size=max(len(block) + 1, 1 << 20)),
            parse_options=pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer"),
        )
        if table.num_rows == len(lines):
            if text_column not in table.column_names:
                raise InputError(f"{file.rel}: missing text column {text_column!r} in every row")
            return table, keys, [None] * len(lines)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        pass
    return _parse_slowly(lines, keys, file, text_column, deep)


def _parse_slowly(
    lines: list[bytes], keys: np.ndarray, file: SourceFile, text_column: str, deep: np.ndarray
) -> tuple[pa.Table, np.ndarray, RowErrors]:
    """Line by line, only for a unit that has a bad line."""
    parsed = [
        ({text_column: line[:4096].decode("utf-8", "replace")}, "json_too_deep") if too_deep
        else _parse_line(line, text_column)
        for line, too_deep in zip(lines, deep)
    ]
    rows, errors = zip(*parsed) if parsed else ((), ())
    if rows and not any(text_column in r for r in rows):
        raise InputError(f"{file.rel}: missing text column {text_column!r} in every row")
    table = _rows_table(list(rows), text_column)
    return table, keys, list(errors)


def _parse_line(line: bytes, text_column: str) -> tuple[dict, str | None]:
    """One line of the slow path: the row and its error (None: fine)."""
    try:
        obj = json.loads(line)
        if not isinstance(obj, dict):
            raise ValueError("not an object")
        error = None
        if not _encodable(obj):  # lone surrogates (`\ud800`): not text in any encoding
            obj, error = _fix_surrogates(obj), "invalid_utf8"
        if text_column in obj and obj[text_column] is not None and not isinstance(obj[text_column], str):
            return {**obj, text_column: None}, "text_not_string"
        return obj, error
    except RecursionError:
        return {text_column: line[:4096].decode("utf-8", "replace")}, "json_too_deep"
    except UnicodeDecodeError:
        try:  # keep the row's other fields; the text gets U+FFFD for the bad bytes
            obj = json.loads(line.decode("utf-8", "replace"))
            if isinstance(obj, dict):
                return obj, "invalid_utf8"
        except ValueError:
            pass
    except ValueError:
        pass
    return {text_column: line.decode("utf-8", "replace")}, "bad_json"


def _encodable(obj: object) -> bool:
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _fix_surrogates(obj: object) -> object:
    """Valid surrogate pairs joined, lone surrogates replaced by U+FFFD, at any depth."""
    if isinstance(obj, str):
        return obj.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(obj, list):
        return [_fix_surrogates(v) for v in obj]
    if isinstance(obj, dict):
        return {_fix_surrogates(k): _fix_surrogates(v) for k, v in obj.items()}  # type: ignore[misc]
    return obj


def _rows_table(rows: list[dict], text_column: str) -> pa.Table:
    """Rows as a table; a column whose values have different JSON types in different rows
    (e.g. `"stars": 5` and `"stars": "many"`) keeps every value as its JSON text, and only
    that column: the others keep their types."""
    try:
        table = pa.Table.from_pylist(rows)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        names = list(dict.fromkeys(k for r in rows for k in r))
        columns = {}
        for k in names:
            values = [r.get(k) for r in rows]
            try:
                columns[k] = pa.array(values)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                columns[k] = pa.array([None if v is None else json.dumps(v, ensure_ascii=False) for v in values],
                                      pa.large_string())
        table = pa.table(columns)
    if text_column not in table.column_names:
        table = table.append_column(text_column, pa.nulls(table.num_rows, pa.large_string()))
    return table
