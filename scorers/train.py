"""Recipe for the shipped quality models, and `codesieve train-scorer`.

    python -m codesieve.scorers.train --input ../shared/corpus/dev --out scorers/models
    codesieve train-scorer --input SHARDS --labels labels.jsonl --kind all --out my_models/

Steps: read the corpus (reserved packages dropped) -> labels (a labels file joined on `id`,
or the weak labels of `scorers.data`) -> exact dedup, cap files per package -> split by
package (train / dev / test) -> fit the fastText and features scorers on train -> fit
the stacking ensemble on dev -> report AUC (and Spearman with graded labels) per language
on test -> write the models and MODEL_CARD.md (data, recipe, metrics, sha256 of every
file). Same input and options => byte-identical model files.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from codesieve.core.batch import DocBatch
from codesieve.core.errors import UserError
from codesieve.filters.rules.gate import RulesGate
from codesieve.scorers import data
from codesieve.scorers.fit import (
    FastTextConfig,
    FeaturesConfig,
    fit_ensemble,
    fit_fasttext,
    fit_features,
    hashes,
    per_language_metrics,
)
from codesieve.scorers.fit_encoder import EncoderConfig, subset
from codesieve.scorers.gate import QualityGate, combine

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "default.yaml"
KINDS = ("fasttext", "features", "encoder")
#: `--kind` choices: one kind, `all` (the shipped default: fasttext + features) or all three
KIND_SETS = {"all": ("fasttext", "features"), "all+encoder": KINDS, **{k: (k,) for k in KINDS}}


def rules_failed(table: pa.Table, chunk: int = 5000) -> np.ndarray:
    """Bool per row: the default config's `rules` gate rejects it (`lang` = corpus label)."""
    cfg = yaml.safe_load(CONFIG.read_text())
    entry = next(g for g in cfg["gates"] if g["gate"] == "rules")
    gate = RulesGate.build({k: v for k, v in entry.items() if k != "gate"}, "rules")
    out = np.zeros(len(table), dtype=bool)
    for s in range(0, len(table), chunk):
        res = gate.apply(DocBatch(table.slice(s, chunk)), None)  # type: ignore[arg-type]
        out[s : s + chunk] = ~res.passed
    return out


def labelled(inputs: list[str], labels_file: str | None, threshold: float, cap: int) -> tuple[pa.Table, dict[str, Any]]:
    """The training table with `lang`, `label` (0/1), `graded` (float) and `split` columns."""
    table = data.read_corpus(inputs)
    lang = pc.if_else(pc.equal(table["language"], "unknown"), pa.scalar(None, pa.string()), table["language"])
    table = table.append_column("lang", lang.cast(pa.string()))
    info: dict[str, Any] = {"inputs": inputs, "rows_read": len(table)}
    table = table.append_column("rules_failed", pa.array(rules_failed(table)))
    if labels_file:
        given = data.read_labels(labels_file)
        graded = np.array([given.get(i, np.nan) for i in table["id"].to_pylist()])
        table = table.append_column("graded", pa.array(graded)).filter(pa.array(~np.isnan(graded)))
        if len(table) == 0:
            raise UserError(f"--labels {labels_file}: no id matches a row of --input")
        g = table["graded"].to_numpy()
        lab = g >= threshold if len(np.unique(g)) > 2 else g > 0
        info["labels"] = f"file {labels_file}: label = score >= {threshold}" if len(np.unique(g)) > 2 else f"file {labels_file}"
        table = table.append_column("label", pa.array(lab.astype(np.int8)))
    else:
        lab = data.weak_labels(table, table["rules_failed"].to_numpy(zero_copy_only=False))
        info["labels"] = "weak: rules-rejected / vendored paths / long-tail packages = 0; the rest of popular packages = 1"
        table = table.append_column("label", pa.array(lab)).filter(pa.array(lab >= 0))
        table = table.append_column("graded", table["label"].cast(pa.float64()))
    table = data.dedup_and_cap(table, cap)
    split = pa.array(data.split_of(table).tolist(), pa.string())
    if "split" in table.column_names:  # the corpus's own split (by package) is kept as is
        table = table.drop_columns(["split"])
    table = table.append_column("split", split)
    info["rows_used"] = len(table)
    info["by_split"] = {
        s: {"rows": int(m.sum()), "pos": int(table["label"].to_numpy()[m].sum()),
            "packages": len(set(np.asarray(table["package"].to_pylist())[m].tolist()))}
        for s in ("train", "dev", "test") for m in [np.asarray(table["split"].to_pylist()) == s]
    }
    return table, info


def _part(table: pa.Table, split: str) -> tuple[pa.Table, np.ndarray]:
    t = table.filter(pc.equal(table["split"], split))
    return t, t["label"].to_numpy().astype(np.int8)


def _with_damaged(t: pa.Table, y: np.ndarray, share: float, seed: int) -> tuple[pa.Table, np.ndarray]:
    """`t` plus synthetic negatives (`data.damaged_copies`) of a `share` of its positives."""
    if share <= 0 or len(t) == 0:
        return t, y
    extra = data.damaged_copies(t, y, share, seed)
    extra = extra.set_column(extra.column_names.index("label"), "label", pa.array(np.zeros(len(extra), np.int8)))
    both = pa.concat_tables([t, extra.cast(t.schema)])
    return both, both["label"].to_numpy().astype(np.int8)


def suggested_bands(total: np.ndarray) -> dict[str, float]:
    """Quantiles of quality_score over the dev packages' rules survivors (natural files):
    5% (min_score), 1/3 (mid) and 2/3 (high)."""
    q = np.quantile(total.astype(np.float32), [0.05, 1 / 3, 2 / 3]) if len(total) else [0.0, 0.0, 0.0]
    return {"min_score": round(float(q[0]), 3), "mid": round(float(q[1]), 3), "high": round(float(q[2]), 3)}


def score_with(paths: dict[str, Path], table: pa.Table) -> dict[str, np.ndarray]:
    """Each trained scorer's output on `table` (loaded back from the written files)."""
    entries = [{"scorer": k, "model": str(p)} for k, p in paths.items()]
    gate = QualityGate.build({"scorers": entries}, "quality")
    _, q = gate.scores(DocBatch(table))
    return q


def train(args: argparse.Namespace) -> dict[str, Any]:
    out = Path(args.out)
    kinds = KIND_SETS[args.kind]
    table, info = labelled(args.input, args.labels, args.threshold, args.cap)
    tr_nat, ytr_nat = _part(table, "train")
    if len(tr_nat) == 0 or len(np.unique(ytr_nat)) < 2:
        raise UserError("--input: the training split needs files of both labels")
    tr, ytr = _with_damaged(tr_nat, ytr_nat, args.damaged, args.seed)
    ftc, fec = FastTextConfig(seed=args.seed), FeaturesConfig(ast_chars=args.ast_chars)
    if args.quick:
        ftc = FastTextConfig(seed=args.seed, dim=8, epoch=3, bucket=20_000, cutoff=2_000, min_lang_files=150, min_lang_class=20)
    paths: dict[str, Path] = {}
    if "fasttext" in kinds:
        # natural labels only: damaged copies share their originals' tokens, so they only
        # blur a bag-of-n-grams model; structure is the features model's job
        paths["fasttext"] = fit_fasttext(tr_nat, ytr_nat, out, ftc)
    if "features" in kinds:
        paths["features"] = fit_features(tr, ytr, out, fec)
    enc = EncoderConfig(max_train=args.encoder_train, max_tokens=args.encoder_max_tokens)
    if "encoder" in kinds:
        from codesieve.scorers.fit_encoder import fit_encoder

        paths["encoder"] = fit_encoder(tr, ytr, out, enc)
    dev_nat, ydev_nat = subset(*_part(table, "dev"), args.max_eval, "eval")
    dev, ydev = _with_damaged(dev_nat, ydev_nat, args.damaged, args.seed)
    bands: dict[str, float] = {}
    if len(kinds) > 1 and len(np.unique(ydev)) == 2:
        name = "quality_ensemble_encoder.json" if "encoder" in kinds else "quality_ensemble.json"
        qdev = score_with({k: paths[k] for k in kinds}, dev)
        paths["ensemble"] = fit_ensemble(qdev, ydev, out, name)
        total = combine(json.loads(paths["ensemble"].read_text()), qdev, {})[: len(dev_nat)]
        bands = suggested_bands(total[~dev_nat["rules_failed"].to_numpy(zero_copy_only=False)])
    test, ytest = subset(*_part(table, "test"), args.max_eval, "eval")
    metrics: dict[str, Any] = {}
    if len(test):
        q = score_with({k: paths[k] for k in kinds}, test)
        if "ensemble" in paths:
            q["ensemble"] = combine(json.loads(paths["ensemble"].read_text()), q, {})
        langs = np.asarray(pc.fill_null(test["lang"], "").to_pylist(), dtype=object)
        graded = test["graded"].to_numpy() if args.labels else None
        metrics = {k: per_language_metrics(v, ytest, langs, graded) for k, v in q.items()}
        # what the gate faces: only files the rules pass (hard negatives excluded)
        ok = ~test["rules_failed"].to_numpy(zero_copy_only=False)
        for k, v in q.items():
            metrics[k]["survivors"] = per_language_metrics(v[ok], ytest[ok], langs[ok], None if graded is None else graded[ok])["all"]
    files = [p for p in out.iterdir() if p.suffix in (".ftz", ".json", ".safetensors")]
    recipe = {"fasttext": asdict(ftc), "features": asdict(fec), **({"encoder": asdict(enc)} if "encoder" in kinds else {})}
    card = {"data": info, "recipe": {**recipe, "cap_per_package": args.cap, "damaged_share": args.damaged,
            "seed": args.seed, "command": " ".join(sys.argv)}, "metrics_test": metrics, "suggested_bands": bands,
            "sha256": hashes(files)}
    write_card(out / ("MODEL_CARD_encoder.md" if "encoder" in kinds else "MODEL_CARD.md"), card)
    return card


def write_card(path: Path, card: dict[str, Any]) -> None:
    lines = ["# Quality scorer models", "", "Written by `codesieve.scorers.train`; every figure is on held-out",
             "packages (split by package, never by file).", "", "## Metrics (test split): AUC per language", ""]
    lines += metrics_table(card["metrics_test"])
    lines += ["", f"Suggested bands (quantiles of quality_score over the dev packages' rules survivors): "
              f"`{json.dumps(card.get('suggested_bands', {}))}`"]
    lines += ["", "## Data and recipe", "", "```json", json.dumps({k: card[k] for k in ("data", "recipe")}, indent=1),
              "```", "", "## Files (sha256)", ""]
    lines += [f"- `{name}` {h}" for name, h in card["sha256"].items()]
    path.write_text("\n".join(lines) + "\n")


def metrics_table(metrics: dict[str, Any]) -> list[str]:
    """Markdown table: one row per language, one AUC column per scorer."""
    if not metrics:
        return ["(no test split)"]
    kinds = list(metrics)
    langs = list(next(iter(metrics.values())))
    rows = [f"| language | files (pos/neg) | {' | '.join(kinds)} |", "|---|---|" + "---|" * len(kinds)]
    for lg in langs:
        m0 = metrics[kinds[0]][lg]
        cells = [_cell(metrics[k].get(lg, {})) for k in kinds]
        rows.append(f"| {lg} | {m0['n']} ({m0['pos']}/{m0['neg']}) | {' | '.join(cells)} |")
    return rows


def _cell(m: dict[str, Any]) -> str:
    if not m or m.get("auc") is None:
        return "-"
    return f"{m['auc']:.3f}" + (f" / ρ {m['spearman']:.3f}" if "spearman" in m else "")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", nargs="+", required=True, help="corpus Parquet folders/files (id, content, path, repo_name, language)")
    p.add_argument("--labels", default=None, help="JSONL/Parquet of `id` + `label` (0/1) or `score`; default: weak labels")
    p.add_argument("--threshold", type=float, default=3.0, help="with graded `score` labels: good = score >= this")
    p.add_argument("--kind", choices=tuple(KIND_SETS), default="all",
                   help="scorer kind(s) to train; all = fasttext + features (the default ensemble)")
    p.add_argument("--max-eval", type=int, default=0,
                   help="dev (stacker) and test (metrics) files scored, a deterministic subset (0: all; slow scorers)")
    p.add_argument("--encoder-train", type=int, default=EncoderConfig.max_train,
                   help="encoder: training files embedded (a deterministic subset; CPU cost)")
    p.add_argument("--encoder-max-tokens", type=int, default=EncoderConfig.max_tokens,
                   help="encoder: input truncation in tokens (CPU cost grows with it)")
    p.add_argument("--out", required=True, help="folder for the model files and MODEL_CARD.md")
    p.add_argument("--cap", type=int, default=300, help="files kept per package")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--damaged", type=float, default=0.5,
                   help="share of train/dev positives also added as damaged copies labelled 0 (0: none)")
    p.add_argument("--ast-chars", type=int, default=FeaturesConfig.ast_chars,
                   help="features: tree-sitter syntax errors on this prefix (chars; 0: off, the shipped default)")
    p.add_argument("--quick", action="store_true", help="tiny fastText models (dim 8, 3 epochs): smoke tests only")


def main(args: argparse.Namespace) -> int:
    card = train(args)
    print("\n".join(metrics_table(card["metrics_test"])))
    print(f"suggested bands (dev survivors' 5% / 33% / 67% quantiles): {card['suggested_bands']}")
    print(f"models + MODEL_CARD.md in {args.out}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m codesieve.scorers.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    sys.exit(main(parser.parse_args()))
