"""`codesieve report`: a self-contained HTML quality report, report.json and a terminal summary.

On a pipeline output folder, or on raw shards with `--config` (the config is run into a
temporary folder with the in-process executor, reported, and the folder deleted).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from importlib import resources
from typing import Any

import numpy as np

from codesieve.core.errors import UserError
from codesieve.pipeline.layout import meta_dir
from codesieve.pipeline.report import stats
from codesieve.pipeline.results import gate_config, tier_names, write_text_atomic

HELP = """Write report.html (self-contained: plots inline, no network), report.json and a terminal
summary for a codesieve output folder (into PATH/.codesieve/ unless --out), or for raw shards
with --config (the config runs into a temporary folder; no dataset is kept)."""
SIGNAL_RULES = 9  # rule histograms shown: the rules removing most rows


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("report", help="HTML/JSON quality report of an output folder or raw shards",
                       description=HELP)
    p.add_argument("path", help="a codesieve output folder or s3:// URI; or input shards when --config is given")
    p.add_argument("--out", default=None,
                   help="folder (or s3:// prefix) for report.html / report.json (default: PATH/.codesieve, with "
                        "the run's other side files, so PATH stays one Parquet dataset)")
    p.add_argument("--config", default=None,
                   help="treat PATH as raw input shards and compute tiers with this config first")
    p.add_argument("--limit-rows", type=int, default=None, help="with --config: only the first N rows")
    p.add_argument("--bytes-per-token", type=float, default=3.5,
                   help="bytes per token for token estimates (default 3.5)")
    p.add_argument("--quiet", action="store_true", help="no terminal summary")
    p.set_defaults(func=cmd_report)
    return p


def cmd_report(args: argparse.Namespace) -> int:
    if args.bytes_per_token <= 0:
        raise UserError("--bytes-per-token: must be > 0")
    if args.config is None:
        args.out = args.out or meta_dir(args.path)
        rep = write_report(args.path, args.out, args.bytes_per_token)
    else:
        if args.out is None:
            raise UserError("--out: required with --config (PATH is input, not an output folder)")
        rep = report_shards(args.path, args.config, args.out, args.bytes_per_token, args.limit_rows)
    if not args.quiet:
        print_summary(rep, args.out)
    return 0


def report_shards(inp: str, config: str, dest: str, bpt: float, limit_rows: int | None) -> dict[str, Any]:
    """Run `config` over raw shards into a temporary folder and report it."""
    from codesieve.pipeline.config import load_config
    from codesieve.pipeline.executors import make_executor
    from codesieve.pipeline.runner import run

    cfg = load_config(config)
    with tempfile.TemporaryDirectory(prefix="codesieve-report-") as tmp:
        executor = make_executor("local", None, None)
        try:
            run(cfg, inp, tmp, executor, limit_rows=limit_rows, quiet=True)
        finally:
            executor.close()
        return write_report(tmp, dest, bpt, label=inp)


def _signal_thresholds(manifest: dict[str, Any], rules: list[dict[str, Any]]) -> dict[str, list[float]]:
    out = {f"h_{r['rule']}": [r["min"], r["max"]] for r in rules}
    out["lang_score"] = [gate_config(manifest, "language").get("min_score")]
    q = gate_config(manifest, "quality")
    out["quality_score"] = [q.get("min_score")] + list((q.get("bands") or {}).values() if isinstance(q.get("bands"), dict) else [])
    return out


def build(out: str, bpt: float = 3.5, label: str | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """(report dict, plot URIs) for an output folder."""
    manifest, dataset, table = stats.load_frame(out)
    reasons = stats.reasons_section(table)
    rules = stats.rules_section(manifest, reasons)
    top_rules = [r["rule"] for r in sorted(rules, key=lambda r: -r["removed"]) if r["removed"]][:SIGNAL_RULES]
    signal_cols = ["lang_score", "quality_score"] + [f"h_{r}" for r in top_rules]
    signals = stats.signal_values(dataset, signal_cols)
    names = tier_names(manifest)
    rep: dict[str, Any] = {
        "output": label or out, "code_version": manifest.get("code_version", ""),
        "codesieve_version": manifest.get("codesieve_version", ""), "config_hash": manifest.get("config_hash", ""),
        "rows_in": manifest.get("rows_in", table.num_rows), "bytes_in": manifest.get("bytes_in", 0),
        "bytes_per_token": bpt, "tier_names": {str(k): v for k, v in sorted(names.items())},
        "tiers": stats.tiers_section(manifest, table, bpt), "funnel": stats.funnel_section(manifest, table),
        "languages": stats.languages_section(table, bpt), "reasons": reasons, "rules": rules,
        "signals": {k: stats.quantiles(v) for k, v in signals.items()},
        "quality_note": "quality_score present" if "quality_score" in signals
        else "no quality scores in this run (the quality gate has no scorers)",
        "dedup": stats.dedup_section(table),
        "samples": stats.samples_section(manifest, dataset, table, reasons),
        "sample_chars": stats.SAMPLE_CHARS, "timings": manifest.get("timings", {}),
        "reused": {k: n for k, n in (manifest.get("reused") or {}).items() if n},
        "config": manifest.get("config", {}), "quarantine": manifest.get("quarantine", {}),
    }
    from codesieve.pipeline.report import plots  # matplotlib: 1 s of imports, only when a report is drawn

    figs = {"funnel": plots.funnel(rep["funnel"]), "languages": plots.tiers_by_language(rep["languages"], names),
            "rules": plots.rule_removals(rules) if rules else "",
            "signals": plots.distributions(signals, _signal_thresholds(manifest, rules)) if signals else "",
            "clusters": plots.cluster_sizes(rep["dedup"]["sizes"]) if rep["dedup"]["sizes"] else ""}
    return rep, figs


def render_html(rep: dict[str, Any], figs: dict[str, str]) -> str:
    """The report page; jinja2 autoescape escapes every document text and name."""
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    template = env.from_string(resources.files(__package__).joinpath("template.html.j2").read_text("utf-8"))
    r = dict(rep, config_text=json.dumps(rep["config"], indent=1))
    return template.render(r=r, plots=figs)


def write_report(out: str, dest: str, bpt: float = 3.5, label: str | None = None) -> dict[str, Any]:
    """Write DEST/report.html and DEST/report.json (DEST a folder or an `s3://` prefix);
    returns the report dict."""
    rep, figs = build(out, bpt, label)
    files = {"report.html": render_html(rep, figs), "report.json": json.dumps(rep, indent=1, default=_jsonable) + "\n"}
    if "://" in dest:  # e.g. next to a run written to s3://
        from codesieve.pipeline.dest import Dest

        remote = Dest(dest, option="--out")
        for name, text in files.items():
            remote.put(name, text.encode())
        return rep
    os.makedirs(dest, exist_ok=True)
    for name, text in files.items():
        write_text_atomic(text, os.path.join(dest, name))
    return rep


def _jsonable(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(type(x).__name__)


def print_summary(rep: dict[str, Any], dest: str) -> None:
    print(f"{rep['rows_in']:,} rows, {rep['bytes_in'] / 1e6:,.1f} MB in {rep['output']}")
    print(f"{'tier':>4}  {'name':<14} {'rows':>9} {'MB':>9} {'est. tokens':>13}")
    for t in rep["tiers"]:
        print(f"{t['tier']:>4}  {t['name']:<14} {t['rows']:>9,} {t['bytes'] / 1e6:>9.2f} {t['tokens_est']:>13,}")
    top = sorted(((r["rows"], g, r["reason"]) for g, rs in rep["reasons"].items() for r in rs), reverse=True)[:5]
    if top:
        print("top reasons: " + ", ".join(f"{g}:{r} {n:,}" for n, g, r in top))
    print(f"wrote {os.path.join(dest, 'report.html')} and report.json")
