"""`codesieve explain ID --output OUT`: why one document ended in its tier.

Reads the document's row from a finished run and states its tier and what that tier
means, the gate that stopped it, each failed check with its value, the threshold it
crossed and the config line, the language decision and where it came from (re-derived
with the run's own language gate), its near-dup cluster and the copy that was kept, and
every score.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from codesieve.core.batch import DocBatch
from codesieve.core.errors import UserError
from codesieve.pipeline.io import output_dataset
from codesieve.pipeline.results import GATE_MEANING, gate_config, load_manifest, tier_meaning, tier_names

HELP = """Explain one document of a finished run: tier and meaning, the gate that stopped it,
each failed check (value, threshold, config line), the language decision and its source,
its near-duplicate cluster and the kept copy, and all its scores. ID is the row's `id`
(or its `path`, when that names one row)."""
LANG_SOURCES = {"filename": "exact file name", "shebang": "shebang line", "extension": "file extension",
                "heuristic": "content heuristic for an ambiguous extension",
                "ambiguous": "ambiguous extension, content model among the candidates",
                "content": "content model (no usable path)", "binary": "binary content", "": "nothing matched"}

QUARANTINE = {"nul_byte": "quarantined: the text contains NUL bytes", "invalid_utf8": "quarantined: not valid UTF-8",
              "null_text": "quarantined: no text", "text_not_string": "quarantined: the text column is not a string",
              "bad_json": "quarantined: the JSONL line is not valid JSON",
              "too_large": "quarantined: larger than input.max_doc_bytes = {limit}",
              "parse_timeout": "quarantined: a parser did not finish on it within input.parse_timeout_s"}


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("explain", help="why one document ended in its tier", description=HELP)
    p.add_argument("id", metavar="ID", help="the document's id (or its path)")
    p.add_argument("--output", required=True, help="the run's output folder (or its s3:// URI)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_explain)
    return p


def cmd_explain(args: argparse.Namespace) -> int:
    info = explain(args.id, args.output)
    print(json.dumps(info, indent=1, default=str) if args.json else render_text(info))
    return 0


def find_row(dataset: Any, doc: str) -> dict[str, Any]:
    rows = dataset.to_table(filter=pc.field("id") == doc).to_pylist()
    if not rows and "path" in dataset.schema.names:
        rows = dataset.to_table(filter=pc.field("path") == doc).to_pylist()
        if len(rows) > 1:
            ids = ", ".join(sorted(r["id"] for r in rows)[:5])
            raise UserError(f"ID {doc}: {len(rows)} rows have this path; give one of their ids ({ids})")
    if not rows:
        raise UserError(f"ID {doc}: no row with this id or path in the output")
    return rows[0]


def config_lines(source: str | None, gate: str, rule: str | None = None,
                 keys: tuple[str, ...] = ("min", "max")) -> dict[str, str]:
    """Where `gate` (or `rule` inside it) and its threshold lines (`keys`) are in the config file."""
    if not source or not os.path.exists(source):
        return {}
    lines = open(source, encoding="utf-8").read().splitlines()
    key = re.compile(rf"^\s*-\s*(rule|gate):\s*{re.escape(rule or gate)}\s*(#.*)?$")
    out: dict[str, str] = {}
    for i, line in enumerate(lines):
        if key.match(line):
            out["entry"] = f"{source}:{i + 1}"
            for j in range(i + 1, min(i + 40, len(lines))):
                if re.match(r"^\s*-\s*(rule|gate):", lines[j]):
                    break
                m = re.match(r"^\s*(\w+)\s*:", lines[j])
                if m and m.group(1) in keys:
                    out[m.group(1)] = f"{source}:{j + 1}: {lines[j].strip()[:100]}"
            break
    return out


def _num(v: Any) -> Any:
    return None if isinstance(v, float) and math.isnan(v) else v


def rule_check(manifest: dict[str, Any], row: dict[str, Any], rule: str) -> dict[str, Any]:
    """A failed rule: value, the bound it crossed for this language, config lines."""
    entry = next((r for r in gate_config(manifest, "rules").get("rules", []) if r["rule"] == rule), {})
    lo, hi = entry.get("min"), entry.get("max")
    per = (entry.get("per_lang") or {}).get(row.get("lang") or "", {})
    lo, hi = per.get("min", lo), per.get("max", hi)
    value = _num(row.get(f"h_{rule}"))
    if value is not None and hi is not None and value > hi:
        crossed = f"> max {_fmt(hi)}"
    elif value is not None and lo is not None and value < lo:
        crossed = f"< min {_fmt(lo)}"
    else:
        crossed = f"outside [{_fmt(lo)}, {_fmt(hi)}]"
    where = f" ({row.get('lang')})" if per else ""
    return {"check": rule, "value": value, "min": lo, "max": hi, "crossed": crossed + where,
            "config": config_lines(manifest.get("config_source"), "rules", rule)}


def gate_check(manifest: dict[str, Any], row: dict[str, Any], gate: str, reason: str) -> dict[str, Any]:
    """A failed check of a non-rules gate, with the parameter it compares against."""
    cfg = gate_config(manifest, gate)
    keys: tuple[str, ...] = ()
    if gate == "language":
        detail = {"low_confidence": (row.get("lang_score"), f"< min_score {cfg.get('min_score')}", ("min_score",)),
                  "lang_not_allowed": (row.get("lang"), "not in allow" + (" (+ prose languages)" if cfg.get("allow_prose") else ""), ("allow",)),
                  "not_code": (row.get("lang"), "no language identified", ("content_min_chars",)),
                  "binary": (None, f"NUL bytes > {cfg.get('binary_max_nul')} or U+FFFD share > {cfg.get('binary_max_replacement_frac')}",
                             ("binary_max_nul", "binary_max_replacement_frac")),
                  "extension_denied": (row.get("path"), f"extension in deny_extensions {cfg.get('deny_extensions')}", ("deny_extensions",))}
        value, crossed, keys = detail.get(reason, (None, reason, ()))
    elif gate == "dedup":
        value, crossed, keys = row.get("dup_cluster_size"), f"in a cluster of {row.get('dup_cluster_size')}; another copy kept", ("threshold",)
    elif gate == "decontam":
        value, crossed, keys = row.get("decontam_hits"), f">= min_hits {cfg.get('min_hits')} benchmark {cfg.get('ngram')}-grams", ("min_hits",)
    elif gate == "quality":
        value, crossed, keys = _num(row.get("quality_score")), f"< min_score {cfg.get('min_score')}", ("min_score",)
    elif gate == "input":
        limit = manifest.get("config", {}).get("input", {}).get("max_doc_bytes")
        value, crossed = None, QUARANTINE.get(reason, reason).format(limit=limit)
        return {"check": reason, "value": None, "crossed": crossed, "config": {}}
    else:
        value, crossed = None, reason
    return {"check": reason, "value": _num(value), "crossed": crossed,
            "config": config_lines(manifest.get("config_source"), gate, keys=keys)}


def language_decision(manifest: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """The run's language gate re-applied to this document, for the source of its decision."""
    from codesieve.pipeline.config import build_config

    out = {"lang": row.get("lang"), "score": _num(row.get("lang_score")), "lang_content": row.get("lang_content"),
           "nl_lang": row.get("nl_lang"), "nl_score": _num(row.get("nl_score")), "source": None}
    text_column = manifest.get("config", {}).get("input", {}).get("text_column", "content")
    text = row.get(text_column)
    lang_cfg = gate_config(manifest, "language")
    if not lang_cfg or text is None or row.get("stage_failed") == "input":
        return out
    raw = {"gates": [dict(lang_cfg)]}
    gate = build_config(raw, "manifest.json").gates[0]
    table = pa.table({"content": pa.array([text], pa.string()), "path": pa.array([row.get("path")], pa.string())})
    d = gate.identify(DocBatch(table, "content"))
    src = str(d.source[0] or "")
    out["source"] = src
    out["source_meaning"] = LANG_SOURCES.get(src, src)
    return out


def dedup_info(dataset: Any, row: dict[str, Any]) -> dict[str, Any] | None:
    """The document's near-dup cluster, and which member the dedup gate kept."""
    cluster = row.get("dup_cluster")
    if cluster is None:
        return None
    cols = [c for c in ("id", "path", "tier", "stage_failed") if c in dataset.schema.names]
    members = dataset.to_table(columns=cols, filter=pc.field("dup_cluster") == cluster).to_pylist()
    kept = [m for m in members if m.get("stage_failed") != "dedup"]
    return {"cluster": cluster, "size": row.get("dup_cluster_size"), "members_in_output": len(members),
            "kept": sorted(kept, key=lambda m: m["id"])[:1] or None,
            "this_is_kept": row.get("stage_failed") != "dedup"}


def explain(doc: str, out: str) -> dict[str, Any]:
    """Everything `explain` says about one document, as a JSON-able dict."""
    manifest = load_manifest(out)
    dataset = output_dataset(out)
    row = find_row(dataset, doc)
    tier, stage = int(row["tier"]), row.get("stage_failed")
    reasons = list(row.get("reasons") or [])
    if stage == "rules":
        checks = [rule_check(manifest, row, r) for r in reasons]
    elif stage:
        checks = [gate_check(manifest, row, stage, r) for r in reasons]
    else:
        checks = []
    scores = {k: _num(v) for k, v in row.items()
              if (k.startswith(("h_", "q_")) or k in ("lang_score", "nl_score", "decontam_hits", "quality_score"))
              and _num(v) is not None}
    return {"id": row["id"], "path": row.get("path"), "repo_name": row.get("repo_name"), "tier": tier,
            "tier_name": tier_names(manifest).get(tier, ""),
            "tier_meaning": GATE_MEANING["input"] if stage == "input" else tier_meaning(manifest, tier),
            "stage_failed": stage, "reasons": reasons, "failed_checks": checks,
            "language": language_decision(manifest, row), "dedup": dedup_info(dataset, row), "scores": scores}


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{int(v):,}" if v.is_integer() else f"{v:.4g}"
    return str(v)


def _where(loc: str) -> str:
    """`path:line...` with the path relative to the current folder when it is below it."""
    path, _, rest = loc.partition(":")
    rel = os.path.relpath(path) if os.path.isabs(path) else path
    return f"{rel if not rel.startswith('..') else path}:{rest}"


def render_text(info: dict[str, Any]) -> str:
    lines = [f"id        {info['id']}", f"path      {info['path']}" + (f"  (repo {info['repo_name']})" if info["repo_name"] else ""),
             f"tier      {info['tier']} ({info['tier_name']}): {info['tier_meaning']}",
             f"stopped   {info['stage_failed'] or 'nowhere: passed every gate'}"]
    for c in info["failed_checks"]:
        value = "" if c["value"] is None else f" = {_fmt(c['value'])}"
        lines.append(f"failed    {c['check']}{value}: {c['crossed']}")
        for key, where in c["config"].items():
            lines.append(f"            config {key}: {_where(where)}")
    lang = info["language"]
    src = f" from {lang['source']} ({lang['source_meaning']})" if lang.get("source") is not None else ""
    if info["stage_failed"] == "input":
        lines.append("language  not identified (quarantined before the language gate)")
    else:
        lines.append(f"language  {lang['lang']} (score {_fmt(lang['score'])}){src}")
    if lang.get("lang_content"):
        lines.append(f"          content model says {lang['lang_content']}")
    if lang.get("nl_lang"):
        lines.append(f"          natural language {lang['nl_lang']} ({_fmt(lang['nl_score'])})")
    d = info["dedup"]
    if d is None:
        lines.append("dedup     no cluster recorded (unique, or stopped before dedup)")
    else:
        kept = d["kept"][0] if d["kept"] else None
        who = "this document" if d["this_is_kept"] else (f"{kept['id']} ({kept.get('path')})" if kept else "not in this output")
        lines.append(f"dedup     cluster {d['cluster']} of {d['size']} documents; kept copy: {who}")
    items = [f"{k}={_fmt(v)}" for k, v in sorted(info["scores"].items())]
    for i in range(0, max(len(items), 1), 4):
        lines.append(("scores    " if i == 0 else " " * 10) + ", ".join(items[i:i + 4]))
    return "\n".join(lines)
