"""Measure once, decide cheaply: a threshold change re-decides from stored measurements."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pytest
import yaml
from conftest import CONFIGS, tier_files

from codesieve.filters.language import LanguageGate
from codesieve.filters.rules.gate import RulesGate
from codesieve.pipeline.config import build_config
from codesieve.pipeline.executors import LocalExecutor
from codesieve.pipeline.io import output_dataset
from codesieve.pipeline.runner import run


def _config(max_line_length: float):
    raw = yaml.safe_load((CONFIGS / "default.yaml").read_text())
    rules = next(g for g in raw["gates"] if g["gate"] == "rules")["rules"]
    entry = next(r for r in rules if r["rule"] == "max_line_length")
    entry["max"] = max_line_length
    return build_config(raw)


def _forbid(*_a, **_k):
    raise AssertionError("recomputed although its stored values were valid")


def _top_ids(out: Path) -> set[str]:
    """Ids of the rows that pass every gate."""
    table = output_dataset(str(out)).to_table(columns=["id", "tier_name"])
    return set(table.filter(pc.starts_with(table.column("tier_name"), "passed")).column("id").to_pylist())


def test_threshold_change_re_decides_without_measuring(tmp_path: Path, samples: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    first = run(_config(1000), str(samples), str(out), LocalExecutor(), quiet=True)
    before = _top_ids(out)
    late_rows: list[str] = []
    original = LanguageGate.late_columns

    def late(self, batch, ctx):
        late_rows.extend(batch.column("id").to_pylist())
        return original(self, batch, ctx)

    with monkeypatch.context() as m:
        m.setattr(RulesGate, "measure", _forbid)
        m.setattr(LanguageGate, "apply", _forbid)
        m.setattr(LanguageGate, "late_columns", late)
        second = run(_config(120), str(samples), str(out), LocalExecutor(), quiet=True, overwrite=True)
    # NL detection (a late column) ran only on the rows that newly pass every gate
    assert sorted(late_rows) == sorted(_top_ids(out) - before)
    assert second["gates"]["rules"]["reasons"].get("max_line_length", 0) > first["gates"]["rules"]["reasons"].get(
        "max_line_length", 0)
    fresh = tmp_path / "fresh"
    run(_config(120), str(samples), str(fresh), LocalExecutor(), quiet=True)
    assert tier_files(out) == tier_files(fresh)  # reused values decide exactly as fresh ones


def test_changed_measurement_is_recomputed(tmp_path: Path, samples: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    run(_config(1000), str(samples), str(out), LocalExecutor(), quiet=True)
    calls = []
    original = RulesGate.measure

    def counting(self, batch, ctx):
        calls.append(batch.num_rows)
        return original(self, batch, ctx)

    raw = yaml.safe_load((CONFIGS / "default.yaml").read_text())
    rules = next(g for g in raw["gates"] if g["gate"] == "rules")["rules"]
    rules.append({"rule": "num_words", "max": 10_000_000})  # a new measurement: rules re-measure
    monkeypatch.setattr(RulesGate, "measure", counting)
    run(build_config(raw), str(samples), str(out), LocalExecutor(), quiet=True, overwrite=True)
    assert sum(calls) > 1000
