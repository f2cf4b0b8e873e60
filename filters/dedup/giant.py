"""Giant near-duplicate components, clustered in bounded memory (one task per component).

A component with more than `verify_max_cluster` members is clustered on MinHash estimates
alone (`cluster._greedy`'s large branch): best-first, each member joins the best-ranked
*kept* document that shares an LSH bucket with it and whose estimated Jaccard similarity
reaches the threshold, or is kept itself. When such a component is larger than a cluster
task's budget (`resolve.CLUSTER_TASK_BYTES`), this module computes the same verdicts
without holding the component:

1. members arrive in rank order from a k-way merge of the scatter files (each source's rows
   of the component are sorted by rank and written in row groups of `rows_per_group`), so
   at most one row group per source is in memory;
2. the kept documents found so far are kept in *segments* of at most `SEGMENT_ROWS`
   documents, written to disk once full; each chunk of members is matched against every
   segment with vectorized bucket joins (`PAIR_BATCH` pairs at a time), then the members
   without a match are visited in order against the chunk's own kept documents;
3. output rows (g, id, rep_g, rep_id, size, kind) are written per chunk; `size` (the
   documents each kept one stands for) is only known at the end, so a last pass over the
   chunks fills it and the representatives' ids from the segments.

What grows with the component is 16 bytes per kept document (its `size` and position) and
the segment files on disk; everything else is bounded by the constants below.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from codesieve.filters.dedup.cluster import KIND_NEAR, KIND_NONE, DedupConfig, rank_keys, row_groups_where
from codesieve.filters.dedup.minhash import band_hashes

SEGMENT_ROWS = 16_384  # kept documents per segment (sig + bands: ~11 MB at 128 permutations)
PAIR_BATCH = 65_536  # candidate pairs compared at once (~2 x 32 MB of signatures)


def merged(paths: list[str], comp: int, cfg: DedupConfig) -> Iterator[pa.Table]:
    """The rows of component `comp` from every scatter file, in rank order, a bounded chunk
    at a time (k-way merge; each file's rows are sorted by rank within the component)."""
    files = [(pf := pq.ParquetFile(p), row_groups_where(pf.metadata, "comp", comp)) for p in paths]
    files = [(f, gs) for f, gs in files if gs]
    keys = rank_keys(cfg.priority) + [("g", "ascending")]
    buf: list[pa.Table | None] = [None] * len(files)
    nxt = [0] * len(files)
    while True:
        for s, (f, gs) in enumerate(files):  # refill the sources whose rows are all emitted
            if (buf[s] is None or buf[s].num_rows == 0) and nxt[s] < len(gs):
                part = f.read_row_group(gs[nxt[s]])
                buf[s] = part.append_column("_src", pa.array(np.full(part.num_rows, s, np.int32)))
                nxt[s] += 1
        live = [b for b in buf if b is not None and b.num_rows]
        if not live:
            return
        t = pa.concat_tables(live, promote_options="permissive").sort_by(keys)
        src = t.column("_src").to_numpy()
        # everything up to the last buffered row of a source with unread row groups is final
        open_src = [s for s in range(len(files)) if nxt[s] < len(files[s][1])]
        cut = t.num_rows
        for s in open_src:
            cut = min(cut, int(np.flatnonzero(src == s)[-1]) + 1)
        yield t.slice(0, cut)
        rest = t.slice(cut)
        rsrc = src[cut:]
        for s in range(len(files)):
            keep = rsrc == s
            buf[s] = rest.filter(pa.array(keep)) if keep.any() else None


class _Segments:
    """Kept documents: full segments on disk, the current one in memory."""

    def __init__(self, folder: str, num_perm: int, cfg: DedupConfig):
        self.folder, self.cfg, self.files = folder, cfg, []
        self.pos = np.zeros(0, np.int64)  # current segment: rank positions, signatures
        self.sig = np.zeros((0, num_perm), np.uint32)
        self.g = np.zeros(0, np.int64)
        self.ids: list[str] = []
        os.makedirs(folder, exist_ok=True)

    def add(self, pos: np.ndarray, sig: np.ndarray, g: np.ndarray, ids: list[str]) -> None:
        self.pos, self.sig = np.concatenate([self.pos, pos]), np.concatenate([self.sig, sig])
        self.g, self.ids = np.concatenate([self.g, g]), self.ids + ids
        if len(self.pos) >= SEGMENT_ROWS:
            path = os.path.join(self.folder, f"seg-{len(self.files):06d}.pq")
            flat = pa.array(self.sig.reshape(-1))
            pq.write_table(pa.table({"pos": self.pos, "g": self.g, "id": pa.array(self.ids, pa.string()),
                                     "sig": pa.FixedSizeListArray.from_arrays(flat, self.sig.shape[1])}), path)
            self.files.append(path)
            self.pos, self.sig, self.g, self.ids = self.pos[:0], self.sig[:0], self.g[:0], []

    def each(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """(positions, signatures, g, ids) of every segment, oldest first."""
        for path in self.files:
            t = pq.read_table(path)
            sig = np.asarray(t.column("sig").combine_chunks().flatten().to_numpy(), np.uint32)
            yield (t.column("pos").to_numpy(), sig.reshape(t.num_rows, -1), t.column("g").to_numpy(),
                   np.array(t.column("id").to_pylist(), dtype=object))
        yield self.pos, self.sig, self.g, np.array(self.ids, dtype=object)


def _best_kept(sig: np.ndarray, bands: np.ndarray, seg_pos: np.ndarray, seg_sig: np.ndarray,
               cfg: DedupConfig, best: np.ndarray) -> None:
    """best[i] = min(best[i], rank position of the best kept document of the segment that
    shares a bucket with member i and whose estimate reaches the threshold)."""
    if not len(seg_pos):
        return
    seg_bands = band_hashes(seg_sig, cfg.bands, cfg.rows)
    for j in range(seg_bands.shape[1]):
        order = np.argsort(seg_bands[:, j], kind="stable")
        sb = seg_bands[order, j]
        lo = np.searchsorted(sb, bands[:, j], "left")
        cnt = np.searchsorted(sb, bands[:, j], "right") - lo
        todo = np.flatnonzero(cnt)
        while len(todo):  # members in batches of about PAIR_BATCH pairs
            take = max(1, int(np.searchsorted(np.cumsum(cnt[todo]), PAIR_BATCH, "right")))
            m, todo = todo[:take], todo[take:]
            c = cnt[m]
            mem = np.repeat(m, c)
            k = order[np.repeat(lo[m], c) + np.arange(len(mem)) - np.repeat(np.cumsum(c) - c, c)]
            est = (sig[mem] == seg_sig[k]).mean(axis=1)
            ok = est >= cfg.threshold
            np.minimum.at(best, mem[ok], seg_pos[k[ok]])


def _visit(chunk: pa.Table, start: int, segs: _Segments, cfg: DedupConfig) -> np.ndarray:
    """Rank position of each chunk member's representative (its own when it is kept)."""
    n = chunk.num_rows
    sig = np.asarray(chunk.column("sig").combine_chunks().flatten().to_numpy(), np.uint32).reshape(n, -1)
    bands = band_hashes(sig, cfg.bands, cfg.rows)
    none = np.iinfo(np.int64).max
    best = np.full(n, none, np.int64)
    for seg_pos, seg_sig, _, _ in segs.each() if cfg.verify != "none" else ():
        _best_kept(sig, bands, seg_pos, seg_sig, cfg, best)
    rep = np.arange(start, start + n, dtype=np.int64)
    buckets: dict[tuple[int, int], list[int]] = {}
    kept: list[int] = []
    for i in range(n):
        if cfg.verify == "none":  # everything joins the first document
            if start + i > 0:
                rep[i] = 0
            elif not kept:
                kept.append(i)
            continue
        if best[i] != none:
            rep[i] = best[i]
            continue
        cands: set[int] = set()
        for j, bh in enumerate(bands[i]):
            cands.update(buckets.get((j, int(bh)), ()))
        found = next((k for k in sorted(cands) if (sig[k] == sig[i]).mean() >= cfg.threshold), -1)
        if found >= 0:
            rep[i] = start + found
            continue
        for j, bh in enumerate(bands[i]):
            buckets.setdefault((j, int(bh)), []).append(i)
        kept.append(i)
    k = np.asarray(kept, np.int64)
    segs.add(start + k, sig[k], chunk.column("g").to_numpy()[k], chunk.column("id").take(pa.array(k)).to_pylist())
    return rep


def giant_task(paths: list[str], comp: int, cfg: DedupConfig, folder: str) -> int:
    """Cluster one giant component; writes its rows (g, id, rep_g, rep_id, size, kind) to
    `folder`/rows-*.pq (read them with `rows`). Returns its number of near clusters."""
    shutil.rmtree(folder, ignore_errors=True)
    segs = _Segments(os.path.join(folder, "segments"), cfg.num_perm, cfg)
    start, chunks = 0, []
    weight: list[np.ndarray] = []  # per chunk: (representative, weight) of members that are not kept
    kept_w: list[np.ndarray] = []
    for c, chunk in enumerate(_rechunk(merged(paths, comp, cfg), SEGMENT_ROWS)):
        rep = _visit(chunk, start, segs, cfg)
        w = chunk.column("w").to_numpy()
        own = rep == np.arange(start, start + len(rep))
        weight.append(_sum_by(rep[~own], w[~own]))
        kept_w.append(np.c_[rep[own], w[own]])
        path = os.path.join(folder, f"rows-{c:06d}.pq")
        pq.write_table(pa.table({"g": chunk.column("g"), "id": chunk.column("id"), "rep": pa.array(rep)}), path)
        chunks.append(path)
        start += chunk.num_rows
    near = _sum_by(*np.concatenate(weight).T) if weight else np.zeros((0, 2), np.int64)
    kept = np.concatenate(kept_w) if kept_w else np.zeros((0, 2), np.int64)
    size = kept[:, 1].copy()  # a kept document stands for itself (and its exact duplicates) ...
    size[np.searchsorted(kept[:, 0], near[:, 0])] += near[:, 1]  # ... plus its near duplicates
    _finish(chunks, kept[:, 0], size, segs)
    return len(near)


def _rechunk(tables: Iterator[pa.Table], rows: int) -> Iterator[pa.Table]:
    """The same rows in the same order, in tables of at least `rows` rows (but the last)."""
    held: list[pa.Table] = []
    n = 0
    for t in tables:
        held.append(t)
        n += t.num_rows
        if n >= rows:
            yield pa.concat_tables(held).combine_chunks()
            held, n = [], 0
    if n:
        yield pa.concat_tables(held).combine_chunks()


def _sum_by(key: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(unique key, sum of w per key) as an (n, 2) int64 array."""
    u, inv = np.unique(key, return_inverse=True)
    return np.c_[u, np.bincount(inv, weights=w, minlength=len(u)).astype(np.int64)].astype(np.int64)


def _finish(chunks: list[str], reps: np.ndarray, size: np.ndarray, segs: _Segments) -> None:
    """Rewrite each chunk's rows with the representative's g, id and cluster size."""
    for path in chunks:
        t = pq.read_table(path)
        rep = t.column("rep").to_numpy()
        rep_g = np.zeros(len(rep), np.int64)
        rep_id = np.empty(len(rep), dtype=object)
        for seg_pos, _, seg_g, seg_ids in segs.each():
            idx = np.searchsorted(seg_pos, rep)
            hit = (idx < len(seg_pos)) & (seg_pos[np.minimum(idx, len(seg_pos) - 1)] == rep) if len(seg_pos) else None
            if hit is None or not hit.any():
                continue
            rep_g[hit] = seg_g[idx[hit]]
            rep_id[hit] = seg_ids[idx[hit]]
        kind = np.where(rep_g != t.column("g").to_numpy(), KIND_NEAR, KIND_NONE).astype(np.int8)
        out = pa.table({
            "g": t.column("g"), "id": t.column("id"), "rep_g": pa.array(rep_g),
            "rep_id": pa.array(rep_id.tolist(), t.column("id").type),
            "size": pa.array(size[np.searchsorted(reps, rep)]), "kind": pa.array(kind),
        })
        pq.write_table(out, path)
    shutil.rmtree(segs.folder, ignore_errors=True)


def rows(folder: str) -> Iterator[pa.Table]:
    """The output rows of `giant_task`, a chunk at a time."""
    for name in sorted(os.listdir(folder)):
        if name.startswith("rows-"):
            yield pq.read_table(os.path.join(folder, name))
