"""The `rules` gate: runs every configured heuristic rule and applies its thresholds."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import Field

from codesieve.core.base import GateResult, MeasuredGate, Params, Rule, RuleParams, UnitContext
from codesieve.core.batch import DocBatch
from codesieve.core.errors import ConfigError
from codesieve.core.params import lookup, validate_params
from codesieve.core.registry import RULES, register_gate


def build_rule(entry: Any, where: str) -> Rule:
    if not isinstance(entry, dict) or "rule" not in entry:
        raise ConfigError(f"{where}: each rule needs a 'rule: NAME' key (allowed: {', '.join(sorted(RULES))})")
    body = dict(entry)
    name = body.pop("rule")
    cls = lookup(RULES, "rule", name, f"{where}.rule")
    rule = cls(validate_params(cls.Params, body, where))
    _check_range(rule, where)
    return rule


def _check_range(rule: Rule, where: str) -> None:
    """A threshold no value can cross is a mistake (e.g. a negative bound on a count)."""
    lo, hi = rule.value_range
    p = rule.params
    bounds = [("", p.min, p.max)] + [(f".per_lang.{k}", b.min, b.max) for k, b in p.per_lang.items()]
    for path, bmin, bmax in bounds:
        for key, value in (("min", bmin), ("max", bmax)):
            if value is None:
                continue
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                span = f"[{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}]"
                raise ConfigError(f"{where}{path}.{key}: {value} is outside the values {rule.name} can take {span}")


@register_gate("rules")
class RulesGate(MeasuredGate):
    """Heuristic rules: one `h_<rule>` value column per rule; a document fails on any threshold."""

    class Params(Params):
        rules: list[dict[str, Any]] = Field(
            default_factory=list, description="ordered list of {rule: NAME, min/max/...}"
        )

    def __init__(self, params: Params, rules: list[Rule] | None = None):
        super().__init__(params)
        self.rules = rules if rules is not None else [
            build_rule(r, f"rules[{i}]") for i, r in enumerate(params.rules)
        ]

    @classmethod
    def build(cls, raw: dict[str, Any], where: str) -> RulesGate:
        params = validate_params(cls.Params, raw, where)
        rules = [build_rule(r, f"{where}.rules[{i}]") for i, r in enumerate(params.rules)]
        names = [r.name for r in rules]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ConfigError(f"{where}.rules: rule(s) listed twice: {', '.join(sorted(dup))}")
        resolved = [{"rule": r.name, **r.params.model_dump(mode="json")} for r in rules]
        return cls(cls.Params(rules=resolved), rules)

    def output_fields(self) -> list[pa.Field]:
        return [pa.field(r.column, pa.float64()) for r in self.rules]

    def measure_key(self) -> Any:
        """The rules and their measurement params: thresholds (min/max/langs/...) excluded."""
        decision = set(RuleParams.model_fields)
        return [[r.name, r.params.model_dump(mode="json", exclude=decision)] for r in self.rules]

    def measure(self, batch: DocBatch, ctx: UnitContext) -> dict[str, pa.Array]:
        """Every rule's value per document (no thresholds applied): the `h_<rule>` columns."""
        return {
            r.column: pa.array(np.asarray(r.measure(batch), dtype=np.float64), pa.float64(), from_pandas=True)
            for r in self.rules
        }

    def decide(self, batch: DocBatch, measured: dict[str, pa.Array], ctx: UnitContext) -> GateResult:
        fails = np.zeros((batch.num_rows, len(self.rules)), dtype=bool)
        for j, rule in enumerate(self.rules):
            values = measured[rule.column].to_numpy(zero_copy_only=False).astype(np.float64)
            fails[:, j] = rule.decide(values, batch)
        return GateResult(dict(measured), fails, [r.name for r in self.rules])
