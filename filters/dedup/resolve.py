"""Orchestrates the global dedup step over an executor and writes per-unit verdicts.

The driver holds only per-task results that concern duplicates and candidates (a forest
of LSH candidates, exact groups as integers), never the key tables themselves; at file
level the verdict rows (with ids) are assembled by hash partition in tasks (`verdicts.py`).
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from codesieve.core.atomic import TABLE_READ, write_parquet_atomic
from codesieve.filters.dedup import giant as dgiant
from codesieve.filters.dedup import index as dindex
from codesieve.filters.dedup import verdicts as dverdicts
from codesieve.filters.dedup.cluster import (
    KIND_EXACT,
    KIND_NEAR,
    DedupConfig,
    Source,
    band_task,
    cluster_task,
    exact_task,
    forest,
    scatter_task,
)

CLUSTER_TASK_BYTES = 24 * 2**20  # rows (signatures, rank columns, shingles) per cluster task: bounds its memory
ROW_BYTES = 96  # a candidate's rank columns and bookkeeping, besides its signature and shingles
BAND_TASK_BYTES = 64 * 2**20  # band hashes and ids a band task holds at once (`_band_groups`)
GIANT_MERGE_ROWS = 65_536  # a giant component's rows held at once while merging (over all sources)
VERDICT_FIELDS = dverdicts.VERDICT_FIELDS
verdict_path = dverdicts.verdict_path


def _unit_of(path: str) -> int:
    t = pq.read_table(path, columns=["_unit"], **TABLE_READ)
    if t.num_rows:
        return int(t.column(0)[0].as_py())
    return int(os.path.basename(path).split("-")[1].split(".")[0])


def _empty(fields: list[tuple[str, pa.DataType]]) -> pa.Table:
    return pa.table({n: pa.array([], t) for n, t in fields})


def _concat(tables: list[pa.Table]) -> pa.Table | None:
    tables = [t for t in tables if t.num_rows]
    return pa.concat_tables(tables) if tables else None


class _Clock:
    """Wall and CPU seconds per step (CPU covers all work when the executor is local)."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._start = time.perf_counter()
        self._t, self._c = self._start, time.process_time()

    def lap(self, step: str) -> None:
        t, c = time.perf_counter(), time.process_time()
        self.wall[step], self.cpu[step] = t - self._t, c - self._c
        self._t, self._c = t, c

    def stats(self) -> dict[str, dict[str, float]]:
        wall = {**self.wall, "total": time.perf_counter() - self._start}
        return {
            "seconds": {k: round(v, 3) for k, v in wall.items()},
            "cpu_seconds": {k: round(v, 3) for k, v in self.cpu.items()},
        }


@dataclass
class _Plan:
    """The sources of one global step and their global document offsets."""

    sources: list[Source]  # this run's (units, or merged repositories)
    indexed: list[Source]  # parts of the persistent index
    held: int = 0  # peak bytes of task results the driver held at once
    giants: int = 0  # components clustered alone in bounded memory (`giant.py`)

    @property
    def all(self) -> list[Source]:
        return self.sources + self.indexed

    @property
    def offsets(self) -> list[int]:
        """Start of each source in the global numbering, plus the total."""
        return np.cumsum([0] + [s.rows for s in self.all]).tolist()

    @property
    def starts(self) -> list[int]:
        return self.offsets[:-1]

    def hold(self, *objs: Any) -> None:
        self.held = max(self.held, sum(getattr(o, "nbytes", 0) for o in objs if o is not None))


def resolve(
    key_files: list[str], work_dir: str, executor: Any, cfg: DedupConfig, index_dir: str | None = None
) -> dict[str, Any]:
    """Exact + near dedup over all key files; write verdicts; append to the index.

    Returns statistics for the manifest (counts, seconds per step, driver bytes).
    """
    clock = _Clock()
    # absolute paths: tasks may run in processes with another working directory
    work_dir = os.path.abspath(work_dir)
    index_dir = os.path.abspath(index_dir) if index_dir else None
    units_src = [Source(os.path.abspath(f), pq.read_metadata(f).num_rows, _unit_of(f)) for f in key_files]
    units = [s.unit for s in units_src]
    sources = [s for s in units_src if s.rows]
    if cfg.level == "repo":
        sources = _merge_repositories(sources, work_dir, executor, cfg)
    run = dindex.run_tag(work_dir)
    plan = _Plan(sources, dindex.open_index(index_dir, cfg, run) if index_dir else [])
    stats: dict[str, Any] = {
        "docs": sum(s.rows for s in plan.sources), "level": cfg.level,
        "index_docs": sum(s.rows for s in plan.indexed), "exact_clusters": 0, "exact_duplicates": 0,
        "near_clusters": 0, "near_duplicates": 0, "candidates": 0,
    }
    # file level: verdicts are assembled by hash partition in tasks (`verdicts.py`); the
    # driver holds integers only. Repository level: a few rows per repository, in the driver.
    spill = _Spill(work_dir, dverdicts.n_join_parts(plan.offsets[-1], cfg)) if cfg.level == "file" else None
    exact = _exact_step(plan, executor, cfg, spill) if cfg.exact and plan.offsets[-1] else None
    clock.lap("exact")
    near = None
    if cfg.near and plan.offsets[-1]:
        g, comp = _banding_step(plan, exact, executor, cfg)
        clock.lap("banding")
        stats["candidates"] = len(g)
        near = _cluster_step(plan, g, comp, exact, executor, cfg, work_dir, spill)
        clock.lap("clusters")
    if spill is not None:
        counts, dup_rows = spill.assemble(plan, exact, units, executor)
        stats.update(counts)
    else:
        verdicts = dverdicts.combine(exact, near)
        plan.hold(verdicts, exact, near)
        stats.update(_counts(exact, near, verdicts))
        dup_rows = _write_verdicts(plan, verdicts, units, work_dir, cfg)
    clock.lap("verdicts")
    if index_dir:  # the index remembers what this run kept
        names = [dindex.part_name(run, s) for s in range(len(plan.sources))]
        items = [
            (src, dup_rows[s], os.path.join(index_dir, "parts", names[s]), cfg) for s, src in enumerate(plan.sources)
        ]
        stats["index_added"] = int(sum(executor.map(dindex.index_part_task, items)))
        dindex.commit_run(index_dir, run, names, stats["index_added"])
        clock.lap("index")
    stats["driver_bytes"] = plan.held
    stats["giant_components"] = plan.giants
    stats.update(clock.stats())
    return stats


def _merge_repositories(sources: list[Source], work_dir: str, executor: Any, cfg: DedupConfig) -> list[Source]:
    """Repository level: one row per repository, merged over units (`repo.merge_task`)."""
    from codesieve.filters.dedup.repo import merge_task

    paths = [os.path.join(work_dir, "repos", f"part-{p:05d}.pq") for p in range(cfg.partitions)]
    rows = executor.map(merge_task, [(sources, p, cfg, paths[p]) for p in range(cfg.partitions)])
    return [Source(path, r, -1) for path, r in zip(paths, rows) if r]


class _Spill:
    """Where the exact and cluster tasks write their rows by join partition (file level)."""

    def __init__(self, work_dir: str, n_join: int):
        self.folder = os.path.join(work_dir, "assembly")
        self.n_join = n_join
        self.exact: list[str] = []
        self.near: list[str] = []
        self.near_clusters = 0
        shutil.rmtree(self.folder, ignore_errors=True)  # an interrupted attempt's files

    def path(self, kind: str, i: int) -> str:
        return os.path.join(self.folder, kind, f"part-{i:05d}.pq")

    def assemble(
        self, plan: _Plan, exact: pa.Table | None, units: list[int], executor: Any
    ) -> tuple[dict[str, int], dict[int, np.ndarray]]:
        """Join tasks per partition, then the verdict files; (counts, dup rows per source)."""
        joined = [self.path("joined", j) for j in range(self.n_join)]
        counts: dict[str, int] = {"exact_duplicates": 0, "near_duplicates": 0, "exact_clusters": 0}
        for c in executor.map(dverdicts.join_task, [(self.exact, self.near, j, joined[j]) for j in range(self.n_join)]):
            for k in counts:
                counts[k] += c[k]
        counts["near_clusters"] = self.near_clusters
        counts["removed"] = counts["exact_duplicates"] + counts["near_duplicates"]
        dup_rows = dverdicts.assemble(joined, plan.sources, plan.starts[: len(plan.sources)], units,
                                      os.path.dirname(self.folder), executor)
        plan.hold(exact)
        shutil.rmtree(self.folder, ignore_errors=True)
        return counts, dup_rows


def _exact_step(plan: _Plan, executor: Any, cfg: DedupConfig, spill: _Spill | None = None) -> pa.Table | None:
    """Exact groups (g, id, rep_g, rep_id, size), one task per hash partition; with `spill`,
    the tasks write those rows to files and return (g, rep_g, size) only."""
    if spill is None:
        return _concat(executor.map(exact_task, [(plan.all, plan.starts, p, cfg) for p in range(cfg.partitions)]))
    spill.exact = [spill.path("exact", p) for p in range(cfg.partitions)]
    items = [(plan.all, plan.starts, p, cfg, spill.exact[p], spill.n_join) for p in range(cfg.partitions)]
    return _concat(executor.map(dverdicts.exact_to_file, items))


def _exact_groups(exact: pa.Table | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sorted g of exact duplicates that are not representatives, representatives' g,
    their group sizes)."""
    if exact is None:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    eg, er = exact.column("g").to_numpy(), exact.column("rep_g").to_numpy()
    reps, sizes = np.unique(er, return_counts=True)
    return np.sort(eg[eg != er]), reps, sizes


def _banding_step(
    plan: _Plan, exact: pa.Table | None, executor: Any, cfg: DedupConfig
) -> tuple[np.ndarray, np.ndarray]:
    """LSH candidates as (g, component). Each band task covers several bands of one hash
    partition (`_band_groups`); their forests are merged as they arrive, a few at a time,
    so the driver holds at most one forest over the candidates plus those few results, and
    no task waits for a round to finish. Components (root = smallest g) do not depend on
    the grouping or the arrival order, so neither does the output."""
    excluded, _, _ = _exact_groups(exact)
    workers = getattr(executor, "workers", 1)
    groups = _band_groups(plan.offsets[-1], cfg, workers)
    tasks = [(plan.all, plan.starts, grp, p, excluded, cfg) for grp in groups for p in range(cfg.partitions)]
    child, root = np.zeros(0, np.int64), np.zeros(0, np.int64)
    step = max(2 * workers, 2)
    held: list[tuple[np.ndarray, np.ndarray]] = []
    for n, (_, res) in enumerate(executor.imap(band_task, tasks), 1):
        held.append(res)
        if len(held) == step or n == len(tasks):
            a = np.concatenate([child] + [r[0] for r in held])
            b = np.concatenate([root] + [r[1] for r in held])
            plan.hold(a, b, exact, excluded)
            child, root = forest(a, b)
            held = []
    roots = np.unique(root)
    return np.concatenate([child, roots]), np.concatenate([root, roots])


def _band_groups(rows: int, cfg: DedupConfig, workers: int) -> list[tuple[int, ...]]:
    """The bands of each band task: about 2 tasks per worker over all partitions, each
    holding at most BAND_TASK_BYTES of band hashes and ids (16 bytes per row and band of
    its partition, plus sorting room)."""
    want = max(1, -(-2 * workers // cfg.partitions))  # task groups wanted
    per = max(1, -(-cfg.bands // want))
    per_row = 3 * 16 * max(1, -(-rows // cfg.partitions))
    per = max(1, min(per, BAND_TASK_BYTES // per_row))
    return [tuple(range(j, min(j + per, cfg.bands))) for j in range(0, cfg.bands, per)]


def _cluster_step(
    plan: _Plan, g: np.ndarray, comp: np.ndarray, exact: pa.Table | None, executor: Any, cfg: DedupConfig,
    work_dir: str, spill: _Spill | None = None,
) -> pa.Table | None:
    """Verified clusters of the candidates. Whole components are packed into tasks of about
    CLUSTER_TASK_BYTES of rows (`_pack`; the output does not depend on the packing); a
    component larger than that (only possible above `verify_max_cluster` members, whose
    shingle sets are not read) is a giant one, clustered alone in bounded memory
    (`giant.py`). Each source's candidate rows are first scattered into one file with a row
    group per task, so every key file is read once, whatever the number of tasks; a task
    then reads its own row groups of the files that hold some, named by the driver."""
    if not len(g):
        return None
    _, reps, sizes = _exact_groups(exact)
    order = np.argsort(g)
    g, comp = g[order], comp[order]
    weight = np.ones(len(g), np.int64)  # documents each candidate stands for
    hit = np.isin(g, reps)
    weight[hit] = sizes[np.searchsorted(reps, g[hit])]
    cuts = np.searchsorted(g, plan.offsets)
    task, need_sh, giants = _pack(plan, g, comp, cuts, cfg, max(cfg.partitions, getattr(executor, "workers", 1)))
    giant_rows = max(1, GIANT_MERGE_ROWS // max(len(plan.all), 1))
    plan.giants = len(giants)
    items, paths = [], []
    parts: dict[int, list[tuple[str, int]]] = {}  # cluster task -> (scatter file, row group) holding its rows
    for s, src in enumerate(plan.all):
        a, b = cuts[s], cuts[s + 1]
        if a < b:
            paths.append(os.path.join(work_dir, "candidates", f"src-{s:05d}.pq"))
            items.append((src, plan.starts[s], g[a:b], comp[a:b], weight[a:b], task[a:b], paths[-1], cfg,
                          need_sh[a:b], giant_rows))
            held = np.unique(task[a:b])  # scatter_task writes one row group per task, in task order
            for group, p in enumerate(held[held >= 0].tolist()):
                parts.setdefault(p, []).append((paths[-1], group))
    executor.map(scatter_task, items)
    tasks = np.unique(task[task >= 0])
    gpaths = [f"{p}.giant" for p in paths if os.path.exists(f"{p}.giant")]
    gdirs = [os.path.join(work_dir, "giant", f"comp-{int(c)}") for c in giants]
    if spill is None:
        near = _concat(executor.map(cluster_task, [(parts[int(p)], int(p), cfg) for p in tasks]))
        for c, d in zip(giants, gdirs):
            executor.map(dgiant.giant_task, [(gpaths, int(c), cfg, d)])
            near = _concat([near] + list(dgiant.rows(d)))
    else:  # the rows go to files (see `verdicts.py`); the tasks return their cluster counts
        spill.near = [spill.path("near", int(p)) for p in tasks]
        items = [(parts[int(p)], int(p), cfg, out, spill.n_join) for p, out in zip(tasks, spill.near)]
        spill.near_clusters = sum(executor.map(dverdicts.cluster_to_file, items))
        gout = [spill.path("near", len(tasks) + i) for i in range(len(giants))]
        items = [(gpaths, int(c), cfg, d, out, spill.n_join) for c, d, out in zip(giants, gdirs, gout)]
        spill.near_clusters += sum(executor.map(dverdicts.giant_to_file, items))
        spill.near += gout
        near = None
    plan.hold(near, exact, g, comp, weight)
    for folder in ("candidates", "giant"):  # a copy of key rows: disk
        shutil.rmtree(os.path.join(work_dir, folder), ignore_errors=True)
    return near


def _pack(
    plan: _Plan, g: np.ndarray, comp: np.ndarray, cuts: np.ndarray, cfg: DedupConfig, min_tasks: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cluster task of each candidate (-1: a giant component), whether its shingle sets are
    read, and the giant components' labels.

    A candidate's cost is its signature and rank columns (ROW_BYTES) plus 4 bytes per
    shingle when its component is verified on shingle sets (<= verify_max_cluster members);
    components are packed whole, in label order, into tasks of about CLUSTER_TASK_BYTES
    (at least `min_tasks` tasks when there is enough to share)."""
    labels, inv, members = np.unique(comp, return_inverse=True, return_counts=True)
    need_sh = (members[inv] <= cfg.verify_max_cluster) & (cfg.verify == "exact")
    cost = np.full(len(g), ROW_BYTES + 4 * cfg.num_perm, np.int64)
    for s, src in enumerate(plan.all):  # + shingles of those verified on them
        a, b = cuts[s], cuts[s + 1]
        if a < b and need_sh[a:b].any():
            n_sh = pq.read_table(src.path, columns=["n_shingles"], **TABLE_READ).column(0).to_numpy()
            cost[a:b] += 4 * n_sh[g[a:b] - plan.starts[s]] * need_sh[a:b]
    comp_cost = np.bincount(inv, weights=cost).astype(np.int64)
    giant = (members > cfg.verify_max_cluster) & (comp_cost > CLUSTER_TASK_BYTES)
    budget = min(CLUSTER_TASK_BYTES, max(1, -(-int(comp_cost[~giant].sum()) // min_tasks)))
    before = np.cumsum(np.where(giant, 0, comp_cost)) - np.where(giant, 0, comp_cost)
    comp_task = np.where(giant, -1, before // budget)
    return comp_task[inv], need_sh, labels[giant]


def _counts(exact: pa.Table | None, near: pa.Table | None, verdicts: pa.Table | None) -> dict[str, int]:
    out = {"exact_duplicates": 0, "near_duplicates": 0, "exact_clusters": 0, "near_clusters": 0}
    if verdicts is not None:
        kind = verdicts.column("kind").to_numpy()
        out["exact_duplicates"] = int((kind == KIND_EXACT).sum())
        out["near_duplicates"] = int((kind == KIND_NEAR).sum())
    if exact is not None:
        out["exact_clusters"] = len(_exact_groups(exact)[1])
    if near is not None:
        nk = near.column("kind").to_numpy()
        out["near_clusters"] = len(np.unique(near.column("rep_g").to_numpy()[nk == KIND_NEAR]))
    out["removed"] = out["exact_duplicates"] + out["near_duplicates"]
    return out


def _write_verdicts(
    plan: _Plan, verdicts: pa.Table | None, units: list[int], work_dir: str, cfg: DedupConfig
) -> dict[int, np.ndarray]:
    """One verdict file per unit (empty when it has no duplicates). Returns, per source of
    this run, the rows that are duplicates (for the index)."""
    if verdicts is None:
        verdicts = _empty([("g", pa.int64())] + VERDICT_FIELDS)
    which = np.searchsorted(np.asarray(plan.offsets), verdicts.column("g").to_numpy(), side="right") - 1
    dup_rows: dict[int, np.ndarray] = {}
    per_unit: dict[int, list[pa.Table]] = {u: [] for u in units}
    for s, src in enumerate(plan.sources):
        part = verdicts.filter(pa.array(which == s))
        local = part.column("g").to_numpy() - plan.starts[s]
        dup_rows[s] = local[part.column("is_dup").to_numpy(zero_copy_only=False)]
        part = part.drop_columns(["g"])
        if cfg.level == "repo":  # a repository's verdict goes to every unit holding its files
            lists = pq.read_table(src.path, columns=["units"], **TABLE_READ).column(0).combine_chunks().take(pa.array(local))
            part = part.take(pc.list_parent_indices(lists))
            unit_of = lists.flatten().to_numpy()
            for u in np.unique(unit_of):
                per_unit[int(u)].append(part.filter(pa.array(unit_of == u)))
        else:
            per_unit[src.unit].append(part)
    empty = _empty(VERDICT_FIELDS)
    for u, parts in per_unit.items():
        _write(pa.concat_tables([empty] + parts), verdict_path(work_dir, u))
    return dup_rows


def _write(table: pa.Table, path: str) -> None:
    write_parquet_atomic(table, path)
