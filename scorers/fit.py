"""Fitting and evaluating each scorer kind (used by `scorers.train` and the tests).

Everything is deterministic: fastText with `thread=1` and a fixed seed, scikit-learn's
lbfgs logistic regression (no randomness), rows in id order.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from codesieve.core.batch import DocBatch
from codesieve.scorers import structure
from codesieve.scorers.base import file_sha256, logit
from codesieve.scorers.features import feature_table, matrix
from codesieve.scorers.text import model_text

NAN_RETRIES = 8


@dataclass
class FastTextConfig:
    """fastText hyperparameters (supervised, then quantized to `.ftz`)."""

    max_chars: int = 4096  # prefix of each file the model sees, in code points
    dim: int = 16
    epoch: int = 10
    lr: float = 0.05
    word_ngrams: int = 2
    min_count: int = 2
    bucket: int = 200_000
    cutoff: int = 20_000  # words + n-grams kept by quantization
    min_lang_files: int = 300  # a language gets its own model with this many training files
    min_lang_class: int = 50  # ... and at least this many of each label
    seed: int = 0


@dataclass
class FeaturesConfig:
    """Logistic regression over `scorers.features`."""

    compress_chars: int = 8192
    ast_chars: int = 0  # tree-sitter prefix; 0: off (2048 doubles the gate cost: README)
    top_langs: int = 12  # one-hot columns for the most frequent training languages
    structure: bool = True  # the order / consistency / comment-norm features (scorers.structure)
    c: float = 1.0


def _write_ft_file(path: str, texts: list[str], labels: np.ndarray) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for t, y in zip(texts, labels):
            fh.write(f"__label__{int(y)} {t}\n")


#: trains and quantizes one model in a fresh interpreter that imports only fastText: in
#: processes that had also loaded other native libraries (tree-sitter, lingua, Arrow
#: kernels) fastText 0.9.3 intermittently stopped with "Encountered NaN"; in a clean
#: process the same run succeeds and is deterministic (thread=1, fixed seed)
_TRAIN_CHILD = """
import json, sys, fasttext
a = json.loads(sys.argv[1])
for attempt in range(a.pop("retries")):
    try:
        model = fasttext.train_supervised(**a["train"])
        break
    except RuntimeError as exc:
        if "NaN" not in str(exc):
            raise
else:
    sys.exit("fastText: Encountered NaN on every attempt")
model.quantize(input=a["train"]["input"], qnorm=True, retrain=False, cutoff=a["cutoff"], thread=1)
model.save_model(a["out"])
"""


def _ft_one(texts: list[str], labels: np.ndarray, out: Path, cfg: FastTextConfig) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "train.txt")
        _write_ft_file(data, texts, labels)
        train = dict(
            input=data, dim=cfg.dim, epoch=cfg.epoch, lr=cfg.lr, wordNgrams=cfg.word_ngrams,
            minCount=cfg.min_count, bucket=cfg.bucket, loss="softmax", thread=1, seed=cfg.seed, verbose=0,
        )
        spec = {"train": train, "cutoff": cfg.cutoff, "out": str(out), "retries": NAN_RETRIES}
        subprocess.run([sys.executable, "-c", _TRAIN_CHILD, json.dumps(spec)], check=True)


def fit_fasttext(table: pa.Table, labels: np.ndarray, out_dir: Path, cfg: FastTextConfig) -> Path:
    """Train per-language models + fallback; write `quality_ft.json` index and `.ftz` files."""
    out_dir.mkdir(parents=True, exist_ok=True)
    texts = model_text(table["content"], cfg.max_chars)
    langs = np.asarray(pc.fill_null(table["lang"], "").to_pylist(), dtype=object)
    models: dict[str, str] = {}
    for lang in sorted(set(langs.tolist()) - {""}):
        rows = np.flatnonzero(langs == lang)
        y = labels[rows]
        if len(rows) < cfg.min_lang_files or min((y == 1).sum(), (y == 0).sum()) < cfg.min_lang_class:
            continue
        fname = "quality_ft_" + "".join(ch if ch.isalnum() else "_" for ch in lang) + ".ftz"
        _ft_one([texts[i] for i in rows], y, out_dir / fname, cfg)
        models[lang] = fname
    _ft_one(texts, labels, out_dir / "quality_ft_fallback.ftz", cfg)
    models["fallback"] = "quality_ft_fallback.ftz"
    index = {"kind": "fasttext", "max_chars": cfg.max_chars, "models": models, "config": cfg.__dict__}
    path = out_dir / "quality_ft.json"
    path.write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")
    return path


def fit_features(table: pa.Table, labels: np.ndarray, out_dir: Path, cfg: FeaturesConfig) -> Path:
    """Fit the logistic regression; write `quality_features.json` (plain coefficients)."""
    from sklearn.linear_model import LogisticRegression

    counts = pc.value_counts(pc.fill_null(table["lang"], ""))
    pairs = sorted(((c["counts"].as_py(), c["values"].as_py()) for c in counts), key=lambda t: (-t[0], t[1]))
    langs = [lg for _, lg in pairs if lg][: cfg.top_langs]
    batch = DocBatch(table)
    feats = feature_table(batch, langs, cfg.compress_chars, cfg.ast_chars, {} if cfg.structure else None)
    norms: dict[str, float] | None = None
    if cfg.structure:
        norms = comment_norms(feats["comment_line_fraction"], labels, table, langs)
        feats["comment_vs_lang"] = structure.lang_relative(feats["comment_line_fraction"], batch, norms)
    names = list(feats)
    x = matrix(feats, names)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    lr = LogisticRegression(C=cfg.c, max_iter=2000).fit((x - mean) / scale, labels)
    model = {
        "kind": "features", "names": names, "langs": langs, "compress_chars": cfg.compress_chars,
        "ast_chars": cfg.ast_chars, "mean": _r(mean), "scale": _r(scale), "coef": _r(lr.coef_[0]),
        "intercept": round(float(lr.intercept_[0]), 8),
    }
    if norms is not None:
        model["norms"] = norms
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "quality_features.json"
    path.write_text(json.dumps(model, indent=1) + "\n")
    return path


def comment_norms(frac: np.ndarray, labels: np.ndarray, table: pa.Table, langs: list[str]) -> dict[str, float]:
    """Median comment-line share of the positive training files per language in `langs`
    (those with >= 20 positives) and over all positives (key '')."""
    lang = np.asarray(pc.fill_null(table["lang"], "").to_pylist(), dtype=object)
    pos = labels == 1
    norms = {"": round(float(np.median(frac[pos])), 6) if pos.any() else 0.0}
    for lg in langs:
        m = pos & (lang == lg)
        if m.sum() >= 20:
            norms[lg] = round(float(np.median(frac[m])), 6)
    return norms


def fit_ensemble(q: dict[str, np.ndarray], labels: np.ndarray, out_dir: Path, name: str = "quality_ensemble.json") -> Path:
    """Stacking: logistic regression over the scorers' logits (fit on held-out packages)."""
    from sklearn.linear_model import LogisticRegression

    names = sorted(q)
    x = np.column_stack([logit(q[k]) for k in names])
    lr = LogisticRegression(C=1.0, max_iter=1000).fit(x, labels)
    ens = {"kind": "stacking", "inputs": names, "coef": _r(lr.coef_[0]), "intercept": round(float(lr.intercept_[0]), 8)}
    path = out_dir / name
    path.write_text(json.dumps(ens, indent=1) + "\n")
    return path


def _r(a: np.ndarray) -> list[float]:
    return [round(float(v), 8) for v in a]


def per_language_metrics(
    scores: np.ndarray, labels: np.ndarray, langs: np.ndarray, graded: np.ndarray | None = None, min_each: int = 20
) -> dict[str, dict[str, Any]]:
    """AUC (and Spearman with `graded` targets) per language and `all`; languages with fewer
    than `min_each` of either label are pooled into `all` only."""
    from scipy.stats import spearmanr
    from sklearn.metrics import roc_auc_score

    out: dict[str, dict[str, Any]] = {}
    groups = [("all", np.ones(len(labels), bool))] + [(lg or "(none)", langs == lg) for lg in sorted(set(langs.tolist()))]
    for name, m in groups:
        y = labels[m]
        pos, neg = int((y == 1).sum()), int((y == 0).sum())
        if name != "all" and min(pos, neg) < min_each:
            continue
        row: dict[str, Any] = {"n": int(m.sum()), "pos": pos, "neg": neg}
        row["auc"] = round(float(roc_auc_score(y, scores[m])), 4) if pos and neg else None
        if graded is not None:
            row["spearman"] = round(float(spearmanr(graded[m], scores[m]).statistic), 4)
        out[name] = row
    return out


def hashes(paths: list[Path]) -> dict[str, str]:
    return {p.name: file_sha256(p) for p in sorted(paths)}
