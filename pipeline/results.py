"""Reading a finished run for the person-facing tools (report, explain, mix, pack-repos).

Everything here tolerates outputs written by other versions: extra columns are ignored,
missing optional columns come back as nulls, and tier meanings are read from the
manifest (`tier_names`, `tiers_meaning`) rather than assumed.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from codesieve.core.errors import UserError

#: gate -> what failing it means, for manifests that do not say (older runs)
GATE_MEANING = {
    "input": "quarantined before any gate: the row itself is broken (invalid UTF-8, NUL bytes, no text, too large, bad JSON)",
    "language": "failed language identification: binary, not code, or a language outside the allow-list",
    "rules": "failed a heuristic rule (StarCoder2 / OpenCoder / DeepSeek-Coder style thresholds)",
    "dedup": "an exact or near duplicate of a document that was kept",
    "decontam": "shares n-grams with an evaluation benchmark",
    "quality": "scored below the quality threshold",
}


def manifest_file(out: str) -> str:
    """Where a run's manifest is: OUT/.codesieve/manifest.json (OUT/manifest.json before)."""
    from codesieve.pipeline import layout

    path = layout.manifest_path(out)
    old = os.path.join(out, "manifest.json")
    return old if not os.path.exists(path) and os.path.exists(old) else path


def load_manifest(out: str) -> dict[str, Any]:
    """A finished run's manifest as a dict (a one-line error when OUT is not a finished run)."""
    if "://" in out:  # object storage (s3://bucket/run)
        from codesieve.pipeline.dest import Dest

        return Dest(out, option="").read_manifest()
    path = manifest_file(out)
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise UserError(f"{out}: no {os.path.relpath(path, out)} (not a finished codesieve output folder)") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: unreadable manifest ({exc})") from None


def gate_names(manifest: dict[str, Any]) -> list[str]:
    """Gates of the run in tier order."""
    return [g["gate"] for g in manifest.get("config", {}).get("gates", [])]


def tier_names(manifest: dict[str, Any]) -> dict[int, str]:
    """Tier number -> name (`failed:rules`, `passed`, `passed:high`, ...)."""
    names = manifest.get("tier_names")
    if names:
        return {int(k): str(v) for k, v in names.items()}
    gates = gate_names(manifest)
    return {i: f"failed:{g}" for i, g in enumerate(gates)} | {len(gates): "passed"}


def passed_tiers(manifest: dict[str, Any]) -> list[int]:
    """Tiers of documents that passed every gate (all bands); the top tier if none is named so."""
    names = tier_names(manifest)
    top = [k for k, v in names.items() if v.startswith("passed")]
    return sorted(top) or [max(names)]


def tier_meaning(manifest: dict[str, Any], tier: int) -> str:
    """One sentence saying what being in `tier` means."""
    meanings = manifest.get("tier_meaning") or manifest.get("tiers_meaning") or {}
    if str(tier) in meanings:
        return str(meanings[str(tier)])
    name = tier_names(manifest).get(tier, "")
    kind, _, what = name.partition(":")
    if kind.startswith("passed"):
        return "passed every gate (" + ", ".join(gate_names(manifest)) + ")"
    if what in GATE_MEANING:
        return f"first failed gate `{what}`: {GATE_MEANING[what]}"
    return f"tier {tier} ({name})" if name else f"tier {tier}"


def gate_config(manifest: dict[str, Any], gate: str) -> dict[str, Any]:
    """The resolved parameters of one gate of the run ({} if the run had no such gate)."""
    for g in manifest.get("config", {}).get("gates", []):
        if g.get("gate") == gate:
            return g
    return {}


def read_columns(dataset: Any, wanted: list[str], filter: Any = None) -> pa.Table:
    """`wanted` columns of an output dataset; columns it lacks come back as all-null strings."""
    have = set(dataset.schema.names)
    table = dataset.to_table(columns=[c for c in wanted if c in have], filter=filter)
    for name in wanted:
        if name not in have:
            table = table.append_column(name, pa.nulls(table.num_rows, pa.string()))
    return table.select(wanted)


def byte_lengths(table: pa.Table, text_column: str = "content") -> pa.Array:
    """UTF-8 bytes per row (0 where the text was dropped)."""
    if text_column not in table.column_names:
        return pa.array([0] * table.num_rows, pa.int64())
    col = table.column(text_column)
    return pc.fill_null(pc.binary_length(col.cast(pa.large_string())), 0).combine_chunks().cast(pa.int64())


def write_text_atomic(text: str, path: str) -> None:
    """Write UTF-8 text under a temporary name in the target folder, then rename into place."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".tmp-{uuid.uuid4().hex}-{os.path.basename(path)}")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
