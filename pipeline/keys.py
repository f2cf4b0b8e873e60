"""Resume keys: what determines each pass of each unit, each global step, and the run.

A completion record whose key matches is reused; anything else is redone. Keys cover the
code (every source and model file, `codesieve.code_fingerprint`), plugin files, the unit,
the input settings, and the params and fingerprints of the gates that shape the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from codesieve import __version__, code_fingerprint
from codesieve.core.base import Gate
from codesieve.core.params import stable_hash
from codesieve.pipeline.config import PipelineConfig
from codesieve.pipeline.plan import Pass, tier_names
from codesieve.pipeline.plugins import plugin_fingerprint
from codesieve.pipeline.readers import Unit


def code_version() -> str:
    return f"codesieve {__version__} code {code_fingerprint()}"


def _gate_key(gates: list[tuple[int, Gate]], active: list[str], drop: tuple[str, ...] = ()) -> list[Any]:
    return [
        [i, g.name, g.name in active, g.params.model_dump(mode="json", exclude=set(drop)), g.fingerprint()]
        for i, g in gates
    ]


@dataclass
class Keys:
    """Resume keys: per pass and unit, per global gate, and for the whole run."""

    units: list[list[str]]  # [pass][unit]
    globals: dict[int, str]  # gate index -> key of its resolve step
    run: str


def make_keys(cfg: PipelineConfig, passes: list[Pass], units: list[Unit], active: list[str]) -> Keys:
    resolved = cfg.resolved()
    version = code_version() + (f" plugins {plugin_fingerprint(cfg.plugins)}" if cfg.plugins else "")
    per_pass: list[list[str]] = []
    globals_: dict[int, str] = {}
    prev: list[Any] = [None] * len(units)
    for plan in passes:
        base: dict[str, Any] = {"v": version, "pass": plan.index, "gates": _gate_key(plan.gates, active)}
        if plan.index == 0:
            base["input"] = resolved["input"]
        if plan.resolved is not None:
            i, g = plan.resolved
            globals_[i] = stable_hash({"prev": per_pass[-1], "v": version, "gate": _gate_key([plan.resolved], active)})
            base["global"] = globals_[i]
        if plan.prepare is not None:
            base["prepare"] = _gate_key([plan.prepare], active, plan.prepare[1].resolve_only)  # type: ignore[attr-defined]
        else:
            base.update(output=resolved["output"], tiers=tier_names(cfg.gates), nunits=len(units))
        keys = [stable_hash({**base, "prev": k, "unit": u.describe() if plan.index == 0 else u.index})
                for u, k in zip(units, prev)]
        per_pass.append(keys)
        prev = keys
    return Keys(per_pass, globals_, stable_hash({"last": per_pass[-1]}))
