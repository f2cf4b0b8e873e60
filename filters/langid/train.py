"""Recipe for the shipped content model `filters/langid/lang_content.ftz`.

    python -m codesieve.filters.langid.train --corpus REG/train --corpus REG/dev --exclude REG/test \\
        [--extra DIR_OR_FILE ...] [--out filters/langid/lang_content.ftz]

Data (`filters.langid.data`): the registry corpus' `train` split (packages never in dev or
test), plus `--extra` inputs split by package hash (`extra_dev_share` of their packages join
dev, `extra_holdout_share` are held out of everything: an independent check). Labels a
content model can learn (no file-name-only classes; ambiguous extensions labelled by their
conclusive heuristics), exact duplicates removed (a text in train never counts in dev/test),
at most `max_per_package` files per (package, language) and `max_per_language` per language.

Calibration: the model + content rules predict the dev files (at most `max_per_package` per
(package, language)); for each language with at
least `min_calibration_support` dev answers, its threshold is the smallest probability at
which the answers at or above it are right >= `target_precision`; other languages get the
same rule over all answers pooled (`filters.langid.calibration`). The metadata also records
a nested package-fold estimate of that procedure (thresholds fitted on 4/5 of the dev
packages, precision on the fifth) and of one that picks each language's in-sample target by
cross-validation: what to expect on new packages. The test splits are never read here.

Reproducible: fixed seed, one thread, deterministic ordering, fastText in a fresh interpreter
whose large allocations are zero-filled pages (`FIT_ENV`) -> the same `.ftz` bytes for the
same inputs (`lang_content.json` records the sha256 and the split sizes).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from codesieve.filters.langid import calibration as cal
from codesieve.filters.langid import data
from codesieve.filters.langid.calibration import threshold_for  # noqa: F401  (re-exported: tests, benchmarks)
from codesieve.filters.langid.content import MODEL_PATH, ContentModel, label_of, prepare


@dataclass
class TrainConfig:
    """Hyperparameters of the recipe (fastText supervised + quantization)."""

    max_chars: int = 2048  # prefix of each file the model sees, in code points
    chunks: int = 3  # training windows per file: the prefix plus later max_chars windows
    min_chunk_chars: int = 200  # later windows shorter than this are not used
    min_files: int = 40  # a language needs this many train files to become a label
    max_per_package: int = 100  # cap per (package, language) so one package cannot dominate
    max_per_language: int = 2500  # cap per language (balance)
    extra_dev_share: float = 0.15  # share of packages that join dev, for inputs without a `split` column
    extra_holdout_share: float = 0.15  # ... and that are held out of everything (an independent check)
    dim: int = 32
    epoch: int = 15
    lr: float = 0.2  # 10 epochs without quantization retraining: 0.921 raw-model accuracy on dev; this config: 0.937
    word_ngrams: int = 3  # token trigrams: `std :: vector`, `module . exports`, `# # #`
    bucket: int = 400_000
    min_count: int = 3
    thread: int = 1  # one thread keeps the recipe deterministic
    seed: int = 0
    quantize_cutoff: int = 150_000  # keep this many words/ngrams after quantization
    quantize_retrain: bool = True  # retrain after the cutoff (doubles the recipe's time; better on dev)
    dsub: int = 2
    target_precision: float = 0.98  # calibration: content answers kept are right this often on dev
    min_calibration_support: int = 30  # dev answers a language needs for its own threshold


def load_labelled(
    corpus: list[str], extra: list[str], cfg: TrainConfig, splits: tuple[str, ...], exclude: set[str] = frozenset()
) -> pa.Table:
    """Labelled, de-duplicated rows of `splits` from the corpus and the extra inputs.

    Packages in `exclude` (`source/name`, e.g. the corpus' test split) are dropped from the extras.
    """
    wanted = ("train",) + tuple(s for s in splits if s != "train")
    tables = [data.read_corpus(corpus, dev_share=cfg.extra_dev_share, splits=wanted)]
    if extra:
        more = data.read_corpus(extra, dev_share=cfg.extra_dev_share, holdout_share=cfg.extra_holdout_share)
        tables.append(more.filter(pa.array([p not in exclude for p in more["package"].to_pylist()])))
    table = data.drop_duplicates(data.label_rows(pa.concat_tables(tables, promote_options="default")))
    return table.filter(pc.is_in(table["split"], pa.array(list(splits))))


def training_rows(table: pa.Table, cfg: TrainConfig) -> pa.Table:
    """Balanced train rows of the languages with at least `min_files` files."""
    train = table.filter(pc.equal(table["split"], "train"))
    train = data.cap_rows(train, ["package", "label"], cfg.max_per_package)
    counts = Counter(train["label"].to_pylist())
    labels = sorted(lang for lang, n in counts.items() if n >= cfg.min_files)
    train = train.filter(pc.is_in(train["label"], pa.array(labels)))
    return data.cap_rows(train, ["label"], cfg.max_per_language)


def write_fasttext_file(table: pa.Table, path: str, cfg: TrainConfig) -> int:
    """Training lines: each file's prefix plus up to `chunks - 1` later windows.

    Later windows show the model code past license headers (inference sees only the prefix,
    which is often one). Returns the number of training lines.
    """
    all_labels = np.array([label_of(x) for x in table["label"].to_pylist()], dtype=object)
    labels: list[str] = []
    texts: list[str] = []
    for k in range(cfg.chunks):
        window = pc.utf8_slice_codeunits(table["content"], k * cfg.max_chars, (k + 1) * cfg.max_chars)
        min_len = cfg.min_chunk_chars if k else 1
        rows = np.flatnonzero(pc.greater_equal(pc.utf8_length(window), min_len).to_numpy(zero_copy_only=False))
        texts += prepare(window.take(pa.array(rows, pa.int64())), cfg.max_chars)
        labels += all_labels[rows].tolist()
    order = np.random.default_rng(cfg.seed).permutation(len(labels))
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(f"{labels[i]} {texts[i]}\n" for i in order)
    return len(labels)


def calibrate(model: ContentModel, dev: pa.Table, cfg: TrainConfig) -> dict:
    """Per-language thresholds on dev (see module docstring)."""
    dev = dev.filter(pc.is_in(dev["label"], pa.array(model.labels)))
    if dev.num_rows == 0:
        raise SystemExit("calibration: no dev files of the model's languages (is there a `dev` split?)")
    pred = model.predict(dev["content"])
    guess = np.array(pred.lang, dtype=object)
    correct = guess == np.array(dev["label"].to_pylist(), dtype=object)
    answers = cal.Answers(correct, pred.score.astype(np.float64), guess,
                          np.array(dev["package"].to_pylist(), dtype=object))
    default, per_lang, _ = cal.calibrate_fixed(answers, cfg.target_precision, cfg.min_calibration_support)
    model.thresholds, model.default_threshold = per_lang, default
    kept = model.confident(pred)
    return {
        "target_precision": cfg.target_precision,
        "default": default,
        "per_language": per_lang,
        "dev_files": int(len(correct)),
        "dev_accuracy": float(correct.mean()),
        "dev_kept": float(kept.mean()),
        "dev_precision_kept": float(correct[kept].mean()) if kept.any() else float("nan"),
        # the same procedure fitted on 4/5 of the dev packages, applied to the fifth (out of sample)
        "dev_nested": {proc: cal.nested_estimate(answers, cfg.target_precision, cfg.min_calibration_support, proc)
                       for proc in cal.PROCEDURES},
    }


#: fastText training and quantization, run in a fresh interpreter that imports only fastText
#: (argv: training file, output .ftz, TrainConfig as JSON)
FIT_SCRIPT = """
import json, sys
import fasttext
path, out, p = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
model = fasttext.train_supervised(input=path, dim=p["dim"], epoch=p["epoch"], lr=p["lr"], wordNgrams=p["word_ngrams"],
    bucket=p["bucket"], minCount=p["min_count"], thread=p["thread"], seed=p["seed"], loss="softmax", verbose=0)
model.quantize(input=path, qnorm=True, retrain=p["quantize_retrain"], cutoff=p["quantize_cutoff"], dsub=p["dsub"], thread=p["thread"], verbose=0)
model.save_model(out)
"""
#: glibc serves every allocation of 64 KiB or more from fresh, zero-filled pages (a fixed
#: threshold: no dynamic raise after a large free; no fill byte). fastText's `DenseMatrix::uniform` fills
#: the input matrix in blocks of a tenth, one block per thread: with one thread the other
#: nine tenths are never written and hold whatever memory malloc returns. Reused heap memory
#: (a process that loaded pyarrow, trained before, or a matrix below glibc's dynamic mmap
#: threshold, up to 32 MiB) then gives NaN or a different model; fresh pages give zeros.
FIT_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_PERTURB_": "0"}


def fit_command(path: str, out: Path, cfg: TrainConfig) -> list[str]:
    """argv of the fastText run (`FIT_SCRIPT` in a fresh interpreter); run it with `FIT_ENV`."""
    return [sys.executable, "-c", FIT_SCRIPT, path, str(out), json.dumps(asdict(cfg))]


def fit(train_rows: pa.Table, out: Path, cfg: TrainConfig) -> int:
    """fastText supervised + quantization into `out`; returns the number of training lines.

    Deterministic whatever the calling process did before: a fresh interpreter with `FIT_ENV`.
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "train.txt")
        lines = write_fasttext_file(train_rows, path, cfg)
        out.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(fit_command(path, out, cfg), capture_output=True, text=True, env={**os.environ, **FIT_ENV})
        if done.returncode:
            raise SystemExit(f"fastText training failed: {done.stderr.strip().splitlines()[-1:]}")
    return lines


def train(corpus: list[str], extra: list[str], out: Path, cfg: TrainConfig, exclude: list[str] = ()) -> dict:
    """Fit, quantize and calibrate; writes `out` and its `.json` metadata, returns the metadata.

    `exclude`: Parquet inputs (e.g. the corpus' test split) whose packages the extras may not use;
    only their `source`/`package` columns are read.
    """
    t0 = time.time()
    held = set().union(*(data.corpus_packages([x], "test") for x in exclude)) if exclude else set()
    table = load_labelled(corpus, extra, cfg, ("train", "dev"), held)
    train_rows = training_rows(table, cfg)
    lines = fit(train_rows, out, cfg)
    meta = {
        "max_chars": cfg.max_chars,
        "config": asdict(cfg),
        "corpus": corpus,
        "extra": extra,
        "excluded_packages": len(held),
        "labels": sorted(set(train_rows["label"].to_pylist())),
        "train_files": train_rows.num_rows,
        "train_lines": lines,
        "train_packages": len(set(train_rows["package"].to_pylist())),
        "train_counts": dict(Counter(train_rows["label"].to_pylist()).most_common()),
        "model_bytes": out.stat().st_size,
        "model_sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
    }
    meta_path = out.with_suffix(".json")
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    meta["calibration"] = calibrate(ContentModel(out), dev_rows(table, cfg), cfg)
    meta["train_seconds"] = round(time.time() - t0, 1)
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def dev_rows(table: pa.Table, cfg: TrainConfig) -> pa.Table:
    """The calibration rows: dev, at most `max_per_package` per (package, language)."""
    return data.cap_rows(table.filter(pc.equal(table["split"], "dev")), ["package", "label"], cfg.max_per_package)


def recalibrate(corpus: list[str], extra: list[str], out: Path, cfg: TrainConfig, exclude: list[str] = ()) -> dict:
    """New thresholds for the model in `out` (same data selection as `train`)."""
    held = set().union(*(data.corpus_packages([x], "test") for x in exclude)) if exclude else set()
    table = load_labelled(corpus, extra, cfg, ("dev",), held)
    meta_path = out.with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    meta["calibration"] = calibrate(ContentModel(out), dev_rows(table, cfg), cfg)
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def config_with(overrides: list[str]) -> TrainConfig:
    """TrainConfig with `NAME=VALUE` overrides, each cast to the field's type."""
    cfg = TrainConfig()
    for item in overrides:
        name, _, value = item.partition("=")
        if name not in TrainConfig.__dataclass_fields__ or not value:
            raise SystemExit(f"--param {item!r}: expected NAME=VALUE with NAME one of {', '.join(asdict(cfg))}")
        kind = type(getattr(cfg, name))
        setattr(cfg, name, value.lower() in ("1", "true", "yes") if kind is bool else kind(value))
    return cfg


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", action="append", required=True,
                    help="Parquet folder/file with `package` and `split` columns (repeatable)")
    ap.add_argument("--extra", action="append", default=[],
                    help="more Parquet inputs without a split (split by package hash; repeatable)")
    ap.add_argument("--exclude", action="append", default=[],
                    help="corpus test split (Parquet folder): its packages are never taken from --extra")
    ap.add_argument("--out", default=str(MODEL_PATH), help="output .ftz (a .json with metadata goes beside it)")
    ap.add_argument("--calibrate-only", action="store_true",
                    help="keep the model in --out; recompute its thresholds on dev (after a rule change)")
    ap.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                    help="override a TrainConfig field (e.g. --param lr=0.3); recorded in the .json")
    args = ap.parse_args(argv)
    if not data.RESERVED.exists():
        raise SystemExit(f"{data.RESERVED}: reserved package list not found (training must exclude it)")
    cfg = config_with(args.param)
    if args.calibrate_only:
        meta = recalibrate(args.corpus, args.extra, Path(args.out), cfg, args.exclude)
    else:
        meta = train(args.corpus, args.extra, Path(args.out), cfg, args.exclude)
    keys = ("labels", "train_files", "train_lines", "model_bytes", "model_sha256", "calibration", "train_seconds")
    print(json.dumps({k: meta[k] for k in keys if k in meta}, indent=1))


if __name__ == "__main__":
    main()
