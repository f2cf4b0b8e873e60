"""Verdict assembly by hash partition, so the driver never holds the verdict rows.

File level only (`resolve` keeps repository level in the driver: a few rows per repository).
The exact and cluster tasks write their rows (with ids) to files, one row group per *join
partition*: an exact row goes to `rep_g % J` (its group's representative), a near row to
`g % J`. The one join between them (an exact group whose representative took part in near
dedup follows that document's verdict) is then local to a partition: `join_task` combines
partition j and writes its verdict rows sorted by `g`; `unit_task` reads the `g` range of a
few units from every partition file and writes their verdict files. The driver keeps only
integers: each exact duplicate's `g`, representative and group size (for banding and
cluster weights) and what the tasks count.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from codesieve.core.atomic import TABLE_READ, write_parquet_atomic
from codesieve.filters.dedup.cluster import (
    KIND_EXACT,
    KIND_NEAR,
    DedupConfig,
    Source,
    cluster_task,
    exact_task,
)
from codesieve.filters.dedup.giant import giant_task
from codesieve.filters.dedup.giant import rows as giant_rows

JOIN_TASK_ROWS = 1_000_000  # documents per join partition and per verdict-writing task (bounds each task)
VERDICT_FIELDS = [
    ("id", pa.string()), ("dup_cluster", pa.string()), ("dup_cluster_size", pa.int32()),
    ("is_dup", pa.bool_()), ("kind", pa.int8()),
]
_SORTED_ROW_GROUP = 65_536  # rows per row group of a join partition's verdicts (sorted by g)


def verdict_path(work_dir: str, unit: int) -> str:
    """Verdicts of one unit (`work_dir` = the dedup folder, `<out>/_work/dedup`)."""
    return os.path.join(work_dir, "verdicts", f"unit-{unit:05d}.pq")


def empty_verdicts(with_g: bool = False) -> pa.Table:
    fields = ([("g", pa.int64())] if with_g else []) + VERDICT_FIELDS
    return pa.table({n: pa.array([], t) for n, t in fields})


def combine(exact: pa.Table | None, near: pa.Table | None) -> pa.Table | None:
    """One verdict row per document in a cluster of two or more (g, id, dup_cluster,
    dup_cluster_size, is_dup, kind), sorted by g."""
    out = []
    if near is not None:
        nk = near.column("kind")
        out.append(
            pa.table({
                "g": near.column("g"), "id": near.column("id"), "dup_cluster": near.column("rep_id"),
                "dup_cluster_size": near.column("size"), "is_dup": pc.equal(nk, KIND_NEAR), "kind": nk,
            })
        )
    if exact is not None:
        eg, erg = exact.column("g"), exact.column("rep_g")
        is_rep = pc.equal(eg, erg)
        rep_id, size = exact.column("rep_id"), exact.column("size")
        if near is not None:
            # exact groups whose representative took part in near dedup follow its verdict
            pos = pc.index_in(erg, near.column("g"))
            found = pc.is_valid(pos)
            idx = pc.fill_null(pos, 0)
            rep_id = pc.if_else(found, pc.take(near.column("rep_id"), idx), rep_id)
            size = pc.if_else(found, pc.take(near.column("size"), idx), size)
            in_near = pc.is_in(eg, near.column("g"))
        else:
            in_near = pa.array(np.zeros(len(eg), bool))
        keep = pc.invert(pc.and_(is_rep, in_near))  # near rows already carry those reps
        out.append(
            pa.table({
                "g": eg, "id": exact.column("id"), "dup_cluster": rep_id, "dup_cluster_size": size,
                "is_dup": pc.invert(is_rep),
                "kind": pc.if_else(is_rep, pa.scalar(0, pa.int8()), pa.scalar(KIND_EXACT, pa.int8())),
            }).filter(keep)
        )
    if not out:
        return None
    t = pa.concat_tables([x.cast(empty_verdicts(with_g=True).schema) for x in out])
    return t.filter(pc.greater(t.column("dup_cluster_size"), 1)).sort_by([("g", "ascending")])


def _write_partitioned(table: pa.Table | Iterable[pa.Table], part: np.ndarray | None, path: str, n_join: int = 0) -> None:
    """`table` with a `jp` column (= part), one row group per partition (read back with a
    filter on `jp`: the others are skipped by their statistics). A list of tables (same
    schema) is written one after the other, each split by `g % n_join`."""
    tables = [(table, part)] if isinstance(table, pa.Table) else ((t, t.column("g").to_numpy() % n_join) for t in table)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = os.path.join(os.path.dirname(path), f".tmp-{os.getpid()}-{os.path.basename(path)}")
    writer = None
    try:
        for tab, jp in tables:
            order = np.argsort(jp, kind="stable")
            t = tab.take(pa.array(order)).append_column("jp", pa.array(jp[order].astype(np.int32)))
            writer = writer or pq.ParquetWriter(tmp, t.schema, compression="none", use_dictionary=False)
            bounds = np.flatnonzero(np.r_[True, np.diff(jp[order]) != 0, True]) if len(order) else np.array([0])
            for a, b in itertools.pairwise(bounds):
                writer.write_table(t.slice(a, b - a))
            if not len(order):
                writer.write_table(t)
        if writer is None:  # no table at all
            empty = empty_verdicts(with_g=True)
            writer = pq.ParquetWriter(tmp, empty.append_column("jp", pa.array([], pa.int32())).schema)
    finally:
        if writer is not None:
            writer.close()
    os.replace(tmp, path)


def exact_to_file(
    sources: list[Source], offsets: list[int], part: int, cfg: DedupConfig, path: str, n_join: int
) -> pa.Table:
    """`exact_task`, its rows written to `path` by join partition; returns (g, rep_g, size)."""
    t = exact_task(sources, offsets, part, cfg)
    _write_partitioned(t, t.column("rep_g").to_numpy() % n_join, path)
    return t.select(["g", "rep_g", "size"])


def cluster_to_file(parts: list[tuple[str, int]], task: int, cfg: DedupConfig, path: str, n_join: int) -> int:
    """`cluster_task`, its rows written to `path` by join partition; returns its number of
    near clusters (a cluster never spans two tasks)."""
    t = cluster_task(parts, task, cfg)
    _write_partitioned(t, t.column("g").to_numpy() % n_join, path)
    kind = t.column("kind").to_numpy()
    return len(np.unique(t.column("rep_g").to_numpy()[kind == KIND_NEAR]))


def giant_to_file(paths: list[str], comp: int, cfg: DedupConfig, folder: str, path: str, n_join: int) -> int:
    """`giant.giant_task` on component `comp`, its rows written to `path` by join
    partition a chunk at a time; returns its number of near clusters."""
    clusters = giant_task(paths, comp, cfg, folder)
    _write_partitioned(giant_rows(folder), None, path, n_join)
    shutil.rmtree(folder, ignore_errors=True)
    return clusters


def _read_part(paths: list[str], j: int) -> pa.Table | None:
    tables = [pq.read_table(p, filters=[("jp", "=", j)], **TABLE_READ).drop_columns(["jp"]) for p in paths]
    tables = [t for t in tables if t.num_rows]
    return pa.concat_tables(tables) if tables else None


def join_task(exact_paths: list[str], near_paths: list[str], j: int, path: str) -> dict[str, int]:
    """Verdicts of join partition j, written to `path` sorted by g; returns its counts."""
    exact, near = _read_part(exact_paths, j), _read_part(near_paths, j)
    v = combine(exact, near)
    v = empty_verdicts(with_g=True) if v is None else v
    write_parquet_atomic(v, path, 1, _SORTED_ROW_GROUP)
    kind = v.column("kind").to_numpy()
    return {"exact_duplicates": int((kind == KIND_EXACT).sum()), "near_duplicates": int((kind == KIND_NEAR).sum()),
            "exact_clusters": 0 if exact is None else len(np.unique(exact.column("rep_g").to_numpy()))}


def unit_task(join_paths: list[str], sources: list[Source], starts: list[int], work_dir: str) -> list[np.ndarray]:
    """Verdict files of consecutive `sources` (units; global rows from `starts`), read as a
    g range from every join partition. Returns each source's duplicate rows (for the index)."""
    lo, hi = starts[0], starts[-1] + sources[-1].rows
    parts = [pq.read_table(p, filters=[("g", ">=", lo), ("g", "<", hi)], **TABLE_READ) for p in join_paths]
    v = pa.concat_tables([empty_verdicts(with_g=True)] + [t for t in parts if t.num_rows]).sort_by("g")
    g = v.column("g").to_numpy()
    dup_rows = []
    for src, start in zip(sources, starts):
        a, b = np.searchsorted(g, [start, start + src.rows])
        part = v.slice(a, b - a)
        dup_rows.append(g[a:b][part.column("is_dup").to_numpy(zero_copy_only=False)] - start)
        write_parquet_atomic(pa.concat_tables([empty_verdicts(), part.drop_columns(["g"])]), verdict_path(work_dir, src.unit))
    return dup_rows


def source_chunks(sources: list[Source], starts: list[int], rows: int) -> list[tuple[list[Source], list[int]]]:
    """Consecutive sources grouped to about `rows` rows per group (at least one each)."""
    out: list[tuple[list[Source], list[int]]] = []
    size = rows
    for src, start in zip(sources, starts):
        if size + src.rows > rows and (not out or out[-1][0]):
            out.append(([], []))
            size = 0
        out[-1][0].append(src)
        out[-1][1].append(start)
        size += src.rows
    return out


def n_join_parts(docs: int, cfg: DedupConfig) -> int:
    return max(cfg.partitions, -(-docs // JOIN_TASK_ROWS))


def assemble(join_paths: list[str], sources: list[Source], starts: list[int], units: list[int], work_dir: str,
             executor: Any) -> dict[int, np.ndarray]:
    """Write every unit's verdict file; returns per source (index s) its duplicate rows."""
    chunks = source_chunks(sources, starts, JOIN_TASK_ROWS)
    results = executor.map(unit_task, [(join_paths, srcs, sts, work_dir) for srcs, sts in chunks])
    dup_rows = dict(enumerate(itertools.chain.from_iterable(results)))
    written = {s.unit for s in sources}
    for u in units:  # units without key rows: empty verdict files
        if u not in written:
            write_parquet_atomic(empty_verdicts(), verdict_path(work_dir, u))
    return dup_rows
