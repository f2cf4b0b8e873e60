"""Does each stage help? A proxy-model ablation over codesieve's cumulative stages.

    .venv/bin/python benchmarks/stage_ablation.py --input ../shared/corpus/dev \
        --pipeline-output /tmp/ablation-out --json ablation.json --plot docs/stage_ablation.png

1. Runs `codesieve run --config default` over `--input` once (local executor) into
   `--pipeline-output`, or reuses the output already there.
2. Stage pools (`ablation_data.stage_masks`): raw, language, rules, dedup, decontam,
   quality, each quality band, and a random subset of raw as large as the quality pool.
3. From each pool, per seed, an equal-size training sample of exactly `--sample-mb` MB
   (random files, joined, cut), and a byte-level order-`--order` Witten-Bell n-gram model
   (`ngram.py`) fit on it: same model, same budget, `--seeds` draws.
4. Bits per byte on text the filters never chose: HumanEval prompts + canonical solutions,
   and code files of held-out packages (`--heldout`: the regcorpus `test` split, minus
   every package of the pipeline input, on which the quality scorers trained, and minus
   RESERVED.txt). Lower is better.
Prints the funnel + bits/byte table (mean ± std over seeds), the verdict per stage against
the stage before it, and Spearman(tier, held-out bits/byte) over the cumulative stages.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from codesieve.core.errors import UserError

sys.path.insert(0, str(Path(__file__).parent))
from ablation_data import (  # noqa: E402
    GATES,
    ensure_pipeline_output,
    equal_sample,
    heldout_code,
    humaneval_text,
    read_output,
    stage_masks,
)
from ngram import ByteNgram  # noqa: E402

MB = 1_000_000
CUMULATIVE = ["raw", *GATES]


def train_and_eval(content: Any, masks: dict[str, np.ndarray], evals: dict[str, bytes],
                   budget: int, order: int, seeds: int) -> dict[str, dict[str, list[float]]]:
    """bits/byte per stage, eval set and seed: {stage: {eval: [bpb per seed]}}."""
    out: dict[str, dict[str, list[float]]] = {}
    for i, (stage, mask) in enumerate(masks.items()):
        out[stage] = {name: [] for name in evals}
        for seed in range(seeds):
            sample = equal_sample(content, mask, budget, np.random.default_rng([seed, i]))
            model = ByteNgram(order).fit(sample)
            for name, text in evals.items():
                out[stage][name].append(model.bits_per_byte(text))
        print(f"  {stage}: " + ", ".join(f"{k} {np.mean(v):.4f}" for k, v in out[stage].items()), file=sys.stderr)
    return out


def verdict(a: list[float], b: list[float]) -> str:
    """`helped` / `hurt` when mean bits/byte moved by more than 2 standard errors of the
    difference (seed-to-seed spread), else `no measurable difference`."""
    diff = float(np.mean(b) - np.mean(a))
    se = float(np.sqrt(np.var(a, ddof=1) / len(a) + np.var(b, ddof=1) / len(b))) if len(a) > 1 else 0.0
    if abs(diff) <= max(2 * se, 1e-4):
        return "no measurable difference"
    return "helped" if diff < 0 else "hurt"


def baseline_of(stage: str) -> str | None:
    """The pool a stage is judged against: the cumulative stage before it; bands and
    `random` against `quality` / `raw`."""
    if stage in CUMULATIVE:
        i = CUMULATIVE.index(stage)
        return CUMULATIVE[i - 1] if i else None
    return "quality" if stage.startswith("band:") else "raw"


def spearman(bpb: dict[str, dict[str, list[float]]], eval_name: str) -> tuple[float, float]:
    """Spearman rho (and p) between stage index (0 = raw ... 5 = quality) and bits/byte,
    one point per seed."""
    xs, ys = [], []
    for i, stage in enumerate(s for s in CUMULATIVE if s in bpb):
        xs += [i] * len(bpb[stage][eval_name])
        ys += bpb[stage][eval_name]
    r = spearmanr(xs, ys)
    return float(r.statistic), float(r.pvalue)


def report(funnel: dict[str, tuple[int, int]], bpb: dict[str, dict[str, list[float]]],
           evals: list[str], budget: int) -> str:
    """The markdown table: funnel, bits/byte ± std per eval set, verdict per eval set."""
    head = "| stage | files kept | MB kept | " + " | ".join(f"{e} bits/byte" for e in evals)
    head += " | " + " | ".join(f"vs. baseline ({e})" for e in evals) + " |"
    lines = [head, "|" + "---|" * (3 + 2 * len(evals))]
    for stage, (files, nbytes) in funnel.items():
        cells = [f"{np.mean(bpb[stage][e]):.4f} ± {np.std(bpb[stage][e], ddof=1):.4f}" for e in evals]
        base = baseline_of(stage)
        verdicts = [f"{verdict(bpb[base][e], bpb[stage][e])} vs. {base}" if base else "—" for e in evals]
        lines.append(f"| {stage} | {files:,} | {nbytes / MB:.1f} | " + " | ".join(cells + verdicts) + " |")
    lines.append("")
    lines.append(f"Each model: {budget / MB:g} MB training sample per stage and seed.")
    for e in evals:
        rho, p = spearman(bpb, e)
        lines.append(f"Spearman(stage index raw=0..quality={len(CUMULATIVE) - 1}, {e} bits/byte) = {rho:.3f} (p = {p:.3g})")
    return "\n".join(lines)


def plot(path: str, funnel: dict[str, tuple[int, int]], bpb: dict[str, dict[str, list[float]]],
         evals: list[str]) -> None:
    """Funnel (MB kept) and bits/byte ± std per stage, one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = list(funnel)
    x = np.arange(len(stages))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.2))
    ax1.bar(x, [funnel[s][1] / MB for s in stages], color="tab:gray")
    ax1.set_ylabel("MB kept")
    ax1.set_title("Funnel")
    for k, e in enumerate(evals):
        means = [np.mean(bpb[s][e]) for s in stages]
        stds = [np.std(bpb[s][e], ddof=1) for s in stages]
        ax2.errorbar(x + 0.1 * k, means, yerr=stds, fmt="o", capsize=3, label=e)
    ax2.set_ylabel("bits/byte (lower is better)")
    ax2.set_title("Proxy model (byte n-gram) on held-out text")
    ax2.legend()
    for ax in (ax1, ax2):
        ax.set_xticks(x, stages, rotation=35, ha="right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--input", nargs="+", default=["../shared/corpus/dev"], help="pipeline input (Parquet)")
    ap.add_argument("--config", default="default", help="codesieve config of the pipeline run")
    ap.add_argument("--pipeline-output", required=True, help="folder of the pipeline output (run once, then reused)")
    ap.add_argument("--heldout", default="/work/regcorpus/quality", help="corpus with a `split` column (test = eval)")
    ap.add_argument("--sample-mb", type=float, default=4.0, help="training bytes per stage and seed (MB)")
    ap.add_argument("--order", type=int, default=5, help="n-gram order (context = order-1 bytes)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--eval-mb", type=float, default=2.0, help="held-out code bytes in all (MB)")
    ap.add_argument("--eval-package-kb", type=float, default=200.0, help="held-out code bytes per package (KB)")
    ap.add_argument("--json", default=None, help="save the numbers here")
    ap.add_argument("--plot", default=None, help="save the PNG plot here")
    args = ap.parse_args(argv)
    t0 = time.time()
    manifest = ensure_pipeline_output(args.pipeline_output, args.config, args.input)
    table = read_output(args.pipeline_output)
    masks = stage_masks(table, manifest["tier_names"])
    nbytes = table["nbytes"].to_numpy()
    funnel = {s: (int(m.sum()), int(nbytes[m].sum())) for s, m in masks.items()}
    budget = int(min(args.sample_mb * MB, min(b for _, b in funnel.values())))
    held, info = heldout_code(args.heldout, args.input, int(args.eval_mb * MB), int(args.eval_package_kb * 1000))
    evals = {"humaneval": humaneval_text(), "heldout": held}
    print(f"eval: humaneval {len(evals['humaneval']):,} B; heldout {info['bytes']:,} B, {info['files']} files, "
          f"{len(info['packages'])} packages", file=sys.stderr)
    bpb = train_and_eval(table["content"].combine_chunks(), masks, evals, budget, args.order, args.seeds)
    print(report(funnel, bpb, list(evals), budget))
    print(f"\n({time.time() - t0:.0f} s wall, order {args.order}, {args.seeds} seeds)")
    if args.json:
        Path(args.json).write_text(json.dumps({"funnel": funnel, "bits_per_byte": bpb, "budget_bytes": budget,
                                               "order": args.order, "heldout": info}, indent=1))
    if args.plot:
        plot(args.plot, funnel, bpb, list(evals))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UserError as e:
        sys.exit(f"error: {e}")
