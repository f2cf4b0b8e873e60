"""Accuracy of language identification on packages the content model never saw.

    .venv/bin/python benchmarks/langid_accuracy.py [--sets test2,test,dev-corpus] [--json out.json]
        [--corpus REG/train --corpus REG/dev ...] [--test2 REG2/test] [--dev-corpus ../shared/corpus/dev]

Sets (`--sets`, comma-separated, in this order in the report):
- `test2` (the headline): `langid_test2.tsv`, 218 packages in none of the registry corpus, the
  dev corpus or RESERVED, built after every rule and threshold of this model was fixed;
  texts also in train / dev (registry corpus or dev corpus) dropped; at most `--cap2` files
  per (package, language) and `--per-language` per language (balanced).
- `test`: the registry corpus' old test split, SEEN: its errors were read in earlier rounds,
  so its figures are tuned-by-eye, not held out.
- `dev`: the registry corpus' dev split plus the dev corpus' dev share (what rules and
  thresholds are tuned on).
- `dev-corpus`: the dev corpus' held-out share (see `dev_corpus_check`).

1. For each registry set: versions of one package never straddle splits. Truth = the content
   label of `filters.langid.data.label_rows` (the file name's language; file-name-only
   classes mapped or dropped; ambiguous extensions by their conclusive heuristics). At most
   `--cap` files per (package, language).
   - content only (path hidden): model + content rules + magic lines, top-1 answer; accuracy
     over the top 20 languages for files >= 200 bytes (the issue's measure), per-language
     precision / recall; and with the calibrated threshold: share answered, their precision;
   - the full decision (`language` gate's `identify`, path given): accuracy over all files
     and over the top 20 >= 200 bytes.
2. The same numbers on `--dev-corpus` (a separate crawl), packages in the registry corpus'
   train split left out: a second, independent check.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codesieve.core.batch import DocBatch
from codesieve.filters.langid import data
from codesieve.filters.langid.content import MODEL_PATH, load_content_model
from codesieve.filters.langid.train import TrainConfig, load_labelled
from codesieve.filters.language import LanguageGate

ROOT = Path(__file__).resolve().parents[2]
REG = "/work/regcorpus/langid"
CORPUS = [f"{REG}/{split}" for split in ("train", "dev", "test")]  # not REG itself: _extracted/ is there
DEV_CORPUS = str(ROOT / "shared" / "corpus" / "dev")
TEST2 = "/work/regcorpus/langid_test2/test"
TITLES = {"test2": "test2 (never seen: the headline)", "test": "old test split (SEEN in earlier rounds: tuned-by-eye)",
          "dev": "dev (tuned on)"}


def prf(y: np.ndarray, yh: np.ndarray, langs: list[str]) -> list[dict]:
    rows = []
    for lang in langs:
        tp = int(((y == lang) & (yh == lang)).sum())
        fp = int(((y != lang) & (yh == lang)).sum())
        fn = int(((y == lang) & (yh != lang)).sum())
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        rows.append({"lang": lang, "support": int((y == lang).sum()), "precision": p, "recall": r})
    return rows


def evaluate(table: pa.Table, model_path: str, top_n: int = 20) -> dict:
    """All numbers for one labelled table (see module docstring)."""
    model = load_content_model(model_path)
    table = table.filter(pc.is_in(table["label"], pa.array(model.labels)))
    y = np.array(table["label"].to_pylist(), dtype=object)
    top = [lang for lang, _ in Counter(y.tolist()).most_common(top_n)]
    sel = np.isin(y, top) & (pc.binary_length(table["content"]).to_numpy(zero_copy_only=False) >= 200)
    pred = model.predict(table["content"])
    yh = np.array(pred.lang, dtype=object)
    kept = model.confident(pred)
    gate = LanguageGate(LanguageGate.Params(nl_detect=False, content_model_path=model_path))
    # the gate's file-name classes count as the content language they are (JSON with Comments = JSON)
    full = np.array([data.CONTENT_LABEL.get(x, x) for x in gate.identify(DocBatch(table)).lang.to_pylist()],
                    dtype=object)
    ok, ok_full = yh == y, full == y
    return {
        "files": int(len(y)),
        "packages": len(set(table["package"].to_pylist())),
        "top20": top,
        "top20_ge200B_files": int(sel.sum()),
        "content_accuracy_top20_ge200B": float(ok[sel].mean()),
        "content_accuracy_all": float(ok.mean()),
        "calibrated_answered_top20_ge200B": float(kept[sel].mean()),
        "calibrated_precision_top20_ge200B": float(ok[sel & kept].mean()),
        "calibrated_answered_all": float(kept.mean()),
        "calibrated_precision_all": float(ok[kept].mean()),
        "full_accuracy_with_path_top20_ge200B": float(ok_full[sel].mean()),
        "full_accuracy_with_path_all": float(ok_full.mean()),
        "per_language": prf(y[sel], yh[sel], top),
        "content_errors": Counter(f"{a}->{b}" for a, b in zip(y[sel], yh[sel]) if a != b).most_common(12),
        "full_errors": Counter(f"{a}->{b}" for a, b in zip(y, full) if a != b).most_common(8),
    }


def report(name: str, res: dict) -> None:
    print(f"\n## {name}: {res['files']} files from {res['packages']} packages\n")
    print("| measure | files | value |\n|---|---:|---:|")
    n, big = res["files"], res["top20_ge200B_files"]
    print(f"| content only, top 20 languages, >= 200 B: accuracy | {big} | {res['content_accuracy_top20_ge200B']:.3f} |")
    print(f"| content only, all files: accuracy | {n} | {res['content_accuracy_all']:.3f} |")
    print(f"| content only, calibrated, top 20 >= 200 B: answered / precision | {big} | "
          f"{res['calibrated_answered_top20_ge200B']:.3f} / {res['calibrated_precision_top20_ge200B']:.3f} |")
    print(f"| content only, calibrated, all: answered / precision | {n} | "
          f"{res['calibrated_answered_all']:.3f} / {res['calibrated_precision_all']:.3f} |")
    print(f"| full decision with path, top 20 >= 200 B | {big} | {res['full_accuracy_with_path_top20_ge200B']:.4f} |")
    print(f"| full decision with path, all files | {n} | {res['full_accuracy_with_path_all']:.4f} |")
    print("\ncontent only, top 20 languages, files >= 200 B:\n")
    print("| language | files | precision | recall |\n|---|---:|---:|---:|")
    for r in res["per_language"]:
        print(f"| {r['lang']} | {r['support']} | {r['precision']:.3f} | {r['recall']:.3f} |")
    print("\ncontent errors (truth->answer):", ", ".join(f"{k} x{v}" for k, v in res["content_errors"]))
    print("full-decision errors:", ", ".join(f"{k} x{v}" for k, v in res["full_errors"]))


def dev_corpus_check(dev_corpus: str, corpus: list[str], model_path: str, cfg: TrainConfig) -> pa.Table:
    """Labelled dev-corpus rows of packages the model never saw in training or calibration.

    When the recipe used the dev corpus as `--extra`, only its `holdout` share (by package hash)
    qualifies; packages of the registry corpus' train split are left out in any case.
    """
    meta = json.loads(Path(model_path).with_suffix(".json").read_text())
    used = any(Path(x).resolve() == Path(dev_corpus).resolve() for x in meta.get("extra", []))
    table = data.read_corpus([dev_corpus], dev_share=cfg.extra_dev_share, holdout_share=cfg.extra_holdout_share)
    if used:
        table = table.filter(pc.equal(table["split"], "holdout"))
    seen = data.corpus_packages(corpus, "train") | data.corpus_packages(corpus, "dev")
    table = table.filter(pa.array([p not in seen for p in table["package"].to_pylist()]))
    return data.drop_duplicates(data.label_rows(table))


def registry_set(name: str, corpus: list[str], args: argparse.Namespace, cfg: TrainConfig) -> pa.Table:
    """Labelled, de-duplicated, capped rows of one registry set (`test2`, `test` or `dev`)."""
    if name == "test2":
        base = [c for c in corpus if Path(c).name in ("train", "dev")] + [args.test2]
        # train / dev rows (and the dev corpus) join only to drop texts the model was trained or calibrated on
        tables = [data.read_corpus(base, splits=("train", "dev", "test"))]
        if args.dev_corpus:
            tables.append(data.read_corpus([args.dev_corpus], dev_share=cfg.extra_dev_share,
                                           holdout_share=cfg.extra_holdout_share))
        table = data.drop_duplicates(data.label_rows(pa.concat_tables(tables, promote_options="default")))
        table = table.filter(pc.equal(table["split"], "test"))
        table = data.cap_rows(table, ["package", "label"], args.cap2)
        return data.cap_rows(table, ["label"], args.per_language)
    if name == "dev":
        held = data.corpus_packages(corpus, "test")
        table = load_labelled(corpus, [args.dev_corpus] if args.dev_corpus else [], cfg, ("dev",), held)
        return data.cap_rows(table, ["package", "label"], cfg.max_per_package)
    return data.cap_rows(load_labelled(corpus, [], cfg, (name,)), ["package", "label"], args.cap)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", action="append", help=f"registry corpus split folders (default {REG}/{{train,dev,test}})")
    ap.add_argument("--sets", default="test2,test,dev-corpus", help="test2, test, dev, dev-corpus (comma-separated)")
    ap.add_argument("--test2", default=TEST2, help="the fresh held-out split (built from langid_test2.tsv)")
    ap.add_argument("--dev-corpus", default=DEV_CORPUS, help="independent second check ('' to skip)")
    ap.add_argument("--cap", type=int, default=100, help="max files per (package, language) of the old test split")
    ap.add_argument("--cap2", type=int, default=50, help="test2: max files per (package, language)")
    ap.add_argument("--per-language", type=int, default=250, help="test2: max files per language (balance)")
    ap.add_argument("--model", default=str(MODEL_PATH), help="content model .ftz (its .json beside it)")
    ap.add_argument("--json", help="also write the numbers here")
    args = ap.parse_args(argv)
    corpus = args.corpus or CORPUS
    cfg = TrainConfig()
    res: dict = {}
    for name in args.sets.split(","):
        if name == "dev-corpus":
            if args.dev_corpus:
                dev = dev_corpus_check(args.dev_corpus, corpus, args.model, cfg)
                res["dev_corpus"] = evaluate(data.cap_rows(dev, ["package", "label"], args.cap), args.model)
                report("dev corpus (packages in no training, calibration or tuning)", res["dev_corpus"])
            continue
        if name not in TITLES:
            raise SystemExit(f"--sets: unknown set {name!r} (expected test2, test, dev or dev-corpus)")
        res[name] = evaluate(registry_set(name, corpus, args, cfg), args.model)
        report(TITLES[name], res[name])
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1) + "\n")
    return res


if __name__ == "__main__":
    main()
