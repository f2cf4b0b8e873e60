"""`codesieve report`, `explain` and `mix` on a run stored in object storage (moto's S3
server on loopback): the same answers as on the local folder, one-line errors otherwise."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_bad_input import assert_one_line_error
from test_explain_mix import RECIPE
from test_s3 import s3_endpoint  # noqa: F401  (the moto server fixture)
from tools_run import default_run

from codesieve.core.errors import UserError
from codesieve.pipeline.cli import main
from codesieve.pipeline.explain import explain
from codesieve.pipeline.io import output_dataset
from codesieve.pipeline.mix import load_input, load_recipe, mix
from codesieve.pipeline.report import stats
from codesieve.pipeline.results import load_manifest

URI = "s3://crawl/runs/tools"


@pytest.fixture(scope="module")
def runs(tmp_path_factory, s3_endpoint):  # noqa: F811
    """(local output folder, the same run's dataset and manifest uploaded under URI)."""
    import boto3

    out = default_run(tmp_path_factory.mktemp("tools"))
    s3 = boto3.client("s3")
    files = sorted(out.glob("tier=*/part-*.parquet")) + [out / ".codesieve" / "manifest.json"]
    for f in files:
        s3.upload_file(str(f), "crawl", f"runs/tools/{f.relative_to(out).as_posix()}")
    return out, URI


def _get(key: str) -> bytes:
    import boto3

    return boto3.client("s3").get_object(Bucket="crawl", Key=key)["Body"].read()


def test_report_on_s3_reads_the_same_rows_and_lands_next_to_the_run(runs) -> None:
    out, uri = runs
    manifest, dataset, table = stats.load_frame(uri)  # what every report section is computed from
    local = stats.load_frame(str(out))
    assert manifest == local[0] and table.equals(local[2])
    assert dataset.to_table().sort_by("id").equals(local[1].to_table().sort_by("id"))
    assert main(["report", uri, "--quiet"]) == 0  # default --out: URI/.codesieve/
    rep = json.loads(_get("runs/tools/.codesieve/report.json"))
    assert rep["output"] == uri and rep["rows_in"] == manifest["rows_in"]
    assert {str(t["tier"]): t["rows"] for t in rep["tiers"] if t["rows"]} == \
        {k: v["rows"] for k, v in manifest["tiers"].items()}
    assert b"<html" in _get("runs/tools/.codesieve/report.html")[:200].lower()


def test_explain_on_s3_matches_local(runs) -> None:
    out, uri = runs
    import pyarrow.compute as pc

    dups = output_dataset(str(out)).to_table(columns=["id"], filter=pc.field("stage_failed") == "dedup")
    assert dups.num_rows
    doc = sorted(dups.column("id").to_pylist())[0]
    info = explain(doc, uri)
    assert info == explain(doc, str(out))
    assert info["dedup"]["size"] >= 2 and not info["dedup"]["this_is_kept"]


def test_mix_reads_the_same_rows_from_s3(runs, tmp_path: Path) -> None:
    out, uri = runs
    recipe = load_recipe(str(RECIPE))
    remote, local = load_input(recipe, uri), load_input(recipe, str(out))
    assert remote.num_rows and set(remote.column("source").to_pylist()) == {uri}
    assert remote.drop_columns(["source"]).equals(local.drop_columns(["source"]))
    # the sampling is salted by the input's name (the same id in two inputs is two rows),
    # so the mixture itself is checked for what it promises: the recipe's proportions
    m = mix([uri], recipe, str(tmp_path))
    assert m["inputs"][0]["path"] == uri and m["inputs"][0]["run_key"] == load_manifest(str(out))["run_key"]
    assert abs(m["achieved_bytes"] - m["target_bytes"]) / m["target_bytes"] < 0.01
    for cat in m["categories"].values():
        assert abs(cat["achieved_share"] - cat["target_share"]) < 0.01
    shards = pa.concat_tables([pq.read_table(tmp_path / s) for s in m["shards"]])
    assert shards.num_rows == m["rows"] and set(shards.column("source").to_pylist()) == {uri}


@pytest.mark.parametrize("where, says", [
    ("s3://no-such-bucket/run", "no bucket 'no-such-bucket'"),
    ("s3://crawl/runs/none", "nothing is stored under this prefix"),
    ("s3://crawl/dump", "not a finished codesieve output"),  # input shards, not a run
])
def test_not_a_run_on_s3_is_a_one_line_error(runs, where: str, says: str) -> None:
    with pytest.raises(UserError, match=says) as err:
        load_manifest(where)
    assert str(err.value).startswith(where) and "\n" not in str(err.value)


def test_cli_error_on_s3_is_one_line(runs) -> None:
    res = subprocess.run([sys.executable, "-m", "codesieve", "explain", "x", "--output", "s3://no-such-bucket/run"],
                         capture_output=True, text=True)
    assert_one_line_error(res, "s3://no-such-bucket/run", "no bucket")
