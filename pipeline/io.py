"""Input discovery, work-unit planning, reading, row validation and atomic Parquet writes.

Inputs are Parquet or JSONL (`.jsonl`, `.jsonl.gz`, `.jsonl.zst`) files in a folder, a glob,
a single file, or a URI pyarrow's filesystems open (`s3://...`). Big files are split into
work units: Parquet by row groups, uncompressed JSONL by byte ranges aligned to lines.
"""

from __future__ import annotations

import fnmatch
import gzip
import io as _io
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.json as pajson
import pyarrow.parquet as pq
import xxhash

from codesieve.core.batch import DocBatch
from codesieve.core.errors import InputError, UserError

SUFFIXES = (".parquet", ".jsonl", ".jsonl.gz", ".jsonl.zst")
TEXT_TYPES = (pa.string(), pa.large_string(), pa.binary(), pa.large_binary())
#: reasons a single row is quarantined in tier 0 before any gate sees it
QUARANTINE_REASONS = ("bad_json", "text_not_string", "null_text", "invalid_utf8", "nul_byte", "too_large")


@dataclass(frozen=True)
class SourceFile:
    uri: str  # what to open: a local path or a URI with scheme
    rel: str  # name relative to the input root: used in ids and messages
    kind: str  # parquet | jsonl | jsonl.gz | jsonl.zst
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Unit:
    """One task's worth of input: rows [row_start, row_stop) of some row groups of a
    Parquet file, or lines starting in [byte_start, byte_stop) of a JSONL file."""

    index: int
    file: SourceFile
    row_groups: tuple[int, ...] = ()
    row_start: int = 0  # slice of the concatenated row groups (Parquet)
    row_stop: int = -1
    first_row: int = 0  # file-level index of the unit's first row (Parquet)
    byte_start: int = 0  # JSONL byte range
    byte_stop: int = -1
    max_rows: int = -1  # --limit-rows cut (-1: no cut)

    @property
    def num_rows(self) -> int | None:
        if self.file.kind == "parquet":
            n = self.row_stop - self.row_start
            return n if self.max_rows < 0 else min(n, self.max_rows)
        return None

    def describe(self) -> dict:
        d = asdict(self)
        d["file"] = asdict(self.file)
        return d


def _kind(name: str) -> str | None:
    for suf in SUFFIXES:
        if name.endswith(suf):
            return suf.lstrip(".")
    return None


def filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    """(filesystem, path inside it) for a local path or a URI."""
    if "://" in uri:
        try:
            return pafs.FileSystem.from_uri(uri)
        except Exception as exc:
            raise UserError(f"--input {uri}: cannot open ({exc})") from None
    return pafs.LocalFileSystem(), os.path.abspath(uri)


def _join_uri(uri: str, path: str) -> str:
    if "://" not in uri:
        return path
    scheme = uri.split("://", 1)[0]
    query = uri.split("?", 1)[1] if "?" in uri else ""
    return f"{scheme}://{path}" + (f"?{query}" if query else "")


def discover(input_path: str) -> list[SourceFile]:
    """All input files under a folder / matching a glob / the single file, sorted by name."""
    fs, path = filesystem(input_path)
    path = path.split("?", 1)[0]
    has_glob = any(c in path for c in "*?[")
    if has_glob:
        base = path[: min(path.index(c) for c in "*?[" if c in path)]
        base = base.rsplit("/", 1)[0] if "/" in base else ""
        infos = fs.get_file_info(pafs.FileSelector(base or "/", recursive=True, allow_not_found=True))
        infos = [i for i in infos if i.is_file and fnmatch.fnmatch(i.path, path)]
        root = base
    else:
        info = fs.get_file_info(path)
        if info.type == pafs.FileType.NotFound:
            raise UserError(f"--input {input_path}: no such file or directory")
        if info.type == pafs.FileType.Directory:
            infos = [i for i in fs.get_file_info(pafs.FileSelector(path, recursive=True)) if i.is_file]
            root = path
        else:
            infos = [info]
            root = path.rsplit("/", 1)[0] if "/" in path else ""
    files = []
    for i in sorted(infos, key=lambda i: i.path):
        rel = os.path.relpath(i.path, root) if root else i.path
        if any(part.startswith((".", "_")) for part in rel.split("/")):
            continue  # hidden files, _SUCCESS, a previous run's _work/
        kind = _kind(i.path)
        if kind is None:
            continue
        mtime = i.mtime_ns if i.mtime_ns is not None else 0
        files.append(SourceFile(_join_uri(input_path, i.path), rel, kind, i.size or 0, mtime))
    if not files:
        raise UserError(
            f"--input {input_path}: no input files ({', '.join('*' + s for s in SUFFIXES)})"
        )
    return files


def _open(file: SourceFile) -> pafs.NativeFile:
    fs, path = filesystem(file.uri)
    return fs.open_input_file(path.split("?", 1)[0])


def _parquet_file(file: SourceFile) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(_open(file))
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


def plan_units(
    files: list[SourceFile], text_column: str, unit_rows: int, unit_bytes: int, limit_rows: int | None = None
) -> list[Unit]:
    """Split files into work units (deterministic for a given input and config)."""
    units: list[Unit] = []
    remaining = limit_rows if limit_rows is not None else -1

    def add(**kw: object) -> bool:
        nonlocal remaining
        u = Unit(index=len(units), **kw)  # type: ignore[arg-type]
        if remaining == 0:
            return False
        if remaining > 0:
            n = u.num_rows if u.num_rows is not None else _count_lines(u)
            u = Unit(**{**u.__dict__, "max_rows": remaining}) if n > remaining else u
            remaining -= min(n, remaining)
        units.append(u)
        return True

    for f in files:
        if f.kind == "parquet":
            if f.size == 0:
                continue  # an empty shard: no rows
            pf = _parquet_file(f)
            check_text_type(f, pf.schema_arrow, text_column)
            md = pf.metadata
            group: list[int] = []
            rows = 0
            start = 0
            for rg in range(md.num_row_groups):
                n = md.row_group(rg).num_rows
                if n > 2 * unit_rows:  # one big row group: several slices of it
                    if group:
                        add(file=f, row_groups=tuple(group), row_start=0, row_stop=rows, first_row=start)
                        start += rows
                        group, rows = [], 0
                    for s in range(0, n, unit_rows):
                        e = min(s + unit_rows, n)
                        add(file=f, row_groups=(rg,), row_start=s, row_stop=e, first_row=start + s)
                    start += n
                    continue
                group.append(rg)
                rows += n
                if rows >= unit_rows:
                    add(file=f, row_groups=tuple(group), row_start=0, row_stop=rows, first_row=start)
                    start += rows
                    group, rows = [], 0
            if group:
                add(file=f, row_groups=tuple(group), row_start=0, row_stop=rows, first_row=start)
        elif f.kind == "jsonl":
            for s in range(0, max(f.size, 1), unit_bytes):
                add(file=f, byte_start=s, byte_stop=min(s + unit_bytes, f.size))
        else:
            add(file=f, byte_start=0, byte_stop=-1)
        if remaining == 0:
            break
    return units


# ------------------------------------------------------------------------------------
# reading


def _decompress(file: SourceFile, data: bytes) -> bytes:
    try:
        if file.kind == "jsonl.gz":
            return gzip.decompress(data)
        if file.kind == "jsonl.zst":
            import zstandard

            return zstandard.ZstdDecompressor().stream_reader(_io.BytesIO(data)).read()
    except Exception as exc:
        raise InputError(f"{file.rel}: cannot decompress ({exc})") from None
    return data


def _jsonl_block(unit: Unit) -> tuple[bytes, int]:
    """The bytes of the lines that start inside the unit's range, and their file offset."""
    f = unit.file
    with _open(f) as fh:
        if f.kind != "jsonl":
            return _decompress(f, fh.read()), 0
        start = unit.byte_start
        if start > 0:  # the line containing byte start-1 belongs to the previous unit
            fh.seek(start - 1)
            skip = 0
            while True:
                chunk = fh.read(1 << 16)
                if not chunk:
                    return b"", start
                nl = chunk.find(b"\n")
                if nl >= 0:
                    skip += nl
                    break
                skip += len(chunk)
            start = start - 1 + skip + 1
        if start >= unit.byte_stop and unit.byte_stop >= 0:
            return b"", start
        fh.seek(start)
        data = fh.read(max(unit.byte_stop - start, 0))
        while data and not data.endswith(b"\n"):
            more = fh.read(1 << 16)
            if not more:
                break
            nl = more.find(b"\n")
            if nl >= 0:
                data += more[: nl + 1]
                break
            data += more
        return data, start


def _count_lines(unit: Unit) -> int:
    data, _ = _jsonl_block(unit)
    return sum(1 for line in data.split(b"\n") if line.strip())


def _read_jsonl(unit: Unit, text_column: str) -> tuple[pa.Table, np.ndarray, list[str | None]]:
    """Rows of a JSONL unit, their row keys (byte offsets / line numbers) and JSON errors."""
    data, base = _jsonl_block(unit)
    lines = data.split(b"\n")
    offsets = np.zeros(len(lines), dtype=np.int64)
    if lines:
        offsets[1:] = np.cumsum([len(x) + 1 for x in lines[:-1]])
    keep = [i for i, line in enumerate(lines) if line.strip()]
    if unit.max_rows >= 0:
        keep = keep[: unit.max_rows]
    keys = (offsets[keep] + base) if unit.file.kind == "jsonl" else np.asarray(keep, dtype=np.int64)
    block = b"\n".join(lines[i] for i in keep)
    schema = pa.schema([(text_column, pa.large_string())])
    try:
        table = pajson.read_json(
            pa.BufferReader(block),
            read_options=pajson.ReadOptions(block_size=max(len(block) + 1, 1 << 20)),
            parse_options=pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer"),
        )
        if table.num_rows == len(keep):
            if text_column not in table.column_names:
                raise InputError(f"{unit.file.rel}: missing text column {text_column!r} in every row")
            return table, keys, [None] * len(keep)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        pass
    # slow path, only for a unit that has a bad line: parse line by line
    rows: list[dict] = []
    errors: list[str | None] = []
    for i in keep:
        line = lines[i]
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise ValueError("not an object")
            err = None
            if text_column in obj and obj[text_column] is not None and not isinstance(obj[text_column], str):
                err, obj = "text_not_string", {**obj, text_column: None}
        except UnicodeDecodeError:
            try:  # keep the row's other fields; the text gets U+FFFD for the bad bytes
                obj, err = json.loads(line.decode("utf-8", "replace")), "invalid_utf8"
                if not isinstance(obj, dict):
                    raise ValueError("not an object") from None
            except ValueError:
                obj, err = {text_column: line.decode("utf-8", "replace")}, "bad_json"
        except ValueError:
            obj, err = {text_column: line.decode("utf-8", "replace")}, "bad_json"
        rows.append(obj)
        errors.append(err)
    if rows and not any(text_column in r for r in rows):
        raise InputError(f"{unit.file.rel}: missing text column {text_column!r} in every row")
    try:
        table = pa.Table.from_pylist(rows)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types in some column: keep them as JSON text
        names = sorted({k for r in rows for k in r})
        table = pa.table(
            {
                k: pa.array(
                    [r.get(k) if k == text_column else (None if r.get(k) is None else json.dumps(r.get(k)))
                     for r in rows],
                    pa.large_string(),
                )
                for k in names
            }
        )
    if text_column not in table.column_names:
        table = table.append_column(text_column, pa.nulls(table.num_rows, pa.large_string()))
    return table, keys, errors


def read_unit(unit: Unit, text_column: str) -> tuple[pa.Table, np.ndarray, list[str | None]]:
    """Raw rows of a unit, one row key per row (for stable ids) and per-row read errors."""
    if unit.file.kind != "parquet":
        return _read_jsonl(unit, text_column)
    pf = _parquet_file(unit.file)
    try:
        table = pf.read_row_groups(list(unit.row_groups))
    except Exception as exc:
        raise InputError(f"{unit.file.rel}: cannot read row groups {list(unit.row_groups)} ({exc})") from None
    stop = unit.row_stop if unit.max_rows < 0 else min(unit.row_stop, unit.row_start + unit.max_rows)
    table = table.slice(unit.row_start, stop - unit.row_start)
    keys = np.arange(unit.first_row, unit.first_row + table.num_rows, dtype=np.int64)
    return table, keys, [None] * table.num_rows


# ------------------------------------------------------------------------------------
# row validation and ids


def _utf8_fix(arr: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """(large_string array, bool mask of rows that were not valid UTF-8)."""
    bad = np.zeros(len(arr), dtype=bool)
    binary = arr.cast(pa.large_binary())
    try:
        text = binary.cast(pa.large_string())
        text.validate(full=True)
        return text, bad
    except (pa.ArrowInvalid, pa.ArrowException):
        pass
    values = []
    for i, b in enumerate(binary.to_pylist()):  # rare path: only units holding invalid text
        if b is None:
            values.append(None)
            continue
        try:
            values.append(b.decode("utf-8"))
        except UnicodeDecodeError:
            values.append(b.decode("utf-8", "replace"))
            bad[i] = True
    return pa.array(values, pa.large_string()), bad


def make_ids(rel: str, keys: np.ndarray, text: pa.Array) -> pa.Array:
    """Stable ids: xxh3-128 of (source file, row key, content), 32 hex chars."""
    h = xxhash.xxh3_128_hexdigest
    prefix = rel.encode() + b"\0"
    return pa.array(
        [h(prefix + str(k).encode() + b"\0" + (t or b"")) for k, t in zip(keys.tolist(), text.cast(pa.large_binary()).to_pylist())],
        pa.string(),
    )


def normalize(
    table: pa.Table,
    keys: np.ndarray,
    read_errors: list[str | None],
    file: SourceFile,
    text_column: str,
    max_doc_bytes: int,
) -> tuple[pa.Table, np.ndarray]:
    """Give every row a valid text column and an `id`; return the reason code of rows that
    must be quarantined (index into QUARANTINE_REASONS, -1 = fine)."""
    n = table.num_rows
    reason = np.full(n, -1, dtype=np.int8)
    code = {r: i for i, r in enumerate(QUARANTINE_REASONS)}
    for i, e in enumerate(read_errors):
        if e is not None:
            reason[i] = code[e]
    raw = table.column(text_column)
    raw = raw.combine_chunks() if isinstance(raw, pa.ChunkedArray) else raw
    if raw.type not in TEXT_TYPES:
        if pa.types.is_null(raw.type):
            raw = pa.nulls(n, pa.large_string())
        else:
            raise InputError(f"{file.rel}: column {text_column!r} has type {raw.type}, expected string")
    text, bad = _utf8_fix(raw)
    reason[(reason < 0) & bad] = code["invalid_utf8"]
    isnull = pc.is_null(text).to_numpy(zero_copy_only=False)
    reason[(reason < 0) & isnull] = code["null_text"]
    text = pc.fill_null(text, "")
    nul = pc.match_substring(text, "\x00").to_numpy(zero_copy_only=False)
    reason[(reason < 0) & nul] = code["nul_byte"]
    big = pc.binary_length(text).to_numpy(zero_copy_only=False) > max_doc_bytes
    reason[(reason < 0) & big] = code["too_large"]
    table = table.set_column(table.column_names.index(text_column), text_column, text)
    if "id" in table.column_names:
        ids = table.column("id").combine_chunks()
        ids = ids.cast(pa.string()) if not pa.types.is_string(ids.type) else ids
        if ids.null_count:
            ids = pc.coalesce(ids, make_ids(file.rel, keys, text))
        table = table.set_column(table.column_names.index("id"), "id", ids)
    else:
        table = table.append_column("id", make_ids(file.rel, keys, text))
    return table, reason


def iter_batches(
    input_path: str, text_column: str = "content", limit_rows: int | None = None,
    max_doc_bytes: int = 10_000_000, unit_rows: int = 5000,
) -> Iterator[tuple[str, DocBatch]]:
    """(source file, DocBatch of valid rows) for every work unit, in order. Quarantined rows
    (invalid UTF-8, NUL bytes, ...) are left out. For dry runs and benchmarks."""
    files = discover(input_path)
    for unit in plan_units(files, text_column, unit_rows, 64 << 20, limit_rows):
        table, keys, errors = read_unit(unit, text_column)
        table, reason = normalize(table, keys, errors, unit.file, text_column, max_doc_bytes)
        yield unit.file.rel, DocBatch(table.filter(pa.array(reason < 0)), text_column)


# ------------------------------------------------------------------------------------
# writing


def output_parts(output: str, tiers: list[int] | None = None) -> list[str]:
    """The tier part files of a run's output folder, sorted (tier, unit)."""
    import glob as _glob

    parts = _glob.glob(os.path.join(output, "tier=*", "part-*.parquet"))
    if tiers is not None:
        parts = [p for p in parts if int(os.path.basename(os.path.dirname(p))[5:]) in tiers]
    return sorted(parts, key=lambda p: (int(os.path.basename(os.path.dirname(p))[5:]), p))


def output_dataset(output: str, tiers: list[int] | None = None):  # -> pyarrow.dataset.Dataset
    """A run's output as one pyarrow dataset (the `tier` column comes from the files)."""
    import pyarrow.dataset as ds

    parts = output_parts(output, tiers)
    if not parts:
        raise UserError(f"{output}: no tier=K/part-*.parquet files (is it a codesieve output folder?)")
    return ds.dataset(parts, format="parquet")
