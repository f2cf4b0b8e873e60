"""Escaped snippets and the terminal tables of `codesieve dry-run`."""

from __future__ import annotations

import re
from typing import Any

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


def escape_snippet(text: str, max_lines: int = 3, max_chars: int = 160) -> str:
    """First lines of a document, safe for a terminal: control characters shown as \\xNN."""
    head = "\n".join(text.split("\n", max_lines)[:max_lines])[:max_chars]
    head = _CONTROL.sub(
        lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256 else f"\\u{ord(m.group()):04x}", head
    )
    return head.replace("\n", "\\n")


# ------------------------------------------------------------------------------------
# printing


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _header(out: dict[str, Any], what: str) -> list[str]:
    return [
        f"dry-run {what}",
        (
            f"  scanned: {out['rows_scanned']:,} rows, {_mb(out['bytes_scanned'])}; "
            f"reaching it: {out['rows_reaching']:,} rows, {_mb(out['bytes_reaching'])}"
        ),
        (
            f"  removed: {out['removed_rows']:,} rows ({_pct(out['frac_rows'])}), "
            f"{_mb(out['removed_bytes'])} ({_pct(out['frac_bytes'])}) of what reaches it"
        ),
    ]


def format_rule(out: dict[str, Any]) -> str:
    p = out["params"]
    bounds = {k: p[k] for k in ("min", "max") if p.get(k) is not None}
    if p.get("per_lang"):
        bounds["per_lang"] = {
            lg: {k: v for k, v in b.items() if v is not None} for lg, b in p["per_lang"].items()
        }
    lines = _header(out, f"rule {out['rule']} (column {out['column']}; thresholds {bounds or 'none'})")
    lines.append(
        f"  applies to {out['rows_applicable']:,} rows; {out['doc'].splitlines()[0] if out['doc'] else ''}"
    )
    if out["quantiles"]:
        lines.append("\nvalue quantiles:")
        lines.append("  " + "  ".join(f"{k}={v:.4g}" for k, v in out["quantiles"].items()))
    if out["sweep"]:
        op = ">" if out["direction"] == "max" else "<"
        lines.append(f"\nsweep (remove when value {op} threshold; per-language overrides ignored):")
        lines.append(f"  {'threshold':>12} {'rows':>8} {'% rows':>8} {'bytes':>12} {'% bytes':>8}")
        for s in out["sweep"]:
            lines.append(
                f"  {s['threshold']:>12.6g} {s['rows']:>8,} {_pct(s['frac_rows']):>8} "
                f"{_mb(s['bytes']):>12} {_pct(s['frac_bytes']):>8}"
            )
    if out["per_lang"]:
        lines.append("\nper language (rows the rule applies to):")
        lines.append(f"  {'language':<22} {'rows':>8} {'removed':>8} {'% rows':>8} {'% bytes':>8}")
        for r in out["per_lang"][:25]:
            lines.append(
                f"  {r['lang'][:22]:<22} {r['rows']:>8,} {r['removed']:>8,} "
                f"{_pct(r['frac_rows']):>8} {_pct(r['frac_bytes']):>8}"
            )
        if len(out["per_lang"]) > 25:
            lines.append(f"  ... {len(out['per_lang']) - 25} more languages (see --json)")
    for title, key in (
        ("removed, nearest the threshold", "examples_failing"),
        ("kept, nearest the threshold", "examples_passing"),
    ):
        lines.append(f"\n{title}:")
        if not out[key]:
            lines.append("  (none)")
        for e in out[key]:
            lines.append(f"  {e['value']:.6g}  [{e['lang']}] {escape_snippet(str(e['path']), 1, 120)}")
            lines.append(f"      {e['head']}")
    return "\n".join(lines)


def format_checks(out: dict[str, Any]) -> str:
    what = "all rules" if out["gate"] == "rules" else f"gate {out['gate']}"
    lines = _header(out, what)
    lines.append(
        "\n  'only' = rows this check alone removes (its unique contribution); "
        "'first' = rows where it is the stage_failed detail"
    )
    lines.append(
        f"  {'check':<28} {'rows':>7} {'% rows':>7} {'bytes':>10} {'% bytes':>7} "
        f"{'only':>6} {'only MB':>8} {'first':>6}"
    )
    for r in out["checks"]:
        lines.append(
            f"  {r['check']:<28} {r['rows']:>7,} {_pct(r['frac_rows']):>7} {_mb(r['bytes']):>10} "
            f"{_pct(r['frac_bytes']):>7} {r['unique_rows']:>6,} {r['unique_bytes'] / 1e6:>8.2f} "
            f"{r['first_rows']:>6,}"
        )
    return "\n".join(lines)
