"""The `quality` gate: small-model scorers, combined into `quality_score` and bands.

Each scorer writes `q_<name>`; `quality_score` in [0, 1] is either a stacking ensemble
(`ensemble:` a JSON logistic regression over the scorers' logits, fit on held-out
packages, so it is a calibrated probability of "good") or the weighted mean of the
scorers. Below `min_score` a document fails the gate (tier = the gate's index); the rest
are split into `bands` (lowest first): as the last gate, band b is tier G + b.
With no scorers configured the gate is an empty slot: every document passes, scores null.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import Field

from codesieve.core import cputime
from codesieve.core.base import Gate, GateResult, Params, UnitContext
from codesieve.core.batch import DocBatch
from codesieve.core.errors import ConfigError
from codesieve.core.params import lookup, validate_params
from codesieve.core.registry import SCORERS, register_gate
from codesieve.scorers import encoder_scorer, fasttext_scorer, features_scorer  # noqa: F401  (register scorers)
from codesieve.scorers.base import Scorer, file_sha256, logit, model_path, sigmoid


class Band(Params):
    name: str = Field(description="band name (tier_name `passed:<name>`)")
    min: float = Field(ge=0, le=1, description="lowest quality_score in this band")


def combine(ensemble: dict[str, Any] | None, scores: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """quality_score from the scorers' outputs: stacking over logits, or a weighted mean."""
    if ensemble is None:
        total = sum(weights[k] * scores[k] for k in weights)
        return total / sum(weights.values())
    z = np.full(len(next(iter(scores.values()))), float(ensemble["intercept"]))
    for name, c in zip(ensemble["inputs"], ensemble["coef"]):
        z += c * logit(scores[name])
    return sigmoid(z)


@register_gate("quality")
class QualityGate(Gate):
    """Small-model scorers -> quality_score (stacked or weighted mean); bands split the top tiers."""

    class Params(Params):
        scorers: list[dict[str, Any]] = Field(
            default_factory=list, description="list of {scorer: NAME, weight: W, ...params}"
        )
        ensemble: str | None = Field(
            None, description="stacking model JSON over the scorers (shipped name or path); None: weighted mean"
        )
        min_score: float = Field(0.0, ge=0, le=1, description="fail below this combined score")
        bands: list[Band] = Field(
            default_factory=list, description="[{name, min}] lowest first; the first min must be <= min_score"
        )

    def __init__(self, params: Params, scorers: list[tuple[Scorer, float]] | None = None):
        super().__init__(params)
        self.scorers = scorers or []
        self.ensemble: dict[str, Any] | None = None
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
        _check_bands(params, where)
        gate = cls(params.model_copy(update={"scorers": [
            {"scorer": s.name, "weight": wt, **s.params.model_dump(mode="json")} for s, wt in built
        ]}), built)
        if params.ensemble is not None:
            gate.ensemble = _read_ensemble(params.ensemble, [s.name for s, _ in built], f"{where}.ensemble")
        return gate

    def output_fields(self) -> list[pa.Field]:
        return [pa.field("quality_score", pa.float32())] + [
            pa.field(s.column, pa.float32()) for s, _ in self.scorers
        ]

    def band_names(self) -> list[str]:
        return [b.name for b in self.params.bands]

    def fingerprint(self) -> dict[str, Any]:
        out: dict[str, Any] = {s.name: s.fingerprint() for s, _ in self.scorers}
        if self.params.ensemble:
            out["ensemble"] = file_sha256(model_path(self.params.ensemble))[:16]
        return out

    def warm(self) -> None:
        if not self._loaded:
            self.load()

    def load(self) -> None:
        for s, _ in self.scorers:
            s.load()
        self._loaded = True

    def scores(self, batch: DocBatch) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(quality_score, {scorer name: q values}) for every row of `batch`."""
        self.warm()
        q = {}
        for s, _ in self.scorers:
            with cputime.timed(f"quality.{s.name}"):
                q[s.name] = np.asarray(s.score(batch), dtype=np.float64)
        weights = {s.name: w for s, w in self.scorers}
        return combine(self.ensemble, q, weights), q

    def apply(self, batch: DocBatch, ctx: UnitContext) -> GateResult:
        n = batch.num_rows
        if not self.scorers:
            return GateResult(
                {"quality_score": pa.nulls(n, pa.float32())}, np.zeros((n, 1), bool), ["low_quality"],
                band=np.zeros(n, np.int16) if self.params.bands else None,
            )
        total, q = self.scores(batch)
        cols = {"quality_score": pa.array(total, pa.float32())}
        cols.update({f"q_{k}": pa.array(v, pa.float32()) for k, v in q.items()})
        return GateResult(cols, (total < self.params.min_score)[:, None], ["low_quality"], band=self.band_of(total))

    def band_of(self, total: np.ndarray) -> np.ndarray | None:
        """Band index per row (0 = lowest) from the bands' lower bounds."""
        if not self.params.bands:
            return None
        mins = np.array([b.min for b in self.params.bands])
        return np.clip(np.searchsorted(mins, total.astype(np.float32), side="right") - 1, 0, None).astype(np.int16)


def _check_bands(params: QualityGate.Params, where: str) -> None:
    mins = [b.min for b in params.bands]
    if any(b <= a for a, b in zip(mins, mins[1:])):
        raise ConfigError(f"{where}.bands: `min` must increase from band to band (got {mins})")
    names = [b.name for b in params.bands]
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}.bands: band names must be unique (got {names})")


def _read_ensemble(name: str, scorer_names: list[str], where: str) -> dict[str, Any]:
    try:
        path = model_path(name)
        ens = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{where}: cannot read {name!r} ({exc})") from None
    missing = [k for k in ens.get("inputs", []) if k not in scorer_names]
    if missing:
        raise ConfigError(f"{where}: {name} stacks scorer(s) {', '.join(missing)} that `scorers` does not list")
    return ens
