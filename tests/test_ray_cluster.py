"""`--ray-address`: joining a separately started Ray cluster gives the same output."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import CONFIGS, free_port, tier_files, wait_for_port

RAY = str(Path(sys.executable).parent / "ray")


@pytest.fixture
def ray_head(tmp_path: Path):
    port = free_port()
    proc = subprocess.Popen(
        [RAY, "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(port),
         "--num-cpus", "2", "--include-dashboard", "false", "--disable-usage-stats",
         "--temp-dir", f"/tmp/ray-cs-{port}"],  # short: unix socket paths are limited
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, timeout=90)
    time.sleep(2)  # GCS answers before the raylet has registered
    yield f"127.0.0.1:{port}"
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_join_existing_cluster(tmp_path: Path, samples: Path, ray_head: str) -> None:
    base = [sys.executable, "-m", "codesieve", "run", "--config", str(CONFIGS / "default.yaml"),
            "--input", str(samples), "--quiet"]
    subprocess.run(base + ["--output", str(tmp_path / "cluster"), "--ray-address", ray_head], check=True,
                   timeout=300)
    subprocess.run(base + ["--output", str(tmp_path / "local"), "--executor", "local"], check=True, timeout=300)
    assert tier_files(tmp_path / "cluster") == tier_files(tmp_path / "local")
