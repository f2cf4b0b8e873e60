"""`fasttext` scorer: supervised fastText classifiers, one per major language plus a shared
fallback, over a code-aware token stream (`scorers.text.model_text` / `model_lines`).

The model is a JSON index (`quality_ft.json`) naming one quantized `.ftz` per language
and a `fallback`; each predicts `__label__1` (good) vs `__label__0`. `q_fasttext` is the
probability of `__label__1`.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow.compute as pc
from pydantic import Field

from codesieve.core.base import Params
from codesieve.core.batch import DocBatch
from codesieve.core.errors import UserError
from codesieve.core.registry import register_scorer
from codesieve.scorers.base import Scorer, file_sha256, model_path
from codesieve.scorers.text import model_lines, text_prefix, window

GOOD = "__label__1"


def prob_good(model: Any, lines: list[bytes]) -> np.ndarray:
    """P(good) per text from a binary fastText model. `lines`: `text.model_lines` (UTF-8,
    one "\\n"-terminated line each), handed to the C++ `multilinePredict` as fastText's own
    `predict(list, k=1)` does after its per-string check and "\\n" append."""
    if not lines:
        return np.zeros(0)
    labels, probs = model.f.multilinePredict(lines, 1, 0.0, "strict")
    p = np.array([pr[0] if len(pr) else 0.5 for pr in probs], dtype=np.float64)
    good = np.array([bool(lb) and lb[0] == GOOD for lb in labels])
    return np.clip(np.where(good, p, 1.0 - p), 0.0, 1.0)


@register_scorer("fasttext")
class FastTextScorer(Scorer):
    """fastText bag of code-token n-grams; one model per major language + fallback."""

    class Params(Params):
        model: str = Field("quality_ft.json", description="index JSON (shipped name or path)")

    def __init__(self, params: Params):
        super().__init__(params)
        self.models: dict[str, Any] = {}
        self.meta: dict[str, Any] = {}

    def load(self) -> None:
        import fasttext

        index = model_path(self.params.model)
        self.meta = json.loads(index.read_text())
        for lang, fname in self.meta["models"].items():
            path = index.parent / fname
            if not path.exists():
                raise UserError(f"scorer fasttext: {index} names {fname}, which is missing")
            self.models[lang] = fasttext.load_model(str(path))

    def score(self, batch: DocBatch) -> np.ndarray:
        if not self.models:
            self.load()
        n = batch.num_rows
        out = np.zeros(n)
        if n == 0:
            return out
        max_chars = int(self.meta["max_chars"])
        texts = model_lines(batch.text, max_chars, text_prefix(batch, window(max_chars)))
        langs = np.asarray(pc.fill_null(batch.lang, "").to_pylist(), dtype=object)
        own = np.isin(langs, [k for k in self.models if k != "fallback"])
        for lang in sorted(set(langs[own].tolist())):
            rows = np.flatnonzero(langs == lang)
            out[rows] = prob_good(self.models[lang], [texts[i] for i in rows])
        rest = np.flatnonzero(~own)
        out[rest] = prob_good(self.models["fallback"], [texts[i] for i in rest])
        return out

    def fingerprint(self) -> dict[str, Any]:
        index = model_path(self.params.model)
        meta = json.loads(index.read_text())
        return {"index": file_sha256(index)[:16], **{k: file_sha256(index.parent / f)[:16] for k, f in meta["models"].items()}}

