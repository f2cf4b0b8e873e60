"""The output folder opens as one dataset in the common Parquet readers, with their usual
arguments only; tiers describe themselves (`tier_name`, the manifest's `tier_names`)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from conftest import CONFIGS, SAMPLES

from codesieve.pipeline.config import load_config
from codesieve.pipeline.executors import LocalExecutor
from codesieve.pipeline.runner import run


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("readers") / "out"
    manifest = run(load_config(CONFIGS / "default.yaml"), str(SAMPLES), str(out), LocalExecutor(), quiet=True)
    assert manifest["rows_out"] == manifest["rows_in"] > 1000
    return out


def _expected(out: Path) -> tuple[int, dict[int, int]]:
    manifest = json.loads((out / ".codesieve" / "manifest.json").read_text())
    return manifest["rows_in"], {int(k): v["rows"] for k, v in manifest["tiers"].items()}


def test_only_tier_files_look_like_data(out: Path) -> None:
    parquet = sorted(str(p.relative_to(out)) for p in out.rglob("*.parquet"))
    assert parquet and all(p.startswith("tier=") for p in parquet)
    assert sorted(p.name for p in out.iterdir()) == [".codesieve"] + sorted(
        p.name for p in out.iterdir() if p.name.startswith("tier=")
    )


@pytest.mark.parametrize("partitioning", [None, "hive"])
def test_pyarrow(out: Path, partitioning: str | None) -> None:
    rows, tiers = _expected(out)
    t = ds.dataset(str(out), format="parquet", partitioning=partitioning).to_table(columns=["tier"])
    assert t.num_rows == rows
    counts = t.group_by("tier").aggregate([("tier", "count")]).to_pylist()
    assert {r["tier"]: r["tier_count"] for r in counts} == tiers


def test_duckdb(out: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    rows, tiers = _expected(out)
    got = duckdb.sql(f"select tier, count(*) from read_parquet('{out}/**/*.parquet') group by tier").fetchall()
    assert dict(got) == tiers and sum(tiers.values()) == rows


def test_polars(out: Path) -> None:
    pl = pytest.importorskip("polars")
    rows, tiers = _expected(out)
    df = pl.scan_parquet(f"{out}/**/*.parquet").collect()
    assert df.height == rows
    assert dict(df.group_by("tier").len().iter_rows()) == tiers


def test_hf_datasets(out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    rows, tiers = _expected(out)
    d = datasets.load_dataset("parquet", data_dir=str(out), split="train")
    assert d.num_rows == rows
    col = d["tier"]
    assert {k: sum(1 for t in col if t == k) for k in tiers} == tiers


def test_tiers_describe_themselves(out: Path) -> None:
    manifest = json.loads((out / ".codesieve" / "manifest.json").read_text())
    names = manifest["tier_names"]
    assert names == {"0": "failed:language", "1": "failed:rules", "2": "failed:dedup",
                     "3": "failed:decontam", "4": "failed:quality", "5": "passed"} or "passed:" in names[max(names)]
    t = ds.dataset(str(out), format="parquet").to_table(columns=["tier", "tier_name", "stage_failed"])
    for row in t.to_pylist():
        if row["stage_failed"] == "input":
            assert row["tier"] == 0 and row["tier_name"] == "quarantined:input"
        else:
            assert row["tier_name"] == names[str(row["tier"])]
    assert any(r["stage_failed"] == "input" for r in t.to_pylist())  # samples hold broken rows
