"""Quality scorers: held-out AUC per language, throughput per core, and the quality gate's
share of a whole `codesieve run`, in one run.

    .venv/bin/python benchmarks/quality_scorers.py --config configs/default.yaml \
        --input ../regcorpus/quality/{train,dev,test} --held-out ../shared/corpus/dev --mb 20

1. AUC: the recipe's labels (`scorers.train.labelled`, computed over all `--input` folders as
   in training) on the held-out *test* packages (split by package), per language with >= 10
   files of each label, for each scorer and the ensemble; `survivors` = only files the rules
   pass (what the gate really sees); `survivors vs damaged` = those survivors labelled good
   against damaged copies of them (`scorers.data.damaged_copies`).
   Corruption: on `--held-out` code files (packages outside the training list), the share
   whose score drops under each damage of the corruption test (`scorers.damage`).
2. Speed: each scorer alone and the whole gate on the rows that reach the quality gate in
   a sample of ~`--mb` MB (every k-th row of the input), CPU seconds of this process with
   Arrow on one thread: docs/s and MB/s per core.
3. Cost against `rules`: CPU seconds of the `rules` gate on the rows reaching it and of
   the `quality` gate on the rows reaching it, same process, same input (per input MB).
4. Share: `codesieve run` (local executor, one process) of the same sample with the
   config; the manifest's per-gate wall seconds give each gate's share of the run.
Prints markdown; `--json FILE` saves the numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from codesieve.core.base import UnitContext
from codesieve.core.batch import DocBatch
from codesieve.pipeline.config import load_config
from codesieve.pipeline.executors import LocalExecutor
from codesieve.pipeline.gaterun import alive_batch, run_gates
from codesieve.pipeline.runner import run
from codesieve.pipeline.tiers import UnitState
from codesieve.scorers.damage import damage
from codesieve.scorers.data import damaged_copies, dedup_and_cap, read_corpus, stable_unit
from codesieve.scorers.fit import per_language_metrics
from codesieve.scorers.train import labelled, metrics_table

sys.path.insert(0, str(Path(__file__).parent))
from rules_speed import load_sample  # noqa: E402


def held_out_auc(gate: Any, inputs: list[str], max_test: int) -> dict[str, Any]:
    table, _ = labelled(inputs, None, 3.0, 300)
    test = table.filter(pc.equal(table["split"], "test"))
    if max_test and len(test) > max_test:  # a deterministic subset (slow scorers)
        keep = np.sort(np.argsort(stable_unit(test["id"].to_pylist(), "bench"))[:max_test])
        test = test.take(pa.array(keep))
    total, q = gate.scores(DocBatch(test))
    q["ensemble"] = total
    y = test["label"].to_numpy().astype(np.int8)
    langs = np.asarray(pc.fill_null(test["lang"], "").to_pylist(), dtype=object)
    ok = ~test["rules_failed"].to_numpy(zero_copy_only=False)
    # survivors the labels call good vs damaged copies of them (scorers.data.damaged_copies)
    good = test.filter(pa.array(ok & (y == 1)))
    bad = damaged_copies(good, np.ones(len(good), np.int8), 1.0, seed=1)
    tot_bad, q_bad = gate.scores(DocBatch(bad.cast(good.schema)))
    q_bad["ensemble"] = tot_bad
    pos = np.isin(np.asarray(test["id"].to_pylist()), [i.split("#")[0] for i in bad["id"].to_pylist()])
    out = {}
    for k, v in q.items():
        out[k] = per_language_metrics(v, y, langs, min_each=10)
        out[k]["survivors"] = per_language_metrics(v[ok], y[ok], langs[ok])["all"]
        vv = np.concatenate([v[pos], q_bad[k]])
        yy = np.concatenate([np.ones(pos.sum(), np.int8), np.zeros(len(bad), np.int8)])
        out[k]["survivors vs damaged"] = per_language_metrics(vv, yy, np.zeros(len(yy), object))["all"]
    return out


def corruption_drops(gate: Any, corpus: str, per_package: int) -> dict[str, dict[str, float]]:
    """Share of held-out code files (> 20 lines, `per_package` per package) whose score drops
    under each damage (strength 0.33, seed 0), per scorer and for quality_score."""
    t = read_corpus([corpus])
    code = pc.is_in(t["language"], pa.array(["Python", "JavaScript", "TypeScript", "C", "Go", "Java", "PHP", "Ruby"]))
    lines = pc.count_substring(t["content"], "\n")
    t = t.filter(pc.and_(code, pc.and_(pc.greater(lines, 20), pc.less(pc.binary_length(t["content"]), 50_000))))
    t = dedup_and_cap(t, per_package)
    t = t.append_column("lang", t["language"])
    total, q = gate.scores(DocBatch(t))
    q["quality_score"] = total
    texts = t["content"].to_pylist()
    out: dict[str, dict[str, float]] = {}
    for kind in ("minified", "comments_stripped", "lines_shuffled", "syntax_errors"):
        rng = np.random.default_rng(0)
        bad = [damage(x, kind, rng) for x in texts]
        changed = np.array([a != b for a, b in zip(texts, bad)])
        total2, q2 = gate.scores(DocBatch(t.set_column(t.column_names.index("content"), "content", pa.array(bad))))
        q2["quality_score"] = total2
        out[kind] = {"files": int(changed.sum()), **{k: float((q2[k][changed] < v[changed]).mean()) for k, v in q.items()}}
    return out


def reaching_quality(cfg: Any, tables: list[pa.Table]) -> tuple[list[DocBatch], dict[str, float]]:
    """The rows of each sample unit that reach the quality gate (shard-local gates applied;
    dedup, which is global, is skipped: it would remove a few more), and the CPU seconds and
    input MB of the `rules` gate and the `quality` gate on the rows reaching each."""
    before = [(i, g) for i, g in enumerate(cfg.gates[:-1]) if not g.is_global]
    fields = {f.name: f.type for _, g in before for f in g.output_fields()}
    cost = {"rules_s": 0.0, "rules_mb": 0.0, "quality_s": 0.0, "quality_mb": 0.0}
    out = []
    for u, t in enumerate(tables):
        state = UnitState(t.num_rows)
        for i, g in before:
            if g.name == "rules":
                b = alive_batch(t, state, np.flatnonzero(state.alive), "content")
                t0 = time.process_time()
                g.apply(DocBatch(b.table), None)
                cost["rules_s"] += time.process_time() - t0
                cost["rules_mb"] += int(b.byte_len.sum()) / 1e6
            run_gates([(i, g)], t, state, UnitContext(unit=u, work_dir=""), {}, fields)
        b = alive_batch(t, state, np.flatnonzero(state.alive), "content")
        t0 = time.process_time()
        cfg.gates[-1].apply(DocBatch(b.table), None)
        cost["quality_s"] += time.process_time() - t0
        cost["quality_mb"] += int(b.byte_len.sum()) / 1e6
        out.append(b)
    return out, cost


def throughput(gate: Any, batches: list[DocBatch]) -> list[dict[str, Any]]:
    """CPU seconds, docs/s and MB/s for each scorer alone and for the gate (fresh batches)."""
    rows = sum(b.num_rows for b in batches)
    mb = sum(int(b.byte_len.sum()) for b in batches) / 1e6
    res = []
    for s, _ in gate.scorers:
        t0 = time.process_time()
        for b in batches:
            s.score(DocBatch(b.table))
        sec = time.process_time() - t0
        res.append({"what": s.name, "seconds": sec, "docs_s": rows / sec, "mb_s": mb / sec})
    t0 = time.process_time()
    for b in batches:
        gate.scores(DocBatch(b.table))
    sec = time.process_time() - t0
    res.append({"what": "gate (ensemble)", "seconds": sec, "docs_s": rows / sec, "mb_s": mb / sec})
    return res


def pipeline_share(config: str, tables: list[pa.Table]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in"
        src.mkdir()
        for i, t in enumerate(tables):
            pq.write_table(t.drop_columns(["lang"]), src / f"part-{i:05d}.parquet")
        out = Path(tmp) / "out"
        t0 = time.process_time()
        run(load_config(config), str(src), str(out), LocalExecutor(), quiet=True)
        cpu = time.process_time() - t0
        manifest = json.loads((out / ".codesieve" / "manifest.json").read_text())
    gates = {k: v["seconds"] for k, v in manifest["gates"].items()}
    return {"mb_in": manifest["bytes_in"] / 1e6, "total_s": manifest["timings"]["total"], "cpu_s": cpu,
            "gate_seconds": gates, "quality_share": gates.get("quality", 0) / manifest["timings"]["total"],
            "quality_over_rules": gates.get("quality", 0) / max(gates.get("rules", 0), 1e-9)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="configs/default.yaml")
    ap.add_argument("--input", nargs="+", default=["../shared/corpus/dev"],
                    help="labelled corpus folders (all splits, as in training); speed uses the last one")
    ap.add_argument("--held-out", default=None, help="corpus of packages outside training: corruption drops")
    ap.add_argument("--per-package", type=int, default=12, help="--held-out files per package")
    ap.add_argument("--max-test", type=int, default=0, help="AUC on at most this many test files (0: all)")
    ap.add_argument("--mb", type=float, default=20.0, help="MB of input for the speed and share parts")
    ap.add_argument("--skip-auc", action="store_true")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    cfg = load_config(args.config)
    gate = cfg.gates[-1]
    gate.load()
    out: dict[str, Any] = {}
    if not args.skip_auc:
        out["auc"] = held_out_auc(gate, args.input, args.max_test)
        print("## held-out AUC per language (test packages)\n")
        print("\n".join(metrics_table(out["auc"])))
    if args.held_out:
        out["corruption"] = cd = corruption_drops(gate, args.held_out, args.per_package)
        cols = [k for k in next(iter(cd.values())) if k != "files"]
        print(f"\n## share of held-out files whose score drops under damage ({args.held_out})\n")
        print(f"| damage | files | {' | '.join(cols)} |\n|---|---|" + "---|" * len(cols))
        for kind, r in cd.items():
            print(f"| {kind} | {r['files']} | {' | '.join(f'{r[c]:.3f}' for c in cols)} |")
    tables = load_sample(args.input[-1], args.mb, "language")
    batches, cost = reaching_quality(cfg, tables)
    out["gate_cost"] = cost
    mb_in = sum(int(DocBatch(t).byte_len.sum()) for t in tables) / 1e6
    out["speed"] = throughput(gate, batches)
    print(f"\n## speed on {sum(b.num_rows for b in batches):,} rows reaching the gate "
          f"({sum(int(b.byte_len.sum()) for b in batches) / 1e6:.1f} MB), per core\n")
    print("| scorer | CPU s | docs/s | MB/s |\n|---|---|---|---|")
    for r in out["speed"]:
        print(f"| {r['what']} | {r['seconds']:.2f} | {r['docs_s']:,.0f} | {r['mb_s']:.1f} |")
    print(f"\n## gate CPU cost, same process, same {mb_in:.1f} MB input (Arrow on one thread)\n")
    print("| gate | MB reaching it | CPU s | MB/s (of what reaches it) | CPU s per input MB |\n|---|---|---|---|---|")
    for g in ("rules", "quality"):
        s_, mb = cost[f"{g}_s"], cost[f"{g}_mb"]
        print(f"| {g} | {mb:.1f} | {s_:.2f} | {mb / s_:.1f} | {s_ / mb_in:.3f} |")
    print(f"\nquality / rules CPU per input MB: {cost['quality_s'] / cost['rules_s']:.2f}")
    out["pipeline"] = p = pipeline_share(args.config, tables)
    print(f"\n## whole run ({p['mb_in']:.1f} MB in, local executor): {p['total_s']:.1f} s wall, {p['cpu_s']:.1f} s CPU\n")
    print("| gate | seconds | share of run |\n|---|---|---|")
    for k, v in p["gate_seconds"].items():
        print(f"| {k} | {v:.2f} | {v / p['total_s']:.1%} |")
    print(f"\nquality gate / rules gate wall time in that run (includes model loading): {p['quality_over_rules']:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=float))


if __name__ == "__main__":
    main()
