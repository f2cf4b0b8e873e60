"""`codesieve dry-run`: what one rule, every rule, or one gate would do to some shards.

Reads the input like `run` does (same reader, same quarantine), applies the config's
gates that come before the one being examined (so the numbers agree with what `run`
removes), measures, and prints: rows/bytes scanned, removal (overall and per language),
value quantiles, a threshold sweep and the documents nearest the threshold on each side.
Writes no dataset; `--json FILE` saves the numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from codesieve.core.base import MeasuredGate, Rule, UnitContext
from codesieve.core.batch import DocBatch
from codesieve.core.errors import UserError
from codesieve.pipeline.config import PipelineConfig, load_config
from codesieve.pipeline.dryrun_format import _mb, _pct, escape_snippet, format_checks, format_rule  # noqa: F401 (re-exported)
from codesieve.pipeline.dryrun_input import _gate_index, stored_batches, survivor_batches  # noqa: F401 (re-exported)

HELP = """Show what a rule (or every rule, or a gate) of a config would remove, without
writing any dataset: rows and bytes scanned, fraction removed overall and per language,
value quantiles, a threshold sweep, and the documents nearest the threshold."""

QUANTILES = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "dry-run",
        help="what one rule / every rule / a gate would remove",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", required=True, help="pipeline YAML (its gates and thresholds are used)")
    p.add_argument("--input", required=True, help="folder, glob or URI of .parquet / .jsonl(.gz/.zst) files")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--rule", help="one rule (from the config's rules gate, or any registered rule)")
    what.add_argument("--all-rules", action="store_true", help="one table for every rule of the config")
    what.add_argument("--gate", help="a whole shard-local gate of the config (per-check table)")
    what.add_argument("--scorer", help="a quality scorer of the config, or quality_score (score distribution, sweep)")
    p.add_argument(
        "--threshold",
        type=float,
        nargs="+",
        default=None,
        help="thresholds for the sweep (the first is used when the config gives none)",
    )
    p.add_argument(
        "--direction",
        choices=["max", "min"],
        default=None,
        help="fail above (max) or below (min) a threshold (default: from the config)",
    )
    p.add_argument(
        "--lang-column",
        default=None,
        help="take `lang` from this input column and skip the gates before `rules` "
        "(for calibrating rules independently of language id)",
    )
    p.add_argument("--limit-rows", type=int, default=None, help="scan only the first N input rows")
    p.add_argument("--examples", type=int, default=5, help="documents shown on each side of the threshold")
    p.add_argument("--json", default=None, metavar="FILE", help="also save the numbers as JSON")
    p.set_defaults(func=main)
    return p


# ------------------------------------------------------------------------------------
# accumulation


@dataclass
class Scan:
    """Totals over the whole input."""

    rows_in: int = 0
    bytes_in: int = 0
    rows_reaching: int = 0
    bytes_reaching: int = 0
    langs: list[np.ndarray] = field(default_factory=list)
    sizes: list[np.ndarray] = field(default_factory=list)

    def add(self, rows: int, nbytes: int, batch: DocBatch) -> None:
        self.rows_in += rows
        self.bytes_in += nbytes
        self.rows_reaching += batch.num_rows
        self.bytes_reaching += int(batch.byte_len.sum())
        self.langs.append(np.asarray(pc.fill_null(batch.lang, "?").to_pylist(), dtype=object))
        self.sizes.append(batch.byte_len)

    @property
    def lang(self) -> np.ndarray:
        return np.concatenate(self.langs) if self.langs else np.zeros(0, object)

    @property
    def size(self) -> np.ndarray:
        return np.concatenate(self.sizes) if self.sizes else np.zeros(0, np.int64)


def _frac(a: float, b: float) -> float:
    return float(a) / b if b else 0.0


def _examples(
    batch: DocBatch, idx: np.ndarray, values: np.ndarray, margin: np.ndarray
) -> list[dict[str, Any]]:
    if len(idx) == 0:
        return []
    texts = batch.text.take(pa.array(idx)).to_pylist()
    paths = batch.path.take(pa.array(idx)).to_pylist()
    langs = batch.lang.take(pa.array(idx)).to_pylist()
    return [
        {
            "path": p,
            "lang": lg,
            "value": float(values[i]),
            "margin": float(margin[i]),
            "head": escape_snippet(t),
        }
        for i, t, p, lg in zip(idx, texts, paths, langs)
    ]


def _nearest(batch: DocBatch, mask: np.ndarray, values: np.ndarray, margin: np.ndarray, k: int) -> list[dict]:
    cand = np.flatnonzero(mask)
    cand = cand[np.argsort(margin[cand], kind="stable")[:k]]
    return _examples(batch, cand, values, margin)


def _margin(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Distance from each value to its nearest finite bound."""
    with np.errstate(invalid="ignore"):
        d_lo = np.where(np.isfinite(lo), np.abs(values - lo), np.inf)
        d_hi = np.where(np.isfinite(hi), np.abs(values - hi), np.inf)
    return np.minimum(d_lo, d_hi)


# ------------------------------------------------------------------------------------
# one rule


def _resolve_rule(
    cfg: PipelineConfig, name: str, threshold: list[float] | None, direction: str | None
) -> Rule:
    from codesieve.core.registry import RULES
    from codesieve.filters.rules.gate import build_rule

    gate = cfg.gates[_gate_index(cfg, "rules")]
    for rule in gate.rules:  # type: ignore[attr-defined]
        if rule.name == name:
            return rule
    if name not in RULES:
        raise UserError(f"--rule {name}: unknown rule (registered: {', '.join(sorted(RULES))})")
    entry: dict[str, Any] = {"rule": name}
    if threshold:
        entry[direction or "max"] = threshold[0]
    return build_rule(entry, f"--rule {name}")


def _rule_direction(rule: Rule, direction: str | None) -> str:
    if direction:
        return direction
    p = rule.params
    # the rule's own bound decides; per-language overrides only when it has none
    # (num_chars: global `min` with a JSON `max` sweeps the `min`)
    if p.max is not None:
        return "max"
    if p.min is not None:
        return "min"
    if any(b.max is not None for b in p.per_lang.values()):
        return "max"
    if any(b.min is not None for b in p.per_lang.values()):
        return "min"
    return "max"


def _sweep_thresholds(values: np.ndarray, given: list[float] | None) -> list[float]:
    if given:
        return sorted(set(given))
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return []
    qs = np.quantile(finite, [0.5, 0.75, 0.9, 0.95, 0.99, 0.999])
    return sorted({float(np.round(q, 6)) for q in qs})


def dry_run_rule(cfg: PipelineConfig, args: argparse.Namespace) -> dict[str, Any]:
    rule = _resolve_rule(cfg, args.rule, args.threshold, args.direction)
    direction = _rule_direction(rule, args.direction)
    scan = Scan()
    vals, fails, applies = [], [], []
    fail_ex: list[dict] = []
    pass_ex: list[dict] = []
    k = args.examples
    for rows, nbytes, batch in survivor_batches(cfg, args.input, "rules", args.lang_column, args.limit_rows):
        scan.add(rows, nbytes, batch)
        if batch.num_rows == 0:
            continue
        stored = batch.column(rule.column)  # a finished run's output holds the values
        v = (stored.to_numpy(zero_copy_only=False) if stored is not None else rule.measure(batch)).astype(np.float64)
        f = rule.decide(v, batch)
        a = rule.applies(batch) & ~np.isnan(v)
        lo, hi = rule.bounds(batch)
        if not (np.isfinite(lo).any() or np.isfinite(hi).any()) and args.threshold:
            t = args.threshold[0]
            lo = np.full(len(v), t if direction == "min" else -np.inf)
            hi = np.full(len(v), t if direction == "max" else np.inf)
        m = _margin(v, lo, hi)
        fail_ex = sorted(fail_ex + _nearest(batch, f, v, m, k), key=lambda e: e["margin"])[:k]
        pass_ex = sorted(
            pass_ex + _nearest(batch, a & ~f & np.isfinite(m), v, m, k), key=lambda e: e["margin"]
        )[:k]
        vals.append(v)
        fails.append(f)
        applies.append(a)
    v = np.concatenate(vals) if vals else np.zeros(0)
    f = np.concatenate(fails) if fails else np.zeros(0, bool)
    a = np.concatenate(applies) if applies else np.zeros(0, bool)
    lang, size = scan.lang, scan.size
    finite = v[a]
    quant = (
        {
            f"p{int(q * 100) if q * 100 == int(q * 100) else q * 100}": float(np.quantile(finite, q))
            for q in QUANTILES
        }
        if len(finite)
        else {}
    )
    sweep = []
    for t in _sweep_thresholds(finite, args.threshold):
        with np.errstate(invalid="ignore"):
            s = a & ((v > t) if direction == "max" else (v < t))
        sweep.append(
            {
                "threshold": t,
                "rows": int(s.sum()),
                "bytes": int(size[s].sum()),
                "frac_rows": _frac(s.sum(), scan.rows_reaching),
                "frac_bytes": _frac(size[s].sum(), scan.bytes_reaching),
            }
        )
    per_lang = []
    for lg in sorted(set(lang[a].tolist()), key=lambda x: -int((lang == x).sum())):
        sel = lang == lg
        per_lang.append(
            {
                "lang": lg,
                "rows": int(sel.sum()),
                "removed": int((f & sel).sum()),
                "frac_rows": _frac((f & sel).sum(), sel.sum()),
                "frac_bytes": _frac(size[f & sel].sum(), size[sel].sum()),
            }
        )
    return {
        "mode": "rule",
        "rule": rule.name,
        "column": rule.column,
        "doc": (type(rule).__doc__ or "").strip(),
        "params": rule.params.model_dump(mode="json"),
        "direction": direction,
        "rows_scanned": scan.rows_in,
        "bytes_scanned": scan.bytes_in,
        "rows_reaching": scan.rows_reaching,
        "bytes_reaching": scan.bytes_reaching,
        "rows_applicable": int(a.sum()),
        "removed_rows": int(f.sum()),
        "removed_bytes": int(size[f].sum()),
        "frac_rows": _frac(f.sum(), scan.rows_reaching),
        "frac_bytes": _frac(size[f].sum(), scan.bytes_reaching),
        "quantiles": quant,
        "sweep": sweep,
        "per_lang": per_lang,
        "examples_failing": fail_ex,
        "examples_passing": pass_ex,
    }


# ------------------------------------------------------------------------------------
# every rule / a whole gate


def dry_run_checks(cfg: PipelineConfig, args: argparse.Namespace, gate_name: str) -> dict[str, Any]:
    """Per check (rule or gate reason): removed rows/bytes and the rows only it removes."""
    gate = cfg.gates[_gate_index(cfg, gate_name)]
    if gate.is_global:
        raise UserError(
            f"--gate {gate_name}: a global gate needs the whole run; use `codesieve run --gates {gate_name}`"
        )
    scan = Scan()
    fails_all: list[np.ndarray] = []
    names: list[str] | None = None
    for unit, (rows, nbytes, batch) in enumerate(
        survivor_batches(
            cfg, args.input, gate_name, args.lang_column if gate_name == "rules" else None, args.limit_rows
        )
    ):
        scan.add(rows, nbytes, batch)
        if batch.num_rows == 0:
            continue
        ctx = UnitContext(unit=unit, work_dir="", text_column=cfg.input.text_column)
        stored = {f.name: batch.column(f.name) for f in gate.output_fields()}
        if isinstance(gate, MeasuredGate) and all(c is not None for c in stored.values()):
            res = gate.decide(batch, stored, ctx)  # re-decide a finished run's stored values
        else:
            res = gate.apply(batch, ctx)
        names = res.reason_names
        fails_all.append(res.fails)
    if names is None:
        names = [r.name for r in getattr(gate, "rules", [])]
    fails = np.concatenate(fails_all) if fails_all else np.zeros((0, len(names)), bool)
    size = scan.size
    n_fail = fails.sum(axis=1)
    any_fail = n_fail > 0
    first = np.argmax(fails, axis=1) if fails.size else np.zeros(0, np.int64)
    table = []
    for j, name in enumerate(names):
        col = fails[:, j]
        only = col & (n_fail == 1)
        firsts = col & (first == j)
        table.append(
            {
                "check": name,
                "rows": int(col.sum()),
                "bytes": int(size[col].sum()),
                "frac_rows": _frac(col.sum(), scan.rows_reaching),
                "frac_bytes": _frac(size[col].sum(), scan.bytes_reaching),
                "unique_rows": int(only.sum()),
                "unique_bytes": int(size[only].sum()),
                "first_rows": int(firsts.sum()),
            }
        )
    table.sort(key=lambda r: (-r["rows"], -r["unique_rows"], r["check"]))
    return {
        "mode": "gate",
        "gate": gate_name,
        "rows_scanned": scan.rows_in,
        "bytes_scanned": scan.bytes_in,
        "rows_reaching": scan.rows_reaching,
        "bytes_reaching": scan.bytes_reaching,
        "removed_rows": int(any_fail.sum()),
        "removed_bytes": int(size[any_fail].sum()),
        "frac_rows": _frac(any_fail.sum(), scan.rows_reaching),
        "frac_bytes": _frac(size[any_fail].sum(), scan.bytes_reaching),
        "checks": table,
    }


def main(args: argparse.Namespace) -> int:
    if args.examples < 0:
        raise UserError("--examples: must be >= 0")
    cfg = load_config(args.config)
    if args.scorer:
        from codesieve.pipeline.scorerdryrun import dry_run_scorer, format_scorer

        out = dry_run_scorer(cfg, args)
        text = format_scorer(out)
    elif args.rule:
        out = dry_run_rule(cfg, args)
        text = format_rule(out)
    else:
        out = dry_run_checks(cfg, args, "rules" if args.all_rules else args.gate)
        text = format_checks(out)
    print(text)
    if args.json:
        try:
            with open(args.json, "w", encoding="utf-8") as fh:
                json.dump(out, fh, indent=1)
        except OSError as exc:
            raise UserError(f"--json {args.json}: cannot write ({exc})") from None
    sys.stdout.flush()
    return 0
