"""Input discovery, work-unit planning and reading (through the readers), row validation, ids.

Inputs are files in a folder, a glob, a single file, or a URI pyarrow's filesystems open
(`s3://...`); each file's suffix picks its reader (`pipeline/readers/`: Parquet, JSONL plain /
gz / zst, and any registered plugin), which splits it into bounded work units.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import xxhash

from codesieve.core.batch import DocBatch, string_buffers
from codesieve.core.errors import InputError, UserError
from codesieve.core.registry import READERS
from codesieve.pipeline.readers import Reader, SourceFile, Unit, filesystem

#: reasons a single row is quarantined in tier 0 before any gate sees it
QUARANTINE_REASONS = (
    "bad_json", "text_not_string", "null_text", "invalid_utf8", "nul_byte", "too_large", "json_too_deep",
    "parse_timeout",  # a parser never returned on it (`codesieve.core.parsewatch`)
)
TEXT_TYPES = (pa.string(), pa.large_string(), pa.binary(), pa.large_binary())


def readers() -> dict[str, Reader]:
    """Registered readers by name (built-ins and plugins)."""
    from codesieve.pipeline.plugins import load_plugins

    load_plugins()
    return {name: cls() for name, cls in READERS.items()}


def suffix_table(formats: dict[str, str] | None = None) -> dict[str, str]:
    """File suffix -> reader name: the readers' own suffixes, then `input.formats`."""
    table = {suf: name for name, r in readers().items() for suf in r.suffixes}
    table.update(formats or {})
    return table


def _kind(name: str, table: dict[str, str]) -> str | None:
    lower = name.lower()  # `.PARQUET` is Parquet
    for suf in sorted(table, key=len, reverse=True):
        if lower.endswith(suf.lower()):
            return table[suf]
    return None


def _join_uri(uri: str, path: str) -> str:
    if "://" not in uri:
        return path
    scheme = uri.split("://", 1)[0]
    query = uri.split("?", 1)[1] if "?" in uri else ""
    return f"{scheme}://{path}" + (f"?{query}" if query else "")


def _walk_local(root: str) -> Iterator[tuple[str, int, int]]:
    """(path, size, mtime_ns) of files under `root`. Symlinked folders are not followed (no
    loops); a symlinked file is read once, under its first name, like any other file."""
    seen: set[str] = set()
    for folder, dirs, names in os.walk(root, followlinks=False):
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(folder, name)
            real = os.path.realpath(path)
            if real in seen or not os.path.isfile(real):
                continue
            seen.add(real)
            st = os.stat(real)
            yield path, st.st_size, st.st_mtime_ns


def _list(input_path: str) -> tuple[list[tuple[str, int, int]], str]:
    """(path, size, mtime_ns) of the files under a folder / matching a glob / the file, and
    their root."""
    fs, path = filesystem(input_path)
    path = path.split("?", 1)[0]
    local = "://" not in input_path
    if any(c in path for c in "*?["):
        base = path[: min(path.index(c) for c in "*?[" if c in path)]
        base = base.rsplit("/", 1)[0] if "/" in base else ""
        if local:
            return [f for f in _walk_local(base or "/") if fnmatch.fnmatch(f[0], path)], base
        infos = fs.get_file_info(pafs.FileSelector(base or "/", recursive=True, allow_not_found=True))
        return [(i.path, i.size or 0, i.mtime_ns or 0) for i in infos if i.is_file and fnmatch.fnmatch(i.path, path)], base
    info = fs.get_file_info(path)
    if info.type == pafs.FileType.NotFound:
        raise UserError(f"--input {input_path}: no such file or directory")
    if info.type == pafs.FileType.Directory:
        if local:
            return list(_walk_local(path)), path
        infos = fs.get_file_info(pafs.FileSelector(path, recursive=True))
        return [(i.path, i.size or 0, i.mtime_ns or 0) for i in infos if i.is_file], path
    return [(info.path, info.size or 0, info.mtime_ns or 0)], path.rsplit("/", 1)[0] if "/" in path else ""


def discover(input_path: str, formats: dict[str, str] | None = None) -> list[SourceFile]:
    """All input files under a folder / matching a glob / the single file, sorted by name."""
    return discover_with_skips(input_path, formats)[0]


def discover_with_skips(
    input_path: str, formats: dict[str, str] | None = None, exclude: str | None = None
) -> tuple[list[SourceFile], dict[str, Any]]:
    """(input files, what was skipped and why: counts and a few examples per reason).

    Skipped: hidden or `_`-prefixed names (side files such as `_SUCCESS`), files of no known
    format, empty files, and anything under `exclude` (an output folder inside the input).
    """
    found, root = _list(input_path)
    table = suffix_table(formats)
    files: list[SourceFile] = []
    skipped: dict[str, Any] = {}

    def skip(reason: str, rel: str) -> None:
        entry = skipped.setdefault(reason, {"files": 0, "examples": []})
        entry["files"] += 1
        if len(entry["examples"]) < 5:
            entry["examples"].append(rel)

    remote = "://" in input_path
    excl = None if not exclude or remote != ("://" in exclude) else (
        exclude.split("://", 1)[1].rstrip("/") + "/" if remote else os.path.realpath(exclude) + os.sep)
    for path, size, mtime in sorted(found):
        rel = os.path.relpath(path, root) if root else path
        kind = _kind(path, table)
        if excl and ((path + "/") if remote else (os.path.realpath(path) + os.sep)).startswith(excl):
            skip("inside_output", rel)
        elif any(part.startswith((".", "_")) for part in rel.split("/")):
            skip("hidden_or_underscore", rel)
        elif kind is None:
            skip("unknown_format", rel)
        elif size == 0:
            skip("empty_file", rel)
        else:
            files.append(SourceFile(_join_uri(input_path, path), rel, kind, size, mtime))
    if not files:
        known = ", ".join("*" + s for s in sorted(table))
        why = "; ".join(f"{k}: {v['files']}" for k, v in skipped.items())
        raise UserError(f"--input {input_path}: no input files ({known})" + (f"; skipped {why}" if why else ""))
    return files, skipped


def plan_units(
    files: list[SourceFile], text_column: str, unit_rows: int, unit_bytes: int, limit_rows: int | None = None
) -> list[Unit]:
    """Split files into work units with their readers (deterministic for an input and config)."""
    units: list[Unit] = []
    remaining = limit_rows if limit_rows is not None else -1
    table = readers()
    for f in files:
        reader = table[f.kind]
        for u in reader.plan(f, text_column, unit_rows, unit_bytes):
            if remaining == 0:
                return units
            u = replace(u, index=len(units))
            if remaining > 0:
                n = reader.count_rows(u, text_column)
                u = replace(u, max_rows=remaining) if n > remaining else u
                remaining -= min(n, remaining)
            units.append(u)
    return _group_small(units, text_column, unit_rows, unit_bytes)


SMALL_FILE = 1 << 20  # plain-text units of files below this are counted and may be grouped


def _group_small(units: list[Unit], text_column: str, unit_rows: int, unit_bytes: int) -> list[Unit]:
    """Consecutive small units (e.g. thousands of one-row files) read as one task: a unit
    holds `extra` units while their rows stay within `unit_rows` and bytes within
    `unit_bytes`, so tasks and output files do not multiply with the number of files."""
    table = readers()
    groups: list[list[Unit]] = []
    rows_in = bytes_in = 0
    open_group = False
    for u in units:
        rows = u.num_rows
        if rows is None and u.file.size < SMALL_FILE:
            rows = table[u.file.kind].count_rows(u, text_column)
        if rows is not None and u.max_rows >= 0:
            rows = min(rows, u.max_rows)
        if open_group and rows is not None and rows_in + rows <= unit_rows and bytes_in + u.file.size <= unit_bytes:
            groups[-1].append(u)
            rows_in += rows
            bytes_in += u.file.size
            continue
        groups.append([u])
        open_group, rows_in, bytes_in = rows is not None, rows or 0, u.file.size
    return [replace(g[0], index=i, extra=tuple(g[1:])) for i, g in enumerate(groups)]


def read_unit(unit: Unit, text_column: str) -> tuple[pa.Table, np.ndarray, list[str | None]]:
    """Raw rows of a unit, one row key per row (for stable ids) and per-row read errors."""
    return readers()[unit.file.kind].read(unit, text_column)


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


def nul_rows(text: pa.Array) -> np.ndarray:
    """Bool per row: the (null-free, (large_)string) text holds a NUL byte. One numpy scan of
    the data buffer (Arrow's `match_substring(text, "\\x00")`, the reference, is ~10x slower)."""
    data, off = string_buffers(text)
    rows = np.zeros(len(text), dtype=bool)
    if len(text):
        pos = np.flatnonzero(data[off[0] : off[-1]] == 0) + off[0]
        rows[np.searchsorted(off, pos, side="right") - 1] = True
    return rows


def _string_ids(ids: pa.Array, file: SourceFile) -> pa.Array:
    """Input ids as strings: text or whole numbers; anything else is a one-line error."""
    t = ids.type
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_integer(t) or pa.types.is_null(t):
        return ids.cast(pa.string())
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        try:
            out = ids.cast(pa.large_binary()).cast(pa.large_string())
            out.validate(full=True)
            return out.cast(pa.string())
        except (pa.ArrowInvalid, pa.ArrowException):
            raise InputError(f"{file.rel}: column 'id' holds bytes that are not UTF-8 text") from None
    raise InputError(f"{file.rel}: column 'id' has type {t}; ids must be strings or integers "
                     "(rename the column to keep it, and ids are generated)")


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
    reason[(reason < 0) & nul_rows(text)] = code["nul_byte"]
    big = pc.binary_length(text).to_numpy(zero_copy_only=False) > max_doc_bytes
    reason[(reason < 0) & big] = code["too_large"]
    table = table.set_column(table.column_names.index(text_column), text_column, text)
    if "id" in table.column_names:
        ids = _string_ids(table.column("id").combine_chunks(), file)
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
        for part in unit.parts():
            table, keys, errors = read_unit(replace(part, extra=()), text_column)
            table, reason = normalize(table, keys, errors, part.file, text_column, max_doc_bytes)
            yield part.file.rel, DocBatch(table.filter(pa.array(reason < 0)), text_column)


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

    if "://" in output:  # e.g. s3://bucket/run
        from codesieve.pipeline.dest import Dest

        dest = Dest(output)
        parts = [p for p in dest.parts() if tiers is None or int(p.split("/")[-2][5:]) in tiers]
        fs = dest.fs
    else:
        parts, fs = output_parts(output, tiers), None
    if not parts:
        raise UserError(f"{output}: no tier=K/part-*.parquet files (is it a codesieve output folder?)")
    return ds.dataset(parts, format="parquet", filesystem=fs)
