"""`s3://` output through a real S3-compatible server (moto's standalone server on loopback):
byte-identical to a local run, resumable after kill -9 of the driver (the dead run's lock
taken over), owned by one config, locked against a run on another host, and readable by
pyarrow and duckdb from the bucket."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
from conftest import SAMPLES, tier_files
from test_bad_input import assert_one_line_error
from test_run import small_units_config
from test_s3 import s3_endpoint  # noqa: F401  (the moto server fixture)

CLI = [sys.executable, "-m", "codesieve", "run"]


def _input(tmp_path: Path, rows: int) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    pq.write_table(pq.read_table(SAMPLES / "code-00000.parquet").slice(0, rows), folder / "a.parquet")
    return folder


def _objects(prefix: str) -> dict[str, bytes]:
    """Tier files under s3://crawl/<prefix>/ by relative key, with their bytes."""
    import boto3

    s3 = boto3.client("s3")
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket="crawl", Prefix=prefix + "/")
            for o in page.get("Contents", [])]
    return {k[len(prefix) + 1:]: s3.get_object(Bucket="crawl", Key=k)["Body"].read()
            for k in sorted(keys) if "/tier=" in "/" + k[len(prefix):] and k.endswith(".parquet")}


def _exists(key: str) -> bool:
    import boto3

    return "Contents" in boto3.client("s3").list_objects_v2(Bucket="crawl", Prefix=key)


def test_s3_output_resumes_after_kill_and_matches_local(tmp_path: Path, s3_endpoint: str) -> None:  # noqa: F811
    cfg = small_units_config(tmp_path, unit_rows=50)
    inp = _input(tmp_path, 300)
    gates = ["--gates", "language,rules,dedup"]  # a global step to resume across; no model loading beyond
    base = CLI + ["--config", str(cfg), "--input", str(inp), "--executor", "local", *gates]
    subprocess.run(base + ["--output", str(tmp_path / "ref"), "--quiet"], check=True)
    work = tmp_path / "work"
    args = base + ["--output", "s3://crawl/runs/r1", "--work-dir", str(work)]
    proc = subprocess.Popen(args + ["--quiet"])
    deadline = time.time() + 120
    done = list(work.glob("*/.codesieve/work/done/pass0/unit-*.json"))
    while not done and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
        done = list(work.glob("*/.codesieve/work/done/pass0/unit-*.json"))
    assert proc.poll() is None, "run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert _exists("runs/r1/.codesieve/lock") and not _exists("runs/r1/.codesieve/manifest.json")
    left = {str(p.relative_to(work)): json.loads(p.read_text()).get("code")
            for p in sorted(work.glob("*/.codesieve/work/done/*/unit-*.json"))}
    res = subprocess.run(args, capture_output=True, text=True)  # a stale lock (dead pid, this host) is taken over
    assert res.returncode == 0, res.stderr
    # what the rerun found (missing records, or ones it says were made otherwise) if it redid everything
    if "resuming" not in res.stderr or "redoing" in res.stderr:
        from codesieve.pipeline.keys import code_version

        raise AssertionError(f"records left by the killed run (with their code version): {left}; "
                             f"this code: {code_version()}; the rerun said: {res.stderr}")
    ref = tier_files(tmp_path / "ref")
    assert ref and _objects("runs/r1") == ref
    assert not _exists("runs/r1/.codesieve/lock") and _exists("runs/r1/.codesieve/manifest.json")

    from codesieve.pipeline.io import output_dataset

    dataset = output_dataset("s3://crawl/runs/r1")
    assert dataset.count_rows() == 300
    from codesieve.pipeline.explain import explain
    from codesieve.pipeline.results import load_manifest

    # the person-facing tools read the run where it was written (see also test_s3_tools.py)
    assert load_manifest("s3://crawl/runs/r1")["tiers"] == load_manifest(str(tmp_path / "ref"))["tiers"]
    doc = sorted(dataset.to_table(columns=["id"]).column("id").to_pylist())[0]
    assert explain(doc, "s3://crawl/runs/r1") == explain(doc, str(tmp_path / "ref"))
    import duckdb

    tiers = duckdb.sql("SELECT tier, count(*) AS n FROM dataset GROUP BY tier ORDER BY tier").fetchall()
    manifest = json.loads((tmp_path / "ref" / ".codesieve" / "manifest.json").read_text())
    assert {str(k): n for k, n in tiers} == {k: v["rows"] for k, v in manifest["tiers"].items()}

    # the finished output belongs to its config; a lock held on another host is respected
    res = subprocess.run(CLI + ["--config", "starcoder2", "--input", str(inp), "--output", "s3://crawl/runs/r1",
                                "--work-dir", str(work), "--executor", "local"], capture_output=True, text=True)
    assert_one_line_error(res, "s3://crawl/runs/r1", "another config", "--overwrite")
    import boto3

    boto3.client("s3").put_object(Bucket="crawl", Key="runs/r1/.codesieve/lock",
                                  Body=json.dumps({"host": "node-7", "pid": 12}).encode())
    res = subprocess.run(args, capture_output=True, text=True)
    assert_one_line_error(res, "another codesieve run", "node-7", "runs/r1/.codesieve/lock")


def test_s3_input_inside_the_s3_output_is_refused(tmp_path: Path, s3_endpoint: str) -> None:  # noqa: F811
    res = subprocess.run(CLI + ["--config", "default", "--input", "s3://crawl/dump", "--output", "s3://crawl",
                                "--executor", "local"], capture_output=True, text=True)
    assert_one_line_error(res, "inside --output")
