"""The manifest: what a finished run holds, checked (conservation, unique ids) and described.

`OUT/.codesieve/manifest.json` is written last, atomically; it carries the resolved config
and its hash, the input fingerprint, the code version, rows and bytes in, per tier (with what
each tier means), per gate and reason, quarantine counts, timings, peak RSS and what a resumed
run kept (`reused`, filled in by the runner).
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import pyarrow as pa

from codesieve import __version__
from codesieve.core import cputime
from codesieve.core.errors import UserError
from codesieve.core.params import stable_hash
from codesieve.pipeline import layout
from codesieve.pipeline.config import PipelineConfig
from codesieve.pipeline.dest import Dest
from codesieve.pipeline.gaterun import merge_gate_stats
from codesieve.pipeline.io import Unit
from codesieve.pipeline.plan import QUARANTINE_NAME, tier_names

ID_PARTITION_ROWS = 5_000_000  # the id-uniqueness check holds ~24 bytes x this at most (driver memory)


def read_done(path: str, key: str) -> dict[str, Any] | None:
    """The stats of a completion record, or None when it is missing or its key differs."""
    return read_record(path, key)[0]


def read_record(path: str, key: str, code: str = "") -> tuple[dict[str, Any] | None, str]:
    """(stats, "") of a completion record whose key matches, else (None, why): "missing" (no
    record, or one torn by a crash), "code" (made by other code than `code`, the running
    `keys.code_version()`), "settings" (the same code, other settings, input or gates)."""
    try:
        with open(path, encoding="utf-8") as fh:
            rec = json.load(fh)
    except (OSError, ValueError):
        return None, "missing"
    if not isinstance(rec, dict) or "key" not in rec:
        return None, "missing"
    if rec["key"] == key:
        return rec["stats"], ""
    return None, "code" if code and rec.get("code") != code else "settings"


def read_manifest(output: str) -> dict[str, Any] | None:
    """A finished run's manifest, or None when the folder holds no finished run."""
    try:
        with open(layout.manifest_path(output), encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def tier_meaning(cfg: PipelineConfig) -> dict[str, str]:
    """Tier number -> a sentence, for the manifest and reports."""
    out = {}
    for k, name in tier_names(cfg.gates).items():
        kind, _, what = name.partition(":")
        if kind == "failed":
            out[str(k)] = f"first failed the {what!r} gate (gate {k + 1} of {len(cfg.gates)})"
        else:
            out[str(k)] = "passed every gate" + (f", band {what!r}" if what else "")
    out["0"] += f"; or quarantined at input (tier_name {QUARANTINE_NAME!r})"
    return out


def finalize(
    dest: Dest, cfg: PipelineConfig, units: list[Unit], stats: list[list[dict[str, Any]]],
    global_stats: dict[str, Any], input_path: str, files: list[Any], work: str | None = None,
) -> dict[str, Any]:
    """Check conservation and id uniqueness over the tier files; return the manifest.

    The id check holds 8 bytes per row of one hash partition at a time (partitions of at most
    ID_PARTITION_ROWS rows, spilled to `work`), not the corpus's ids."""
    first, last = stats[0], stats[-1]
    names = tier_names(cfg.gates)
    expected = {dest.part(k, u.index) for u in units for k in names}
    parts = dest.parts()
    dest.delete([p for p in parts if p not in expected])  # left by an earlier run over more units or tiers
    parts = [p for p in parts if p in expected]
    rows_in = sum(s["rows_in"] for s in first)
    import tempfile

    with tempfile.TemporaryDirectory(dir=work if work and os.path.isdir(work) else None) as spill:
        n_part = max(1, -(-rows_in // ID_PARTITION_ROWS))
        rows_out = _spill_id_hashes(dest, parts, n_part, spill)
        if rows_out != rows_in:
            raise RuntimeError(f"conservation violated: {rows_in} rows in, {rows_out} rows out (in {dest.root})")
        _check_schemas(dest, parts, input_path)
        repeated = _repeated_ids(dest, parts, n_part, spill)
    if repeated:
        raise UserError(
            f"--input {input_path}: ids are not unique (e.g. {repeated[0]!r}, {len(repeated)} repeated); "
            "give every row a distinct `id` or drop the column to have ids generated"
        )
    return {
        "codesieve_version": __version__,
        "config": cfg.resolved(),
        "config_hash": cfg.hash(),
        "config_source": cfg.source,
        "input": {"path": input_path, "files": len(files), "units": len(units),
                  "fingerprint": stable_hash([[f.rel, f.size, f.mtime_ns] for f in files])},
        "rows_in": rows_in,
        "bytes_in": sum(s["bytes_in"] for s in first),
        "rows_out": rows_out,
        "tiers": _sum_tiers(last),
        "tier_names": {str(k): v for k, v in names.items()},
        "tier_meaning": tier_meaning(cfg),
        "quarantine": _sum_counts([s["quarantine"] for ps in stats for s in ps if "quarantine" in s]),
        "gates": merge_gate_stats([s["gates"] for ps in stats for s in ps]),
        "global": global_stats,
        "cpu": cputime.merge([s.get("cpu", {}) for ps in stats for s in ps]),
        "peak_rss_mb": {f"pass{p}": max((s["peak_rss_mb"] for s in ps), default=0.0) for p, ps in enumerate(stats)},
    }


def _check_schemas(dest: Dest, parts: list[str], input_path: str) -> None:
    """Every tier file must have the same columns and types, or the output is not one dataset
    (e.g. a carried column that is an integer in one shard and text in another)."""
    first: dict[str, Any] = {}
    for path in parts:
        for field in dest.read_schema(path):
            seen = first.setdefault(field.name, (field.type, path))
            if _kind(seen[0]) != _kind(field.type) and "null" not in (_kind(seen[0]), _kind(field.type)):
                raise UserError(
                    f"--input {input_path}: column {field.name!r} is {seen[0]} in some rows and {field.type} in "
                    f"others ({os.path.basename(os.path.dirname(seen[1]))}/{os.path.basename(seen[1])} vs "
                    f"{os.path.basename(os.path.dirname(path))}/{os.path.basename(path)}); give it one type in "
                    "every input file"
                )


def _kind(t: pa.DataType) -> str:
    """Types readers cast between freely (string/large_string, integer widths) share a kind."""
    for kind, test in (("null", pa.types.is_null), ("text", pa.types.is_string), ("text", pa.types.is_large_string),
                       ("int", pa.types.is_integer), ("float", pa.types.is_floating)):
        if test(t):
            return kind
    return str(t)


def _sum_tiers(last: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    tiers: dict[str, dict[str, int]] = {}
    for s in last:
        for k, v in s["tiers"].items():
            t = tiers.setdefault(k, {"rows": 0, "bytes": 0})
            t["rows"] += v["rows"]
            t["bytes"] += v["bytes"]
    return dict(sorted(tiers.items(), key=lambda kv: int(kv[0])))


def _sum_counts(parts: list[dict[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in parts:
        for k, c in part.items():
            out[k] = out.get(k, 0) + c
    return out


def _spill_id_hashes(dest: Dest, parts: list[str], n_part: int, spill: str) -> int:
    """Append each part's 64-bit id hashes (and the part's number) to `spill`/hP, by hash
    partition P; return the number of rows."""
    rows = 0
    handles = [open(os.path.join(spill, f"h{p}"), "ab") for p in range(n_part)]
    try:
        for i, path in enumerate(parts):
            h = _id_hashes(dest.read_table(path, columns=["id"]).column("id"))
            rows += len(h)
            which = h % np.uint64(n_part)
            for p in range(n_part):
                sel = h[which == p]
                np.stack([sel, np.full(len(sel), i, np.uint64)], axis=1).tofile(handles[p])
    finally:
        for fh in handles:
            fh.close()
    return rows


def _repeated_ids(dest: Dest, parts: list[str], n_part: int, spill: str) -> list[str]:
    """Ids that occur more than once: equal 64-bit hashes within a partition first, then the
    exact strings of the parts holding them."""
    suspects: dict[int, set[int]] = {}  # part -> hashes to confirm
    for p in range(n_part):
        rec = np.fromfile(os.path.join(spill, f"h{p}"), dtype=np.uint64).reshape(-1, 2)
        order = np.argsort(rec[:, 0], kind="stable")
        h = rec[order, 0]
        dup = np.flatnonzero(h[1:] == h[:-1])
        for j in np.unique(np.concatenate([dup, dup + 1])):
            suspects.setdefault(int(rec[order[j], 1]), set()).add(int(h[j]))
    seen: dict[str, int] = {}
    for i, wanted in sorted(suspects.items()):
        col = dest.read_table(parts[i], columns=["id"]).column("id").combine_chunks()
        hit = np.isin(_id_hashes(col), np.fromiter(wanted, np.uint64))
        for s in col.filter(pa.array(hit)).to_pylist():
            seen[s] = seen.get(s, 0) + 1
    return sorted(s for s, c in seen.items() if c > 1)


def _id_hashes(ids: pa.ChunkedArray) -> np.ndarray:
    """64-bit hashes of ids (uniqueness check without holding the strings)."""
    import xxhash

    return np.fromiter((xxhash.xxh3_64_intdigest(s) for s in ids.cast(pa.binary()).to_pylist()),
                       dtype=np.uint64, count=len(ids))
