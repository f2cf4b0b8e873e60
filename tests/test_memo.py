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


def test_nothing_stored_measures_the_batch_itself(tmp_path: Path, samples: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A first run hands the gate the batch as it is (no copy of every row); stored rows are
    not measured again; a batch of stored and new rows measures the new ones alone, and every
    call decides as a fresh measurement does."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from codesieve.core.base import UnitContext
    from codesieve.core.batch import DocBatch
    from codesieve.pipeline.memo import Memo, apply_memoized

    gate = next(g for g in _config(1000).gates if g.name == "rules")
    table = pq.read_table(samples / "code-00000.parquet", columns=["content"]).slice(0, 400)
    ids = pa.array([f"doc-{i}" for i in range(table.num_rows)])
    table = table.append_column("id", ids).append_column("lang", pa.array(["python"] * table.num_rows))
    batch, ctx = DocBatch(table), UnitContext(0, str(tmp_path))
    seen: list[DocBatch] = []
    original = RulesGate.measure

    def recording(self, b, c):
        seen.append(b)
        return original(self, b, c)

    monkeypatch.setattr(RulesGate, "measure", recording)
    first = apply_memoized(gate, batch, ctx, Memo(str(tmp_path / "memo"), 0, {"v": 1}))
    assert len(seen) == 1 and seen[0] is batch
    again = apply_memoized(gate, batch, ctx, Memo(str(tmp_path / "memo"), 0, {"v": 1}))
    assert len(seen) == 1  # every row stored: nothing measured
    renamed = pa.array([f"doc-{i}" if i % 2 else f"new-{i}" for i in range(table.num_rows)])
    mixed = DocBatch(table.set_column(table.column_names.index("id"), "id", renamed))
    third = apply_memoized(gate, mixed, ctx, Memo(str(tmp_path / "memo"), 0, {"v": 1}))
    assert len(seen) == 2 and seen[1].num_rows == table.num_rows // 2
    for res in (again, third):
        assert np.array_equal(res.fails, first.fails) and res.reason_names == first.reason_names
        assert all(res.columns[k].equals(v) for k, v in first.columns.items())
