"""`features` scorer: a logistic regression over interpretable features
(`scorers.features`), stored as plain JSON (feature names, scaling, coefficients).

`q_features` = sigmoid(((x - mean) / scale) . coef + intercept).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from pydantic import Field

from codesieve.core.base import Params
from codesieve.core.batch import DocBatch
from codesieve.core.registry import register_scorer
from codesieve.scorers.base import Scorer, file_sha256, model_path, sigmoid
from codesieve.scorers.features import feature_table, matrix


def linear_score(model: dict[str, Any], x: np.ndarray) -> np.ndarray:
    """Probability from a JSON logistic-regression dump (mean, scale, coef, intercept)."""
    z = (x - np.asarray(model["mean"])) / np.asarray(model["scale"])
    return sigmoid(z @ np.asarray(model["coef"]) + float(model["intercept"]))


@register_scorer("features")
class FeaturesScorer(Scorer):
    """Logistic regression over rule values, shape, compression and tree-sitter features."""

    class Params(Params):
        model: str = Field("quality_features.json", description="model JSON (shipped name or path)")

    def __init__(self, params: Params):
        super().__init__(params)
        self.model: dict[str, Any] = {}

    def load(self) -> None:
        self.model = json.loads(model_path(self.params.model).read_text())

    def features(self, batch: DocBatch) -> np.ndarray:
        m = self.model
        feats = feature_table(batch, m["langs"], m["compress_chars"], m["ast_chars"], m.get("norms"))
        return matrix(feats, m["names"])

    def score(self, batch: DocBatch) -> np.ndarray:
        if not self.model:
            self.load()
        if batch.num_rows == 0:
            return np.zeros(0)
        return linear_score(self.model, self.features(batch))

    def fingerprint(self) -> dict[str, Any]:
        return {"model": file_sha256(model_path(self.params.model))[:16]}
