"""Heuristic-rule throughput: every rule alone, the whole `rules` gate, and a per-document
pure-Python implementation of the same rules (each rule's `reference`), in one run.

    .venv/bin/python benchmarks/rules_speed.py --config configs/default.yaml \
        --input ../shared/corpus/dev --mb 30 [--baseline-mb 10] [--all-registered]

MB/s are UTF-8 MB of document text per CPU-second of this process, with Arrow limited to
one thread (so: per core, and robust to other load on the machine). Each rule is timed on
fresh batches, so it pays for the shared features it needs (words, lines, ...); the gate
shares them, which is why it is faster than the sum of its rules. `lang` is taken from
the input's `language` column when present (the dev corpus has it).
Prints a markdown table; `--json FILE` saves the numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from typing import Any

import numpy as np
import pyarrow as pa

from codesieve.core.batch import DocBatch
from codesieve.core.registry import RULES
from codesieve.filters.rules.gate import RulesGate
from codesieve.pipeline.config import load_config
from codesieve.pipeline.io import iter_batches


def load_sample(input_path: str, mb: float, lang_column: str) -> list[pa.Table]:
    """About `mb` MB of documents spread over the whole input (every k-th row), in the
    work units `run` would cut."""
    tables: list[pa.Table] = []
    for _src, batch in iter_batches(input_path, "content"):
        table = batch.table
        if lang_column in table.column_names and "lang" not in table.column_names:
            table = table.append_column("lang", table.column(lang_column).cast(pa.string()))
        tables.append(table)
    total = sum(int(DocBatch(t).byte_len.sum()) for t in tables)
    stride = max(1, round(total / (mb * 1e6)))
    out, start = [], 0
    for t in tables:
        idx = np.flatnonzero((np.arange(start, start + t.num_rows) % stride) == 0)
        start += t.num_rows
        if len(idx):
            out.append(t.take(pa.array(idx)))
    return out


def cpu_seconds(fn: Any) -> float:
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def time_rule(rule: Any, tables: list[pa.Table]) -> float:
    return sum(cpu_seconds(lambda t=t: rule.measure(DocBatch(t))) for t in tables)


def time_gate(gate: RulesGate, tables: list[pa.Table]) -> float:
    return sum(cpu_seconds(lambda t=t: gate.apply(DocBatch(t), None)) for t in tables)


def reference_gate(rules: list[Any], docs: list[tuple[str, str, str | None]]) -> list[bool]:
    """The same gate, one document at a time in pure Python: values, then thresholds."""
    out = []
    for text, path, lang in docs:
        failed = False
        for rule in rules:
            v = rule.reference(text, path, lang)
            if math.isnan(v) or not _applies(rule, lang):
                continue
            lo, hi = _bounds(rule, lang)
            failed |= v < lo or v > hi
        out.append(failed)
    return out


def _applies(rule: Any, lang: str | None) -> bool:
    p = rule.params
    allowed = p.langs if p.langs is not None else rule.native_langs
    return (allowed is None or lang in allowed) and lang not in p.skip_langs


def _bounds(rule: Any, lang: str | None) -> tuple[float, float]:
    p = rule.params
    lo = -math.inf if p.min is None else p.min
    hi = math.inf if p.max is None else p.max
    b = p.per_lang.get(lang) if lang else None
    if b is not None:
        lo = b.min if b.min is not None else lo
        hi = b.max if b.max is not None else hi
    return lo, hi


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="configs/default.yaml")
    ap.add_argument("--input", default="../shared/corpus/dev")
    ap.add_argument("--mb", type=float, default=30.0, help="MB of text to time the rules and the gate on")
    ap.add_argument(
        "--baseline-mb",
        type=float,
        default=None,
        help="MB for the pure-Python baseline (default: the same sample)",
    )
    ap.add_argument("--lang-column", default="language")
    ap.add_argument(
        "--all-registered", action="store_true", help="time every registered rule, not only the config's"
    )
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    cfg = load_config(args.config)
    gate = next(g for g in cfg.gates if g.name == "rules")
    assert isinstance(gate, RulesGate)
    tables = load_sample(args.input, args.mb, args.lang_column)
    mb = sum(int(DocBatch(t).byte_len.sum()) for t in tables) / 1e6
    rows = sum(t.num_rows for t in tables)
    time_gate(gate, [tables[0].slice(0, 200)])  # warm-up: imports, first-call costs

    rules = list(gate.rules)
    if args.all_registered:
        in_cfg = {r.name for r in rules}
        rules += [cls(cls.Params()) for name, cls in sorted(RULES.items()) if name not in in_cfg]
    per_rule = []
    for rule in rules:
        sec = time_rule(rule, tables)
        per_rule.append(
            {"rule": rule.name, "in_config": rule in gate.rules, "seconds": sec, "mb_s": mb / sec}
        )

    gate_sec = time_gate(gate, tables)
    base_tables = (
        tables if args.baseline_mb is None else load_sample(args.input, args.baseline_mb, args.lang_column)
    )
    base_mb = sum(int(DocBatch(t).byte_len.sum()) for t in base_tables) / 1e6
    docs = [(d["content"], d.get("path") or "", d.get("lang")) for t in base_tables for d in t.to_pylist()]
    base_sec = cpu_seconds(lambda: reference_gate(list(gate.rules), docs))
    vec_on_base = time_gate(gate, base_tables)

    result = {
        "config": args.config,
        "sample_mb": mb,
        "sample_rows": rows,
        "gate_rules": len(gate.rules),
        "gate_mb_s": mb / gate_sec,
        "baseline_mb": base_mb,
        "baseline_mb_s": base_mb / base_sec,
        "gate_mb_s_on_baseline_sample": base_mb / vec_on_base,
        "speedup": (base_mb / vec_on_base) / (base_mb / base_sec),
        "rules": per_rule,
    }
    print(
        f"sample: {rows:,} documents, {mb:.1f} MB ({args.input}); config {args.config}; "
        f"Arrow 1 thread; MB/s per CPU-second\n"
    )
    print("| rule | in config | MB/s per core |")
    print("|---|---|---:|")
    for r in sorted(per_rule, key=lambda r: r["mb_s"]):
        print(f"| `{r['rule']}` | {'yes' if r['in_config'] else 'no'} | {r['mb_s']:,.1f} |")
    print(f"\n| whole `rules` gate ({len(gate.rules)} rules) | MB/s per core |")
    print("|---|---:|")
    print(f"| vectorized gate, {mb:.1f} MB | {result['gate_mb_s']:.1f} |")
    print(
        f"| vectorized gate, baseline sample {base_mb:.1f} MB | {result['gate_mb_s_on_baseline_sample']:.1f} |"
    )
    print(f"| per-document pure Python (same rules), {base_mb:.1f} MB | {result['baseline_mb_s']:.2f} |")
    print(f"| speed-up | {result['speedup']:.1f}x |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1)


if __name__ == "__main__":
    main()
