"""The `dedup` gate: exact (128-bit content hash) and near (MinHash LSH) dedup, global.

Pass 1 (`prepare`) turns each document into keys: content hash, shingle count, MinHash
signature, LSH band hashes and (for verification) its shingle hashes. The global step
(`resolve`, see `filters/dedup/resolve.py`) clusters all units' keys as executor tasks and
writes per-unit verdicts; pass 2 (`apply`) reads only its own unit's verdicts and fails
every non-representative with `duplicate` (exact copy) or `near_duplicate`.
"""

from __future__ import annotations

import os
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash
from pydantic import Field

from codesieve.core.atomic import TABLE_READ
from codesieve.core.base import GateResult, GlobalGate, Params, UnitContext
from codesieve.core.batch import DocBatch
from codesieve.core.errors import ConfigError
from codesieve.core.registry import register_gate
from codesieve.filters.dedup.cluster import KIND_NEAR, DedupConfig, band_column
from codesieve.filters.dedup.license import strip_license_headers
from codesieve.filters.dedup.minhash import band_hashes, optimal_bands, signatures
from codesieve.filters.dedup.resolve import resolve as resolve_global
from codesieve.filters.dedup.resolve import verdict_path
from codesieve.filters.dedup.shingles import ShingleConfig, shingle_hashes


def content_hashes(text: pa.Array, normalize_whitespace: bool = False) -> pa.Array:
    """xxh3-128 digest of each document (fixed_size_binary(16)).

    One C call per document (~2 GB/s): xxhash has no batch API; the loop costs ~0.3 us/doc.
    """
    if normalize_whitespace:
        text = pc.utf8_trim_whitespace(pc.replace_substring_regex(text, r"\s+", " "))
    digest = xxhash.xxh3_128_digest
    return pa.array([digest(s) for s in text.cast(pa.large_binary()).to_pylist()], pa.binary(16))


class DedupParams(Params):
    exact: bool = Field(True, description="remove exact duplicates (xxh3-128 of the content)")
    normalize_whitespace: bool = Field(False, description="collapse whitespace runs before exact hashing")
    near: bool = Field(True, description="remove near-duplicates (MinHash LSH, verified)")
    threshold: float = Field(0.7, gt=0, le=1, description="Jaccard similarity of shingle sets that makes a near-duplicate")
    ngram: int = Field(5, ge=1, description="tokens per shingle")
    tokens: Literal["code", "words"] = Field(
        "words", description="'words': runs of letters, digits and _ (nothing is stripped from them); "
        "'code': also every punctuation character as a token"
    )
    lowercase: bool = Field(True, description="fold ASCII case before shingling")
    strip_license: bool = Field(
        False, description="drop a leading comment block that mentions a licence before near-dedup shingling"
    )
    num_perm: int = Field(128, ge=8, description="MinHash permutations (signature length)")
    bands: int | None = Field(None, ge=1, description="LSH bands (None: datasketch's optimal rule)")
    rows: int | None = Field(None, ge=1, description="signature values per band (None: optimal rule)")
    fp_weight: float = Field(
        0.1, ge=0, description="weight of false positives in the optimal-bands rule (candidates are verified)"
    )
    fn_weight: float = Field(0.9, ge=0, description="weight of false negatives in the optimal-bands rule")
    seed: int = Field(42, description="seed of shingle hashes and MinHash permutations")
    verify: Literal["exact", "signature", "none"] = Field(
        "exact",
        description="check candidates: true Jaccard of shingle sets ('exact'), MinHash estimate "
        "('signature'), or plain connected components ('none')",
    )
    verify_max_cluster: int = Field(
        1000, ge=1, description="components larger than this use the MinHash estimate instead of true Jaccard"
    )
    prefilter_margin: float = Field(
        0.15, ge=0, le=1,
        description="exact verification skips pairs whose MinHash estimate is below threshold - margin "
        "(0.15 = 3.7 standard errors at J=0.7 and 128 permutations)",
    )
    priority: list[str] = Field(
        [],  # pydantic copies mutable defaults per instance
        description="columns that choose the representative: 'col' keeps the highest, '-col' the lowest "
        "(then longest, then smallest id)",
    )
    partitions: int = Field(2, ge=1, description="hash-range partitions per step (tasks = bands x partitions)")
    level: Literal["file", "repo"] = Field(
        "file", description="'repo': dedup whole repositories (all files of a repo_name) as DeepSeek-Coder"
    )
    index_dir: str | None = Field(
        None, description="persistent dedup index: dedup against earlier runs, then append this run"
    )


@register_gate("dedup")
class DedupGate(GlobalGate):
    """Exact and near duplicates (global): one representative per cluster is kept."""

    resolve_only = ("index_dir", "verify", "verify_max_cluster", "prefilter_margin", "partitions")
    cli_options = {"--dedup-index": "index_dir"}

    Params = DedupParams

    def __init__(self, params: DedupParams):
        super().__init__(params)
        p = params
        if (p.bands is None) != (p.rows is None):
            raise ConfigError("dedup: give both `bands` and `rows`, or neither")
        if p.bands is not None and p.rows is not None and p.bands * p.rows > p.num_perm:
            raise ConfigError(f"dedup: bands x rows = {p.bands * p.rows} exceeds num_perm = {p.num_perm}")
        if p.bands is None:
            bands, rows = optimal_bands(p.threshold, p.num_perm, p.fp_weight, p.fn_weight)
        else:
            bands, rows = p.bands, p.rows  # type: ignore[assignment]
        self.config = DedupConfig(
            exact=p.exact, near=p.near, threshold=p.threshold, num_perm=p.num_perm, bands=bands,
            rows=rows, shingles=ShingleConfig(p.ngram, p.tokens, p.lowercase, p.seed), verify=p.verify,
            verify_max_cluster=p.verify_max_cluster, level=p.level,
            prefilter_margin=p.prefilter_margin, priority=tuple(p.priority), partitions=p.partitions,
        )

    def output_fields(self) -> list[pa.Field]:
        return [pa.field("dup_cluster", pa.string()), pa.field("dup_cluster_size", pa.int32())]

    def prepare(self, batch: DocBatch, ctx: UnitContext) -> pa.Table:
        p, cfg = self.params, self.config
        cols: dict[str, pa.Array] = {
            "id": batch.column("id"),
            "bytes": pa.array(batch.byte_len, pa.int64()),
            "h": content_hashes(batch.text, p.normalize_whitespace),
        }
        for name in p.priority:
            col = batch.column(name.lstrip("-"))
            cols[f"prio_{name.lstrip('-')}"] = col if col is not None else pa.nulls(batch.num_rows)
        text = strip_license_headers(batch.text) if p.strip_license else batch.text
        hashes, offsets = shingle_hashes(text, cfg.shingles)
        cols["n_shingles"] = pa.array(np.diff(offsets).astype(np.int32))
        sigs = signatures(hashes, offsets, cfg.num_perm, p.seed) if p.near else None
        if sigs is not None:
            cols["sig"] = pa.FixedSizeListArray.from_arrays(pa.array(sigs.reshape(-1)), cfg.num_perm)
        if p.near and p.verify == "exact":
            # 32 bits per shingle suffice for a set's Jaccard (collision odds ~ n/2^32)
            low = (hashes & np.uint64(0xFFFFFFFF)).astype(np.uint32)
            cols["shingles"] = pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), pa.array(low))
        keys = pa.table(cols)
        if p.level == "repo":
            from codesieve.filters.dedup.repo import repo_ids, repo_keys

            return repo_keys(keys, repo_ids(batch))  # bands are added after the global merge
        if sigs is not None:
            for j, col in enumerate(band_hashes(sigs, cfg.bands, cfg.rows).T):
                keys = keys.append_column(band_column(j), pa.array(col))
        return keys

    def resolve(self, key_files: list[str], work_dir: str, executor: Any) -> dict[str, Any]:
        self._check_priority(key_files)
        return resolve_global(key_files, work_dir, executor, self.config, index_dir=self.params.index_dir)

    def _check_priority(self, key_files: list[str]) -> None:
        """A priority column that no input row has is a typo, not a preference."""
        for name in self.params.priority:
            col = f"prio_{name.lstrip('-')}"
            valid = 0
            for path in key_files:
                if not os.path.exists(path):
                    continue
                pf = pq.ParquetFile(path)
                if col not in pf.schema_arrow.names or pa.types.is_null(pf.schema_arrow.field(col).type):
                    continue  # the units' batches had no such column
                md = pf.metadata
                names = [md.schema.column(j).name for j in range(md.num_columns)]
                j = names.index(col)
                for g in range(md.num_row_groups):
                    stats = md.row_group(g).column(j).statistics
                    rows = md.row_group(g).num_rows
                    valid += rows - (stats.null_count if stats is not None and stats.has_null_count else 0)
                if valid:
                    break
            if not valid:
                raise ConfigError(f"dedup.priority: no input row has a column {name.lstrip('-')!r} "
                                  "(priority names input columns such as stars or version)")

    def apply(self, batch: DocBatch, ctx: UnitContext) -> GateResult:
        n = batch.num_rows
        ids = batch.column("id")
        cluster: pa.Array = ids
        size = np.ones(n, dtype=np.int32)
        is_dup = np.zeros(n, dtype=bool)
        near = np.zeros(n, dtype=bool)
        key = ids
        if self.params.level == "repo":
            from codesieve.filters.dedup.repo import repo_ids

            key = repo_ids(batch)
            cluster = key
        path = verdict_path(ctx.gate_dir, ctx.unit)
        v = pq.read_table(path, **TABLE_READ) if os.path.exists(path) else None
        if v is not None and v.num_rows:
            pos = pc.index_in(key, v.column("id"))
            hit = pc.is_valid(pos).to_numpy(zero_copy_only=False)
            idx = pc.fill_null(pos, 0)
            cluster = pc.if_else(pa.array(hit), pc.take(v.column("dup_cluster"), idx), key)
            size = np.where(hit, pc.take(v.column("dup_cluster_size"), idx).to_numpy(), 1).astype(np.int32)
            is_dup = hit & pc.take(v.column("is_dup"), idx).to_numpy(zero_copy_only=False)
            near = is_dup & (pc.take(v.column("kind"), idx).to_numpy() == KIND_NEAR)
        cols = {"dup_cluster": cluster, "dup_cluster_size": pa.array(size, pa.int32())}
        fails = np.stack([is_dup & ~near, near], axis=1)
        return GateResult(cols, fails, ["duplicate", "near_duplicate"])
