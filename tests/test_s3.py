"""`s3://` input through a real S3-compatible server (moto's standalone server on loopback)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CONFIGS, SAMPLES, free_port, tier_files, wait_for_port

MOTO = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")


@pytest.fixture(scope="module")
def s3_endpoint():
    if not os.path.exists(MOTO):
        pytest.skip("moto_server not installed (pip install 'moto[server]')")
    port = free_port()
    proc = subprocess.Popen([MOTO, "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_for_port(port, timeout=30)
    env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ENDPOINT_URL": url}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        import boto3

        s3 = boto3.client("s3", endpoint_url=url)
        s3.create_bucket(Bucket="crawl")
        for f in sorted(SAMPLES.glob("code-*")):
            s3.upload_file(str(f), "crawl", f"dump/{f.name}")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_s3_input_matches_local_input(tmp_path: Path, s3_endpoint: str) -> None:
    base = [sys.executable, "-m", "codesieve", "run", "--config", str(CONFIGS / "default.yaml"),
            "--executor", "local", "--quiet"]
    subprocess.run(base + ["--input", "s3://crawl/dump", "--output", str(tmp_path / "s3")], check=True)
    subprocess.run(base + ["--input", str(SAMPLES), "--output", str(tmp_path / "local")], check=True)
    remote = tier_files(tmp_path / "s3")
    assert remote and remote == tier_files(tmp_path / "local")


def test_s3_missing_prefix_is_one_line(tmp_path: Path, s3_endpoint: str) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "codesieve", "run", "--config", str(CONFIGS / "default.yaml"),
         "--input", "s3://crawl/nothing-here", "--output", str(tmp_path / "o"), "--executor", "local"],
        capture_output=True, text=True,
    )
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "s3://crawl/nothing-here" in res.stderr
