"""Fitting the `encoder` scorer's head: embed a deterministic subset of the training files
with the frozen encoder (one torch thread: deterministic), fit a logistic regression (lbfgs,
no randomness), write the head as safetensors and the JSON index."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from codesieve.scorers.data import stable_unit
from codesieve.scorers.encoder_scorer import DEFAULT_ENCODER, Encoder, encoder_text


@dataclass
class EncoderConfig:
    """Frozen encoder + logistic-regression head."""

    encoder: str = DEFAULT_ENCODER  # local model directory or package shipping one
    max_tokens: int = 128  # input truncation (tokens)
    max_chars: int = 1000  # prefix of each file tokenized (code points)
    max_train: int = 2000  # training files embedded (a deterministic subset: CPU cost)
    c: float = 1.0
    batch_size: int = 32


def subset(table: pa.Table, labels: np.ndarray, n: int, salt: str = "encoder") -> tuple[pa.Table, np.ndarray]:
    """At most `n` rows (`n` <= 0: all), chosen by a hash of the id (deterministic), in order."""
    if n <= 0 or len(table) <= n:
        return table, labels
    rank = stable_unit(table["id"].to_pylist(), salt)
    keep = np.sort(np.argsort(rank, kind="stable")[:n])
    return table.take(pa.array(keep)), labels[keep]


def fit_encoder(table: pa.Table, labels: np.ndarray, out_dir: Path, cfg: EncoderConfig) -> Path:
    """Embed, fit the head, write `quality_encoder_head.safetensors` + `quality_encoder.json`."""
    from safetensors.numpy import save_file
    from sklearn.linear_model import LogisticRegression

    t, y = subset(table, labels, cfg.max_train)
    enc = Encoder(cfg.encoder, cfg.max_tokens, threads=1)
    x = enc.embed(encoder_text(t["content"], cfg.max_chars), cfg.batch_size).astype(np.float64)
    lr = LogisticRegression(C=cfg.c, max_iter=2000).fit(x, y)
    out_dir.mkdir(parents=True, exist_ok=True)
    head = "quality_encoder_head.safetensors"
    save_file({"weight": lr.coef_[0].astype(np.float32), "bias": lr.intercept_.astype(np.float32)}, str(out_dir / head))
    index = {"kind": "encoder", "encoder": cfg.encoder, "max_tokens": cfg.max_tokens, "max_chars": cfg.max_chars,
             "head": head, "trained_on": int(len(t)), "dim": int(x.shape[1])}
    path = out_dir / "quality_encoder.json"
    path.write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")
    return path
