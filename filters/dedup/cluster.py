"""The global dedup step: exact groups, LSH banding, components, verified clusters.

Inputs are *sources*: the per-unit key tables written in pass 1 (plus, for incremental
runs, the parts of a persistent index). Every document gets a global integer `g` =
offset of its source + row; `g` lives only inside this step (verdicts are written by the
documents' stable ids), so no positional id ties pass 1 to pass 2.

Steps (each a list of independent tasks for `executor.map`; no task holds the corpus):
1. exact: per 128-bit-hash range, group equal content hashes; the best document of each
   group (by `rank_keys`) represents it, the others are exact duplicates;
2. banding: per (band, hash range), documents with an equal band hash become candidate
   edges; a compiled union-find (`components` in codesieve/core/_kernels.c; scipy's
   `connected_components` without it) reduces each task's edges to a forest
   (node -> smallest node of its component), and forests are merged as they arrive;
3. clusters: each source's candidate rows are scattered once into a file with one row
   group per cluster task (`scatter_task`); each cluster task (whole components packed
   into about `resolve.CLUSTER_TASK_BYTES`; a giant one alone: `giant.py`) reads its row groups
   and visits its documents best-first; each joins the first already-kept document whose Jaccard similarity with it reaches the threshold
   (verified on the exact shingle sets for components up to `verify_max_cluster`, else
   estimated from signatures), or is kept itself. So every removed document has a kept
   near-duplicate, which transitive chains (A~B~C, A!~C) would not give.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from codesieve.core.atomic import TABLE_READ, TASK_READ
from codesieve.filters.dedup.minhash import band_hashes, estimated_jaccard
from codesieve.filters.dedup.shingles import ShingleConfig

try:
    from codesieve.core import _kernels  # compiled by `pip install -e .` (setup.py); optional
except ImportError:  # pragma: no cover - exercised only without a C compiler
    _kernels = None

KIND_NONE, KIND_EXACT, KIND_NEAR = 0, 1, 2
SORT_CHUNK_SHINGLES = 1_000_000  # shingles a cluster task sorts into sets at once (~40 MB while sorting)


@dataclass(frozen=True)
class DedupConfig:
    """Parameters of the global step (built from the gate's Params)."""

    exact: bool = True
    near: bool = True
    threshold: float = 0.7
    num_perm: int = 128
    bands: int = 20
    rows: int = 6
    shingles: ShingleConfig = field(default_factory=ShingleConfig)
    verify: str = "exact"  # exact | signature | none
    verify_max_cluster: int = 1000
    prefilter_margin: float = 0.15
    priority: tuple[str, ...] = ()
    partitions: int = 2
    level: str = "file"  # file | repo


@dataclass(frozen=True)
class Source:
    """One key table: a pass-1 unit (unit >= 0) or a persistent-index part (unit = -1)."""

    path: str
    rows: int
    unit: int
    indexed: bool = False


def band_column(j: int) -> str:
    return f"band_{j:03d}"


def rank_keys(priority: tuple[str, ...] | list[str]) -> list[tuple[str, str]]:
    """Best-first order: indexed (seen in an earlier run) first, then the configured
    priority columns ('col' = highest wins, '-col' = lowest wins), longest, smallest id."""
    order = [("_indexed", "descending")]
    for p in priority:
        col, desc = (p[1:], "ascending") if p.startswith("-") else (p, "descending")
        order.append((f"prio_{col}", desc))
    return order + [("bytes", "descending"), ("id", "ascending")]


def _read(src: Source, columns: list[str], priority: tuple[str, ...]) -> pa.Table:
    """Read `columns` of a source; missing priority columns become nulls."""
    schema = pq.read_schema(src.path)
    have = [c for c in columns if c in schema.names]
    table = pq.read_table(src.path, columns=have, **TABLE_READ)
    for c in columns:
        if c not in schema.names:
            if c.startswith("prio_"):
                table = table.append_column(c, pa.nulls(table.num_rows))
            else:
                raise KeyError(f"{src.path}: no column {c!r}")
    return table


def _rank_columns(priority: tuple[str, ...]) -> list[str]:
    return ["id", "bytes"] + [f"prio_{p.lstrip('-')}" for p in priority]


def _h_words(h: pa.Array) -> np.ndarray:
    """fixed_size_binary(16) hashes as an (n, 2) uint64 array."""
    h = h.combine_chunks() if isinstance(h, pa.ChunkedArray) else h
    buf = np.frombuffer(h.buffers()[1], dtype=np.uint64)
    return buf[2 * h.offset : 2 * (h.offset + len(h))].reshape(-1, 2)


# ------------------------------------------------------------------------------------
# 1. exact


def exact_task(sources: list[Source], offsets: list[int], part: int, cfg: DedupConfig) -> pa.Table:
    """Exact-duplicate groups among documents whose hash falls in partition `part`.

    Returns (g, id, rep_g, rep_id, size) for members of groups of two or more.
    """
    cols = _rank_columns(cfg.priority)
    pieces = []
    for src, off in zip(sources, offsets):
        t = _read(src, ["h"] + cols, cfg.priority)
        words = _h_words(t.column("h"))
        mask = (words[:, 0] % np.uint64(cfg.partitions)) == part
        rows = np.flatnonzero(mask)
        t = t.take(pa.array(rows)).drop_columns(["h"])
        t = t.append_column("h0", pa.array(words[rows, 0])).append_column("h1", pa.array(words[rows, 1]))
        t = t.append_column("g", pa.array(rows + off, pa.int64()))
        t = t.append_column("_indexed", pa.array(np.full(len(rows), src.indexed)))
        pieces.append(t)
    t = pa.concat_tables(pieces, promote_options="permissive")
    t = t.sort_by([("h0", "ascending"), ("h1", "ascending")] + rank_keys(cfg.priority))
    h0, h1 = t.column("h0").to_numpy(), t.column("h1").to_numpy()
    first = np.ones(len(h0), dtype=bool)
    first[1:] = (h0[1:] != h0[:-1]) | (h1[1:] != h1[:-1])
    group = np.cumsum(first) - 1
    sizes = np.bincount(group) if len(group) else np.zeros(0, np.int64)
    starts = np.flatnonzero(first)
    keep = sizes[group] > 1 if len(group) else np.zeros(0, bool)
    g = t.column("g").to_numpy()
    ids = t.column("id").combine_chunks()
    rep = starts[group]
    return pa.table(
        {
            "g": pa.array(g[keep]),
            "id": ids.filter(pa.array(keep)),
            "rep_g": pa.array(g[rep][keep]),
            "rep_id": ids.take(pa.array(rep[keep])),
            "size": pa.array(sizes[group][keep].astype(np.int64)),
        }
    )


# ------------------------------------------------------------------------------------
# 2. banding


def forest(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Connected components of the edges (a[i], b[i]) as (node, smallest node of its
    component) pairs, for every node that is not its component's smallest."""
    if len(a) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    nodes, inv = np.unique(np.concatenate([a, b]), return_inverse=True)
    n = len(nodes)
    m = len(a)
    inv = inv.astype(np.int64)
    r = np.empty(n, np.int64)  # nodes are sorted: smallest index = smallest g
    if _kernels is not None:  # compiled union-find: no scipy import (~0.3 CPU-s per process)
        _kernels.components(np.ascontiguousarray(inv[:m]), np.ascontiguousarray(inv[m:]), r)
    else:
        r[:] = smallest_in_component_scipy(inv[:m], inv[m:], n)
    child = r != np.arange(n)
    return nodes[child], nodes[r[child]]


def smallest_in_component_scipy(u: np.ndarray, v: np.ndarray, n: int) -> np.ndarray:
    """The smallest node of each node's component (edges u[k]-v[k], nodes 0..n-1), by scipy's
    connected_components: the reference of the compiled `components` kernel."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(u), np.int8), (u, v)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    root = np.full(labels.max() + 1, n, np.int64)
    np.minimum.at(root, labels, np.arange(n))
    return root[labels]


def band_task(
    sources: list[Source], offsets: list[int], bands: tuple[int, ...], part: int, excluded: np.ndarray,
    cfg: DedupConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs of the bands `bands`, hash partition `part`, reduced to one forest.

    Each source is read once for all of those bands (one band per task read every key file
    bands x partitions times). `excluded` (sorted g) are exact duplicates already represented
    by another document. The forest's components do not depend on how bands are grouped.
    """
    cols = [band_column(j) for j in bands]
    gs: list[np.ndarray] = []
    hs: list[list[np.ndarray]] = [[] for _ in cols]
    for src, off in zip(sources, offsets):
        t = pq.ParquetFile(src.path).read(columns=cols + ["n_shingles"], **TASK_READ)
        keep = t.column("n_shingles").to_numpy() > 0
        lo, hi = np.searchsorted(excluded, [off, off + t.num_rows])  # this source's share only
        keep[excluded[lo:hi] - off] = False
        g = np.flatnonzero(keep).astype(np.int64) + off
        for k, col in enumerate(cols):
            bh = t.column(col).to_numpy()[keep]
            mine = bh % np.uint64(cfg.partitions) == part
            hs[k].append(bh[mine])
            gs.append(g[mine])
    heads, members = [], []
    for k in range(len(cols)):
        g = np.concatenate(gs[k :: len(cols)])
        bh = np.concatenate(hs[k])
        order = np.lexsort((g, bh))
        g, bh = g[order], bh[order]
        first = np.ones(len(bh), dtype=bool)
        first[1:] = bh[1:] != bh[:-1]
        head = g[np.flatnonzero(first)[np.cumsum(first) - 1]]  # first document of each bucket
        heads.append(head[~first])
        members.append(g[~first])
    return forest(np.concatenate(heads), np.concatenate(members))


# ------------------------------------------------------------------------------------
# 3. verified clusters


def _exact_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard similarity of two sorted unique arrays (binary search, no merge sort)."""
    if len(a) > len(b):
        a, b = b, a
    if len(a) == 0:
        return 1.0 if len(b) == 0 else 0.0
    pos = np.minimum(np.searchsorted(b, a), len(b) - 1)
    inter = int(np.count_nonzero(b[pos] == a))
    return inter / (len(a) + len(b) - inter)


def scatter_task(
    src: Source, start: int, g: np.ndarray, comp: np.ndarray, weight: np.ndarray, task: np.ndarray, path: str,
    cfg: DedupConfig, need_sh: np.ndarray | None = None, giant_rows: int = 0,
) -> int:
    """Copy one source's candidate rows (rank columns, signature, shingles) to `path`, one
    row group per cluster task, so that a cluster task reads its own rows and nothing else.

    g (sorted), comp, weight, task: the source's candidates, their component, how many
    documents each stands for (1 + its exact duplicates) and the cluster task they go to
    (-1: a giant component, `giant.py`: its rows go to `path`.giant, sorted by rank, in row
    groups of at most `giant_rows` rows of one component). need_sh: whose shingle sets the
    clustering reads (members of components verified on them); the others' are left out.
    Returns the rows written."""
    # indexed parts carry shingles since issue 10 (older indexes: estimate only)
    has_sh = not src.indexed or "shingles" in pq.read_schema(src.path).names
    want = _rank_columns(cfg.priority) + ["sig"] + (["shingles"] if cfg.verify == "exact" and has_sh else [])
    order = np.argsort(task, kind="stable")
    t = _read(src, want, cfg.priority).take(pa.array(g[order] - start))
    if "shingles" not in t.column_names:
        t = t.append_column("shingles", pa.nulls(t.num_rows, pa.list_(pa.uint32())))
    elif need_sh is not None and not need_sh.all():
        sh = pc.if_else(pa.array(need_sh[order]), t.column("shingles"), pa.scalar(None, t.schema.field("shingles").type))
        t = t.set_column(t.schema.get_field_index("shingles"), "shingles", sh)
    for name, values in (("g", g), ("comp", comp), ("w", weight), ("task", task.astype(np.int32))):
        t = t.append_column(name, pa.array(values[order]))
    t = t.append_column("_indexed", pa.array(np.full(t.num_rows, src.indexed)))
    giant = task[order] < 0
    if giant.any():
        _write_giant(t.filter(pa.array(giant)).drop_columns(["shingles", "task"]), giant_rows, f"{path}.giant", cfg)
        t = t.filter(pa.array(~giant))
    bounds = np.flatnonzero(np.r_[True, np.diff(t.column("task").to_numpy()) != 0, True])
    _write_groups(t, bounds, path)
    return t.num_rows


def _write_groups(t: pa.Table, bounds: np.ndarray, path: str) -> None:
    """`t` written atomically to `path`, one row group per slice bounds[i]:bounds[i+1]."""
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".tmp-{os.getpid()}-{os.path.basename(path)}")
    with pq.ParquetWriter(tmp, t.schema, compression="none", use_dictionary=False) as writer:
        for a, b in itertools.pairwise(bounds):
            writer.write_table(t.slice(a, b - a))
    os.replace(tmp, path)


def _write_giant(t: pa.Table, rows: int, path: str, cfg: DedupConfig) -> None:
    """Giant components' rows sorted by (component, rank), row groups of one component and
    at most `rows` rows (`giant.merged` reads them back a row group per source at a time)."""
    t = t.sort_by([("comp", "ascending")] + rank_keys(cfg.priority) + [("g", "ascending")])
    comp = t.column("comp").to_numpy()
    starts = np.flatnonzero(np.r_[True, comp[1:] != comp[:-1]])
    ends = np.r_[starts[1:], len(comp)]
    cuts = np.unique(np.concatenate([np.arange(a, b, max(rows, 1)) for a, b in zip(starts, ends)] + [[len(comp)]]))
    _write_groups(t, cuts, path)


def cluster_task(parts: list[tuple[str, int]], task: int, cfg: DedupConfig) -> pa.Table:
    """Assign each candidate document of cluster task `task` to a kept representative (see
    module docstring), reading its rows from the scattered files: `parts` = (path, row
    group) of every file holding some (only those: a task reads its own row groups, so the
    step's reads grow with the candidates, not with tasks x files).
    Returns (g, id, rep_g, rep_id, size, kind)."""
    pieces = []
    for path, group in parts:
        piece = pq.ParquetFile(path).read_row_group(group, **TASK_READ)
        if np.any(piece.column("task").to_numpy() != task):  # the driver's map of row groups is wrong
            raise RuntimeError(f"{path}: row group {group} is not cluster task {task}'s")
        pieces.append(piece.drop_columns(["task"]))
    t = pa.concat_tables(pieces, promote_options="permissive")
    t = t.sort_by([("comp", "ascending")] + rank_keys(cfg.priority) + [("g", "ascending")])
    n = t.num_rows
    comp_s = t.column("comp").to_numpy()
    sigs = np.asarray(t.column("sig").combine_chunks().flatten().to_numpy(), np.uint32).reshape(n, -1)
    bands = band_hashes(sigs, cfg.bands, cfg.rows)
    w = t.column("w").to_numpy()
    sh = t.column("shingles").combine_chunks()
    raw_off, raw_val = sh.offsets.to_numpy(), sh.values.to_numpy(zero_copy_only=False)
    sh_ok = sh.is_valid().to_numpy(zero_copy_only=False)
    rep = np.arange(n)
    bounds = np.flatnonzero(np.r_[True, comp_s[1:] != comp_s[:-1], True])
    # shingle sets are sorted a chunk of rows at a time (~40 bytes per shingle while
    # sorting, so at most SORT_CHUNK_SHINGLES at once, whatever a component's size) into
    # one array of every row's sorted set (4 bytes per shingle)
    sh_off = np.zeros(n + 1, np.int64)
    sh_val = np.empty(int(raw_off[-1] - raw_off[0]), np.uint32)
    at = 0
    for ra, rb in itertools.pairwise(_chunk_cuts(raw_off, SORT_CHUNK_SHINGLES)):
        off, val = _sorted_sets(raw_off[ra : rb + 1], raw_val)
        sh_val[at : at + len(val)] = val
        sh_off[ra + 1 : rb + 1] = at + off[1:]
        at += len(val)
    sh_val = sh_val[:at]
    for a, b in itertools.pairwise(bounds):
        _greedy(a, b, rep, sigs, bands, sh_off, sh_val, sh_ok, cfg)
    size = np.bincount(rep, weights=w, minlength=n).astype(np.int64)
    ids = t.column("id").combine_chunks()
    gg = t.column("g").to_numpy()
    return pa.table(
        {
            "g": pa.array(gg),
            "id": ids,
            "rep_g": pa.array(gg[rep]),
            "rep_id": ids.take(pa.array(rep)),
            "size": pa.array(size[rep]),
            "kind": pa.array(np.where(rep != np.arange(n), KIND_NEAR, KIND_NONE).astype(np.int8)),
        }
    )


def row_groups_where(md: pq.FileMetaData, column: str, value: int) -> list[int]:
    """Row groups whose `column` holds only `value` (by their statistics)."""
    j = md.schema.to_arrow_schema().get_field_index(column)
    out = []
    for r in range(md.num_row_groups):
        st = md.row_group(r).column(j).statistics
        if st is not None and st.has_min_max and st.min == value == st.max:
            out.append(r)
    return out


def _chunk_cuts(at: np.ndarray, budget: int) -> list[int]:
    """Indexes into row boundaries (`at`: shingles before each) cutting the rows into
    chunks of about `budget` shingles; a row larger than that is a chunk alone."""
    cuts = [0]
    while cuts[-1] < len(at) - 1:
        nxt = int(np.searchsorted(at, at[cuts[-1]] + budget, side="right")) - 1
        cuts.append(max(nxt, cuts[-1] + 1))
    return cuts


def _sorted_sets(off: np.ndarray, val: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every row's shingle hashes as a sorted set: (offsets, values), all rows in one sort.

    Row i's values are val[off[i]:off[i+1]] (uint32); one uint64 sort of (row << 32 | value)
    replaces a `np.unique` per row (which was most of the clusters step's time)."""
    off = off.astype(np.int64)
    n = len(off) - 1
    row = np.repeat(np.arange(n, dtype=np.uint64), np.diff(off))
    key = (row << np.uint64(32)) | val[off[0] : off[-1]].astype(np.uint64)
    key.sort()
    if len(key):
        key = key[np.r_[True, key[1:] != key[:-1]]]
    new_off = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount((key >> np.uint64(32)).astype(np.int64), minlength=n), out=new_off[1:])
    return new_off, (key & np.uint64(0xFFFFFFFF)).astype(np.uint32)


def _greedy(
    a: int, b: int, rep: np.ndarray, sigs: np.ndarray, bands: np.ndarray,
    sh_off: np.ndarray, sh_val: np.ndarray, sh_ok: np.ndarray, cfg: DedupConfig,
) -> None:
    """Best-first greedy clustering of one component (rows a..b-1, already ranked).

    Small components (<= verify_max_cluster): each member is compared with every kept
    document whose MinHash estimate is within `prefilter_margin` of the threshold, then
    verified on the exact shingle sets. Large ones: only kept documents sharing an LSH
    bucket, judged by the estimate. A Python loop over LSH candidates only, a few numpy
    calls per step (timed as 'clusters' in benchmarks/dedup_speed.py).
    """
    small = (b - a) <= cfg.verify_max_cluster
    exact = cfg.verify == "exact" and small
    kept: list[int] = []
    kept_sigs = np.empty((b - a, sigs.shape[1]), sigs.dtype) if small else sigs[:0]
    buckets: dict[tuple[int, int], list[int]] = {}

    def shingle_set(i: int) -> np.ndarray | None:
        if not sh_ok[i]:
            return None
        return sh_val[sh_off[i] : sh_off[i + 1]]

    for i in range(a, b):
        if cfg.verify == "none":
            if kept:
                rep[i] = kept[0]
            else:
                kept.append(i)
            continue
        found = -1
        if small and kept:
            est = (kept_sigs[: len(kept)] == sigs[i]).mean(axis=1)
            floor = cfg.threshold - (cfg.prefilter_margin if exact else 0.0)
            for pos in np.flatnonzero(est >= floor):  # best-ranked kept document first
                k = kept[pos]
                sa, sb = (shingle_set(i), shingle_set(k)) if exact else (None, None)
                sim = _exact_jaccard(sa, sb) if sa is not None and sb is not None else est[pos]
                if sim >= cfg.threshold:
                    found = k
                    break
        elif kept:
            cands: set[int] = set()
            for j, bh in enumerate(bands[i]):
                cands.update(buckets.get((j, int(bh)), ()))
            for k in sorted(cands):
                if estimated_jaccard(sigs[i], sigs[k : k + 1])[0] >= cfg.threshold:
                    found = k
                    break
        if found >= 0:
            rep[i] = found
            continue
        if small:
            kept_sigs[len(kept)] = sigs[i]
        else:
            for j, bh in enumerate(bands[i]):
                buckets.setdefault((j, int(bh)), []).append(i)
        kept.append(i)
