"""`codesieve dry-run --scorer NAME`: a quality scorer's view of some shards.

NAME is a scorer of the config's `quality` gate (or any registered scorer, with default
parameters), or `quality_score` for the gate's combined score. The shard-local gates
before `quality` are applied first (global ones, like dedup, cannot be in a dry run and
are skipped: the numbers are over rows not yet deduplicated). Prints the score
distribution (overall and per language), a threshold sweep and the documents nearest the
threshold on each side.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from codesieve.core.base import Gate
from codesieve.core.errors import UserError
from codesieve.core.registry import SCORERS
from codesieve.pipeline.config import PipelineConfig
from codesieve.pipeline.dryrun import QUANTILES, Scan, _mb, _nearest, _pct, escape_snippet, survivor_batches

SWEEP = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def _quality_gate(cfg: PipelineConfig, name: str) -> Gate:
    from codesieve.scorers.gate import QualityGate

    gate = next((g for g in cfg.gates if g.name == "quality"), None)
    if gate is not None and (name == "quality_score" or any(s.name == name for s, _ in gate.scorers)):  # type: ignore[attr-defined]
        return gate
    if name not in SCORERS:
        known = sorted(SCORERS) + ["quality_score"]
        raise UserError(f"--scorer {name}: unknown scorer (allowed: {', '.join(known)})")
    return QualityGate.build({"scorers": [{"scorer": name}]}, f"--scorer {name}")


def dry_run_scorer(cfg: PipelineConfig, args: argparse.Namespace) -> dict[str, Any]:
    name = args.scorer
    gate = _quality_gate(cfg, name)
    threshold = args.threshold[0] if args.threshold else (gate.params.min_score or 0.5)  # type: ignore[attr-defined]
    scan, values = Scan(), []
    below: list[dict] = []
    above: list[dict] = []
    k = args.examples
    for rows, nbytes, batch in survivor_batches(cfg, args.input, "quality", args.lang_column, args.limit_rows,
                                                skip_global=True):
        scan.add(rows, nbytes, batch)
        if batch.num_rows == 0:
            continue
        total, q = gate.scores(batch)  # type: ignore[attr-defined]
        v = total if name == "quality_score" else q[name]
        values.append(v)
        margin = np.abs(v - threshold)
        below = sorted(below + _nearest(batch, v < threshold, v, margin, k), key=lambda e: e["margin"])[:k]
        above = sorted(above + _nearest(batch, v >= threshold, v, margin, k), key=lambda e: e["margin"])[:k]
    v = np.concatenate(values) if values else np.zeros(0)
    return summarize(name, v, scan, threshold, below, above, args.threshold)


def summarize(name: str, v: np.ndarray, scan: Scan, threshold: float, below: list, above: list,
              given: list[float] | None) -> dict[str, Any]:
    size, lang = scan.size, scan.lang
    total_b = float(size.sum()) or 1.0
    out: dict[str, Any] = {
        "scorer": name, "threshold": threshold, "rows_scanned": scan.rows_in, "bytes_scanned": scan.bytes_in,
        "rows_scored": int(len(v)), "bytes_scored": int(size.sum()),
        "quantiles": {f"p{int(q * 100)}": float(np.quantile(v, q)) for q in QUANTILES} if len(v) else {},
        "sweep": [
            {"threshold": t, "rows_below": int((v < t).sum()), "frac_rows": float((v < t).mean()) if len(v) else 0.0,
             "frac_bytes": float(size[v < t].sum() / total_b)}
            for t in sorted(set(given or SWEEP))
        ],
        "examples_below": below, "examples_above": above,
    }
    langs, counts = np.unique(lang, return_counts=True) if len(lang) else ([], [])
    out["per_lang"] = [
        {"lang": str(lg), "rows": int(c), "median": float(np.median(v[lang == lg])),
         "frac_below": float((v[lang == lg] < threshold).mean())}
        for lg, c in sorted(zip(langs, counts), key=lambda t: (-t[1], t[0]))
    ]
    return out


def format_scorer(out: dict[str, Any]) -> str:
    t = out["threshold"]
    lines = [
        f"dry-run scorer {out['scorer']} (threshold {t:g})",
        f"  scanned: {out['rows_scanned']:,} rows, {_mb(out['bytes_scanned'])}; "
        f"scored (reaching quality): {out['rows_scored']:,} rows, {_mb(out['bytes_scored'])}",
    ]
    if out["quantiles"]:
        lines += ["\nscore quantiles:", "  " + "  ".join(f"{k}={v:.3f}" for k, v in out["quantiles"].items())]
    lines += ["\nsweep (rows scoring below the threshold):", f"  {'threshold':>9} {'rows':>8} {'% rows':>8} {'% bytes':>8}"]
    for s in out["sweep"]:
        lines.append(f"  {s['threshold']:>9.3g} {s['rows_below']:>8,} {_pct(s['frac_rows']):>8} {_pct(s['frac_bytes']):>8}")
    lines += ["\nper language:", f"  {'language':<22} {'rows':>8} {'median':>7} {f'< {t:g}':>8}"]
    for r in out["per_lang"][:20]:
        lines.append(f"  {r['lang'][:22]:<22} {r['rows']:>8,} {r['median']:>7.3f} {_pct(r['frac_below']):>8}")
    for title, key in (("below the threshold, nearest it", "examples_below"), ("above, nearest it", "examples_above")):
        lines.append(f"\n{title}:")
        lines += ["  (none)"] if not out[key] else []
        for e in out[key]:
            lines.append(f"  {e['value']:.4f}  [{e['lang']}] {escape_snippet(str(e['path']), 1, 120)}")
            lines.append(f"      {e['head']}")
    return "\n".join(lines)
