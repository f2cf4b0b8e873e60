"""The extension points of the README, each one file plus a config line, run for real:
a rule, a shard-local gate, a global gate (a second one after dedup), a scorer, a reader."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import CONFIGS, ROOT, SAMPLES, tier_files

from codesieve.pipeline.config import load_config
from codesieve.pipeline.executors import LocalExecutor, make_executor
from codesieve.pipeline.io import output_dataset
from codesieve.pipeline.runner import run

EXAMPLES = ROOT / "docs" / "examples"
FILES = ["tab_fraction.py", "path_deny.py", "one_per_path.py", "length_scorer.py", "csv_reader.py"]


def test_readme_shows_the_example_files_as_they_are() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n# docs/examples/(\S+)\n(.*?)```", readme, flags=re.S)
    shown = {name: body for name, body in blocks}
    assert sorted(shown) == sorted(FILES)
    for name, body in shown.items():
        assert body == (EXAMPLES / name).read_text(), f"README's {name} differs from docs/examples/{name}"


def _config(tmp_path: Path) -> Path:
    raw = yaml.safe_load((CONFIGS / "default.yaml").read_text())
    raw["plugins"] = [str(EXAMPLES / f) for f in FILES]
    gates = raw["gates"]
    names = [g["gate"] for g in gates]
    gates.insert(names.index("rules"), {"gate": "path_deny", "patterns": ["*/test/*", "*/tests/*"]})
    rules = next(g for g in gates if g["gate"] == "rules")
    rules["rules"].append({"rule": "tab_fraction", "max": 0.3})
    names = [g["gate"] for g in gates]
    gates.insert(names.index("dedup") + 1, {"gate": "one_per_path"})
    quality = next(g for g in gates if g["gate"] == "quality")
    quality["scorers"] = [{"scorer": "length_prior", "best_lines": 150}]
    quality.pop("ensemble", None)  # the shipped stacker combines fasttext + features only
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _input(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for f in SAMPLES.glob("*.parquet"):
        (folder / f.name).write_bytes(f.read_bytes())
    rows = pq.read_table(SAMPLES / "code-00000.parquet", columns=["content", "path"]).slice(0, 300)
    rows = rows.set_column(1, "path", pa.array([f"csv/{p}" for p in rows.column("path").to_pylist()]))
    pacsv.write_csv(rows, folder / "extra.csv")
    return folder


@pytest.fixture(scope="module")
def extended(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    tmp = tmp_path_factory.mktemp("ext")
    cfg, inp = _config(tmp), _input(tmp)
    out = tmp / "out"
    run(load_config(cfg), str(inp), str(out), LocalExecutor(), quiet=True)
    return cfg, inp, out


def test_every_extension_did_its_job(extended: tuple[Path, Path, Path]) -> None:
    _, _, out = extended
    t = output_dataset(str(out)).to_table()
    names = t.column_names
    for col in ("path_denied_by", "h_tab_fraction", "same_path_kept", "q_length_prior"):
        assert col in names
    rows = t.to_pylist()
    stages = {r["stage_failed"] for r in rows}
    assert {"path_deny", "one_per_path"} <= stages  # both new gates removed something
    assert sum(str(r["path"]).startswith("csv/") for r in rows) == 300  # the CSV reader's rows
    assert any("tab_fraction" in (r["reasons"] or []) for r in rows) or any(
        r["h_tab_fraction"] is not None for r in rows)
    top = [r for r in rows if r["stage_failed"] is None]
    assert top and all(r["q_length_prior"] is not None for r in top)
    tiers = {r["tier_name"] for r in rows}
    assert "failed:one_per_path" in tiers or any(r["stage_failed"] == "one_per_path" for r in rows)


@pytest.mark.slow
def test_plugins_load_in_ray_workers_and_match_local(extended: tuple[Path, Path, Path], tmp_path: Path) -> None:
    cfg, inp, out = extended
    ray_out = tmp_path / "ray"
    ex = make_executor("ray", 2, None)
    try:
        run(load_config(cfg), str(inp), str(ray_out), ex, quiet=True)
    finally:
        ex.close()
    assert tier_files(ray_out) == tier_files(out)
