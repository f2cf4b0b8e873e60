"""Persistent dedup index ("memory"): the band table of earlier runs.

Layout of DIR:
    index.json                 the parameters that make band hashes comparable
    parts/<run>-N.parquet     id, h, bytes, n_shingles, sig, band_* of the documents a run kept
    runs/<run>.json            written last: the run's parts (a run without it never happened)

A later run reads these parts as extra sources ranked above its own documents, so a new
document that duplicates an indexed one is removed and the indexed one stays the
representative, without re-reading the old data. Rerunning into the same output folder
replaces that run's own contribution (it is never deduped against itself).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from codesieve.core.atomic import write_json_atomic, write_parquet_atomic
from codesieve.core.errors import UserError
from codesieve.filters.dedup.cluster import DedupConfig, Source, band_column


def fingerprint(cfg: DedupConfig) -> dict[str, Any]:
    """What must match between runs for band hashes and signatures to be comparable."""
    s = cfg.shingles
    return {
        "format": 1, "level": cfg.level, "num_perm": cfg.num_perm, "bands": cfg.bands, "rows": cfg.rows,
        "ngram": s.ngram, "tokens": s.tokens, "lowercase": s.lowercase, "seed": s.seed,
    }


def run_tag(work_dir: str) -> str:
    """Names this run's contribution: the output folder it belongs to."""
    return hashlib.sha256(os.path.abspath(work_dir).encode()).hexdigest()[:16]


def open_index(index_dir: str, cfg: DedupConfig, exclude_run: str) -> list[Source]:
    """Sources for every committed run in `index_dir` except `exclude_run`.

    Creates the folder and its index.json on first use; a parameter mismatch is a
    UserError (mixing incompatible band tables would silently find nothing).
    """
    os.makedirs(os.path.join(index_dir, "runs"), exist_ok=True)
    meta_path = os.path.join(index_dir, "index.json")
    want = fingerprint(cfg)
    if os.path.exists(meta_path):
        with open(meta_path, encoding="utf-8") as fh:
            have = json.load(fh)
        if have != want:
            diff = {k: (have.get(k), v) for k, v in want.items() if have.get(k) != v}
            raise UserError(f"--dedup-index {index_dir}: built with other dedup parameters (index, now): {diff}")
    else:
        _write_json(want, meta_path)
    sources = []
    for path in sorted(glob.glob(os.path.join(index_dir, "runs", "*.json"))):
        if os.path.basename(path)[: -len(".json")] == exclude_run:
            continue
        with open(path, encoding="utf-8") as fh:
            run = json.load(fh)
        for part in run["parts"]:
            full = os.path.join(index_dir, "parts", part)
            sources.append(Source(full, pq.read_metadata(full).num_rows, -1, indexed=True))
    return sources


def index_part_task(src: Source, drop_rows: np.ndarray, out_path: str, cfg: DedupConfig) -> int:
    """Write the kept documents of one unit (all rows but `drop_rows`) as an index part."""
    # shingles too: a later run verifies candidates against indexed documents exactly as
    # against its own (else a rerun judges borderline pairs by the MinHash estimate only)
    cols = ["id", "h", "bytes", "n_shingles", "sig", "shingles"] + [band_column(j) for j in range(cfg.bands)]
    have = set(pq.read_schema(src.path).names)
    t = pq.read_table(src.path, columns=[c for c in cols if c in have])
    keep = np.ones(t.num_rows, dtype=bool)
    keep[drop_rows] = False
    t = t.filter(pa.array(keep))
    write_parquet_atomic(t, out_path)
    return t.num_rows


def part_name(run: str, source: int) -> str:
    return f"{run}-{source:05d}.parquet"


def commit_run(index_dir: str, run: str, parts: list[str], rows: int) -> None:
    _write_json({"parts": parts, "rows": rows}, os.path.join(index_dir, "runs", f"{run}.json"))


def _write_json(obj: Any, path: str) -> None:
    write_json_atomic(obj, path)
