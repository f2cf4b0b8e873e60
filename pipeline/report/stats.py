"""The numbers of a quality report, computed from a finished run's output folder.

All aggregation is Arrow group-bys over a few columns; document text is read once in
batches (for byte lengths) and again only for the handful of sample documents.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from codesieve.pipeline.io import output_dataset
from codesieve.pipeline.results import (
    byte_lengths,
    gate_config,
    gate_names,
    load_manifest,
    read_columns,
    tier_meaning,
    tier_names,
)

COLUMNS = ["id", "path", "repo_name", "tier", "stage_failed", "reasons", "lang", "lang_score",
           "dup_cluster", "dup_cluster_size", "decontam_hits", "quality_score"]
TOP_LANGS = 30
SAMPLE_CHARS = 1500  # characters of each sample document shown


def _bytes_column(dataset: Any, text_column: str) -> pa.Array:
    """UTF-8 bytes of every row, in dataset order, reading the text batch by batch."""
    if text_column not in dataset.schema.names:
        return pa.array(np.zeros(dataset.count_rows(), dtype=np.int64))
    parts = [byte_lengths(pa.Table.from_batches([b]), text_column)
             for b in dataset.to_batches(columns=[text_column]) if b.num_rows]
    return pa.concat_arrays(parts) if parts else pa.array([], pa.int64())


def load_frame(out: str) -> tuple[dict[str, Any], Any, pa.Table]:
    """(manifest, dataset, table of COLUMNS + `nbytes`) for an output folder."""
    manifest = load_manifest(out)
    dataset = output_dataset(out)
    text_column = manifest.get("config", {}).get("input", {}).get("text_column", "content")
    table = read_columns(dataset, COLUMNS)
    table = table.append_column("nbytes", _bytes_column(dataset, text_column))
    return manifest, dataset, table


def _group(table: pa.Table, keys: list[str]) -> list[dict[str, Any]]:
    g = table.group_by(keys).aggregate([("nbytes", "sum"), ("nbytes", "count")])
    return [{**{k: r[k] for k in keys}, "rows": r["nbytes_count"], "bytes": r["nbytes_sum"]}
            for r in g.to_pylist()]


def tiers_section(manifest: dict[str, Any], table: pa.Table, bpt: float) -> list[dict[str, Any]]:
    names = tier_names(manifest)
    counts = {r["tier"]: r for r in _group(table, ["tier"])}
    out = []
    for k in sorted(set(names) | set(counts)):
        c = counts.get(k, {"rows": 0, "bytes": 0})
        mbytes = manifest.get("tiers", {}).get(str(k), {}).get("bytes", c["bytes"])
        out.append({"tier": k, "name": names.get(k, ""), "meaning": tier_meaning(manifest, k),
                    "rows": c["rows"], "bytes": mbytes, "tokens_est": int(mbytes / bpt)})
    return out


def funnel_section(manifest: dict[str, Any], table: pa.Table) -> list[dict[str, Any]]:
    """Rows and bytes reaching and leaving each gate (the input check first)."""
    failed = {r["stage_failed"]: r for r in _group(table, ["stage_failed"])}
    rows, nbytes = table.num_rows, int(pc.sum(table["nbytes"]).as_py() or 0)
    steps = []
    for gate in ["input"] + gate_names(manifest):
        f = failed.get(gate, {"rows": 0, "bytes": 0})
        steps.append({"gate": gate, "rows_in": rows, "bytes_in": nbytes,
                      "rows_out": rows - f["rows"], "bytes_out": nbytes - f["bytes"]})
        rows, nbytes = rows - f["rows"], nbytes - f["bytes"]
    return steps


def languages_section(table: pa.Table, bpt: float) -> list[dict[str, Any]]:
    """Top languages by rows with rows/bytes per tier."""
    t = table.select(["lang", "tier", "nbytes"])
    t = t.set_column(0, "lang", pc.fill_null(t["lang"].cast(pa.string()), "(none)"))
    per = _group(t, ["lang", "tier"])
    langs: dict[str, dict[str, Any]] = {}
    for r in per:
        d = langs.setdefault(r["lang"], {"lang": r["lang"], "rows": 0, "bytes": 0, "rows_by_tier": {},
                                         "bytes_by_tier": {}})
        d["rows"] += r["rows"]
        d["bytes"] += r["bytes"]
        d["rows_by_tier"][str(r["tier"])] = r["rows"]
        d["bytes_by_tier"][str(r["tier"])] = r["bytes"]
    ranked = sorted(langs.values(), key=lambda d: (-d["rows"], d["lang"]))[:TOP_LANGS]
    for d in ranked:
        d["tokens_est"] = int(d["bytes"] / bpt)
        d["rows_by_tier"] = dict(sorted(d["rows_by_tier"].items(), key=lambda kv: int(kv[0])))
        d["bytes_by_tier"] = dict(sorted(d["bytes_by_tier"].items(), key=lambda kv: int(kv[0])))
    return ranked


def reasons_section(table: pa.Table) -> dict[str, list[dict[str, Any]]]:
    """Per gate: each reason's rows, bytes and unique rows (the only reason of a row)."""
    t = table.select(["stage_failed", "reasons", "nbytes"]).filter(pc.is_valid(table["stage_failed"]))
    n_reasons = pc.list_value_length(t["reasons"])
    idx = pc.list_parent_indices(t["reasons"])
    flat = pa.table({
        "gate": t["stage_failed"].take(idx), "reason": pc.list_flatten(t["reasons"]),
        "nbytes": t["nbytes"].take(idx), "only": pc.equal(n_reasons.take(idx), 1),
    })
    g = flat.group_by(["gate", "reason"]).aggregate([("nbytes", "sum"), ("nbytes", "count"), ("only", "sum")])
    out: dict[str, list[dict[str, Any]]] = {}
    for r in sorted(g.to_pylist(), key=lambda r: (r["gate"], -r["nbytes_count"], r["reason"])):
        out.setdefault(r["gate"], []).append({"reason": r["reason"], "rows": r["nbytes_count"],
                                              "bytes": r["nbytes_sum"], "unique": int(r["only_sum"] or 0)})
    return out


def rules_section(manifest: dict[str, Any], reasons: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Every configured rule with its thresholds and what it removed (rows, unique, bytes)."""
    hits = {r["reason"]: r for r in reasons.get("rules", [])}
    out = []
    for rule in gate_config(manifest, "rules").get("rules", []):
        h = hits.get(rule["rule"], {"rows": 0, "bytes": 0, "unique": 0})
        out.append({"rule": rule["rule"], "min": rule.get("min"), "max": rule.get("max"),
                    "per_lang": rule.get("per_lang") or {}, "removed": h["rows"], "unique": h["unique"],
                    "bytes": h["bytes"]})
    return out


def dedup_section(table: pa.Table) -> dict[str, Any]:
    """Near-dup cluster count and size histogram (clusters of size >= 2)."""
    t = table.select(["dup_cluster", "dup_cluster_size"]).filter(pc.is_valid(table["dup_cluster"]))
    if t.num_rows == 0:
        return {"clusters": 0, "rows_in_clusters": 0, "sizes": {}}
    per = t.group_by("dup_cluster").aggregate([("dup_cluster_size", "max")])
    sizes = per["dup_cluster_size_max"].to_numpy(zero_copy_only=False)
    sizes = sizes[sizes >= 2]
    vals, counts = np.unique(sizes, return_counts=True)
    return {"clusters": int(len(sizes)), "rows_in_clusters": int(sizes.sum()),
            "sizes": {str(int(v)): int(c) for v, c in zip(vals, counts)}}


def quantiles(values: np.ndarray) -> dict[str, float]:
    values = values[~np.isnan(values)]
    if not len(values):
        return {}
    qs = (0.0, 0.01, 0.1, 0.5, 0.9, 0.99, 1.0)
    return {f"p{int(q * 100)}": float(v) for q, v in zip(qs, np.quantile(values, qs))}


def signal_values(dataset: Any, columns: list[str]) -> dict[str, np.ndarray]:
    """Non-null float values of score columns (absent columns skipped)."""
    have = [c for c in columns if c in dataset.schema.names]
    t = dataset.to_table(columns=have)
    out = {}
    for c in have:
        v = pc.drop_null(t[c]).to_numpy(zero_copy_only=False).astype(np.float64)
        v = v[~np.isnan(v)]
        if len(v):
            out[c] = v
    return out


def sample_ids(table: pa.Table, mask: pa.Array, n: int) -> list[str]:
    """n ids chosen deterministically (smallest ids) among rows where mask holds."""
    ids = table["id"].filter(mask)
    if len(ids) == 0:
        return []
    return pc.take(ids, pc.sort_indices(ids)[:n]).to_pylist()


def samples_section(manifest: dict[str, Any], dataset: Any, table: pa.Table,
                    reasons: dict[str, list[dict[str, Any]]], per_tier: int = 3, per_reason: int = 2) -> dict[str, Any]:
    """A few documents per tier and per top reason, text truncated to SAMPLE_CHARS."""
    picks: dict[str, list[str]] = {}
    for k in sorted(set(table["tier"].to_pylist())):
        picks[f"tier {k} ({tier_names(manifest).get(k, '')})"] = sample_ids(table, pc.equal(table["tier"], k), per_tier)
    top = sorted(((r["rows"], g, r["reason"]) for g, rs in reasons.items() for r in rs), reverse=True)[:8]
    for _, gate, reason in top:
        mask = pc.and_(pc.fill_null(pc.equal(table["stage_failed"], gate), False),
                       _has_reason(table["reasons"], reason))
        picks[f"{gate}: {reason}"] = sample_ids(table, mask, per_reason)
    wanted = sorted({i for ids in picks.values() for i in ids})
    text_column = manifest.get("config", {}).get("input", {}).get("text_column", "content")
    cols = ["id", "path", "lang", "tier", "reasons", text_column]
    docs = read_columns(dataset, cols, filter=pc.field("id").isin(wanted)) if wanted else None
    by_id = {r["id"]: r for r in docs.to_pylist()} if docs is not None else {}
    out = {}
    for label, ids in picks.items():
        out[label] = []
        for i in ids:
            r = by_id[i]
            text = r.get(text_column) or ""
            out[label].append({"id": i, "path": r["path"], "lang": r["lang"], "tier": r["tier"],
                               "reasons": r["reasons"], "chars": len(text), "text": text[:SAMPLE_CHARS]})
    return out


def _has_reason(reasons: pa.ChunkedArray, reason: str) -> pa.Array:
    """Bool per row: `reason` is in the row's reasons list."""
    reasons = reasons.combine_chunks() if isinstance(reasons, pa.ChunkedArray) else reasons
    hit = np.zeros(len(reasons), dtype=bool)
    flat = pc.list_flatten(reasons)
    parents = pc.list_parent_indices(reasons).to_numpy(zero_copy_only=False)
    hit[parents[pc.fill_null(pc.equal(flat, reason), False).to_numpy(zero_copy_only=False)]] = True
    return pa.array(hit)
