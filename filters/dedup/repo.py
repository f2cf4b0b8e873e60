"""Repository-level dedup (DeepSeek-Coder, Guo et al. 2024 §2.3): a repository is one
document, the concatenation of its files, and duplicate repositories are removed whole.

MinHash of a concatenation = element-wise minimum of its parts' signatures (the shingle set
of the concatenation is the union, up to the n-1 shingles that straddle file boundaries),
so each unit reduces its files to one partial row per repository and the global step
merges partial rows of a repository spread over several units. The exact key of a
repository is the sum (mod 2^64, per half) of its files' 128-bit hashes: the same
multiset of files gives the same key, whatever the order or the unit split.
"""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from codesieve.core.atomic import write_parquet_atomic
from codesieve.core.batch import DocBatch
from codesieve.core.errors import UserError
from codesieve.filters.dedup.cluster import DedupConfig, Source, _h_words, band_column
from codesieve.filters.dedup.minhash import band_hashes


def repo_ids(batch: DocBatch) -> pa.Array:
    """Each document's repository (`repo_name`; a document without one is its own)."""
    col = batch.column("repo_name")
    if col is None:
        raise UserError("dedup: level 'repo' needs a repo_name column in the input")
    return pc.if_else(pc.is_valid(col), col.cast(pa.string()), batch.column("id"))


def _h_array(words: np.ndarray) -> pa.Array:
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(16), len(words), [None, pa.py_buffer(words.tobytes())])


def _aggregate(keys: pa.Table, by: pa.Array) -> pa.Table:
    """Reduce rows with equal `by` to one: sums, element-wise min of `sig`, max priority,
    concatenated `shingles`. Output rows are sorted by `by`."""
    n = keys.num_rows
    order = np.asarray(pc.sort_indices(by), np.int64)
    by_s = by.take(pa.array(order))
    t = keys.take(pa.array(order))
    first = np.ones(n, dtype=bool)
    if n > 1:
        first[1:] = pc.not_equal(by_s.slice(1), by_s.slice(0, n - 1)).to_numpy(zero_copy_only=False)
    starts = np.flatnonzero(first)
    cols: dict[str, pa.Array] = {"id": by_s.take(pa.array(starts))}
    for name in t.column_names:
        col = t.column(name).combine_chunks()
        if name in ("id", "_unit") or name.startswith("band_"):
            continue
        if name in ("bytes", "n_shingles"):
            cols[name] = pa.array(np.add.reduceat(col.to_numpy().astype(np.int64), starts)).cast(col.type)
        elif name == "h":
            with np.errstate(over="ignore"):
                cols[name] = _h_array(np.add.reduceat(_h_words(col), starts, axis=0))
        elif name == "sig":
            k = col.type.list_size
            sig = np.asarray(col.flatten().to_numpy(), np.uint32).reshape(n, k)
            cols[name] = pa.FixedSizeListArray.from_arrays(pa.array(np.minimum.reduceat(sig, starts, axis=0).reshape(-1)), k)
        elif name == "shingles":
            lens = np.diff(col.offsets.to_numpy())
            off = np.r_[0, np.cumsum(np.add.reduceat(lens, starts) if n else [])].astype(np.int32)
            cols[name] = pa.ListArray.from_arrays(pa.array(off), col.flatten())
        elif name.startswith("prio_"):
            grouped = pa.table({"k": pa.array(np.cumsum(first) - 1), "v": col}).group_by("k", use_threads=False).aggregate([("v", "max")])
            cols[name] = grouped.sort_by("k").column("v_max").combine_chunks()
        elif name == "units":
            cols[name] = pa.array([sorted(set(x)) for x in _split_lists(col, starts)], pa.list_(pa.int32()))
    return pa.table(cols)


def _split_lists(col: pa.ListArray, starts: np.ndarray) -> list[list[int]]:
    vals = col.to_pylist()
    bounds = list(starts) + [len(vals)]
    return [[u for row in vals[a:b] for u in row] for a, b in itertools.pairwise(bounds)]


def repo_keys(doc_keys: pa.Table, repos: pa.Array) -> pa.Table:
    """One partial key row per repository of a unit (id = repository name)."""
    return _aggregate(doc_keys, repos)


def merge_task(sources: list[Source], part: int, cfg: DedupConfig, out_path: str) -> int:
    """Merge the partial rows of the repositories in hash partition `part` over all units,
    add band hashes and the list of units holding each repository; write `out_path`."""
    pieces = []
    for src in sources:
        t = pq.read_table(src.path)
        key = np.asarray([hash_part(s, cfg.partitions) for s in t.column("id").to_pylist()])
        t = t.filter(pa.array(key == part))
        units = pa.array([[src.unit]] * t.num_rows, pa.list_(pa.int32()))
        pieces.append(t.drop_columns([c for c in t.column_names if c == "_unit" or c.startswith("band_")]).append_column("units", units))
    t = pa.concat_tables(pieces, promote_options="permissive")
    merged = _aggregate(t, t.column("id").combine_chunks())
    if "sig" in merged.column_names:
        sig = np.asarray(merged.column("sig").combine_chunks().flatten().to_numpy(), np.uint32)
        sig = sig.reshape(merged.num_rows, cfg.num_perm)
        for j, col in enumerate(band_hashes(sig, cfg.bands, cfg.rows).T):
            merged = merged.append_column(band_column(j), pa.array(col, pa.uint64()))
    write_parquet_atomic(merged, out_path)
    return merged.num_rows


def hash_part(name: str, parts: int) -> int:
    """Stable partition of a repository name (Python's hash() is salted per process)."""
    import xxhash

    return xxhash.xxh3_64_intdigest(name.encode()) % parts
