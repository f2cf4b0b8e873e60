"""The `quality` gate: small-model scorers, combined into `quality_score` and tiers.

With no scorers configured the gate is an empty slot: every document passes and
`quality_score` is null.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import Field

from codesieve.core.base import Gate, GateResult, Params, UnitContext
from codesieve.core.batch import DocBatch
from codesieve.core.errors import ConfigError
from codesieve.core.params import lookup, validate_params
from codesieve.core.registry import SCORERS, register_gate
from codesieve.scorers.base import Scorer


@register_gate("quality")
class QualityGate(Gate):
    """Weighted mean of scorer outputs; below `min_score` fails the gate."""

    class Params(Params):
        scorers: list[dict[str, Any]] = Field(
            default_factory=list, description="list of {scorer: NAME, weight: W, ...params}"
        )
        min_score: float = Field(0.0, ge=0, le=1, description="fail below this combined score")

    def __init__(self, params: Params, scorers: list[tuple[Scorer, float]] | None = None):
        super().__init__(params)
        self.scorers = scorers or []
        self._loaded = False

    @classmethod
    def build(cls, raw: dict[str, Any], where: str) -> QualityGate:
        params = validate_params(cls.Params, raw, where)
        built: list[tuple[Scorer, float]] = []
        for i, entry in enumerate(params.scorers):
            w = f"{where}.scorers[{i}]"
            if not isinstance(entry, dict) or "scorer" not in entry:
                raise ConfigError(f"{w}: each scorer needs a 'scorer: NAME' key (allowed: {', '.join(sorted(SCORERS))})")
            body = dict(entry)
            name = body.pop("scorer")
            weight = body.pop("weight", 1.0)
            if not isinstance(weight, (int, float)) or weight <= 0:
                raise ConfigError(f"{w}.weight: must be a positive number (got {weight!r})")
            scls = lookup(SCORERS, "scorer", name, f"{w}.scorer")
            built.append((scls(validate_params(scls.Params, body, w)), float(weight)))
        resolved = [
            {"scorer": s.name, "weight": wt, **s.params.model_dump(mode="json")} for s, wt in built
        ]
        return cls(cls.Params(scorers=resolved, min_score=params.min_score), built)

    def output_fields(self) -> list[pa.Field]:
        return [pa.field("quality_score", pa.float32())] + [
            pa.field(s.column, pa.float32()) for s, _ in self.scorers
        ]

    def fingerprint(self) -> dict[str, Any]:
        return {s.name: s.fingerprint() for s, _ in self.scorers}

    def apply(self, batch: DocBatch, ctx: UnitContext) -> GateResult:
        n = batch.num_rows
        if not self.scorers:
            return GateResult(
                {"quality_score": pa.nulls(n, pa.float32())}, np.zeros((n, 1), bool), ["low_quality"]
            )
        if not self._loaded:
            for s, _ in self.scorers:
                s.load()
            self._loaded = True
        total = np.zeros(n)
        cols: dict[str, pa.Array] = {}
        for s, w in self.scorers:
            v = np.asarray(s.score(batch), dtype=np.float64)
            cols[s.column] = pa.array(v, pa.float32())
            total += w * v
        total /= sum(w for _, w in self.scorers)
        cols = {"quality_score": pa.array(total, pa.float32()), **cols}
        return GateResult(cols, (total < self.params.min_score)[:, None], ["low_quality"])
