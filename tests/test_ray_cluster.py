"""`--ray-address`: a two-node Ray cluster on loopback (`ray start --head` plus a second
`ray start --address` node with its own CPU and temp dir) gives the same output as the
in-process run, and the second node really runs tasks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import CONFIGS, free_port, tier_files, wait_for_port

RAY = str(Path(sys.executable).parent / "ray")
COMMON = ["--block", "--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--disable-usage-stats"]


def _env() -> dict[str, str]:
    """`ray start --head` enables token auth when ~/.ray/auth_token exists; joining nodes and
    drivers then must say so too (codesieve's RayExecutor does the same)."""
    env = dict(os.environ)
    if (Path.home() / ".ray" / "auth_token").exists():
        env.setdefault("RAY_AUTH_MODE", "token")
    return env


def _start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([RAY, "start", *args, *COMMON], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=_env())


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()  # `ray start --block` stops its node's processes on SIGTERM
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _wait_for_nodes(address: str, n: int, timeout: float) -> None:
    """Block until the cluster at `address` has n alive nodes (asked from a separate driver)."""
    code = (f"import ray, time; ray.init(address={address!r}, logging_level='ERROR', configure_logging=False)\n"
            f"t = time.time() + {timeout}\n"
            f"while sum(x['Alive'] for x in ray.nodes()) < {n} and time.time() < t: time.sleep(0.2)\n"
            f"print(sum(x['Alive'] for x in ray.nodes()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout + 60, env=_env())
    assert out.stdout.strip().splitlines()[-1:] == [str(n)], out.stderr[-2000:]


@pytest.fixture
def two_nodes() -> Iterator[tuple[str, Path]]:
    """A head node (1 CPU) and a second node (1 CPU); yields the address and the second node's temp dir."""
    port = free_port()
    address = f"127.0.0.1:{port}"
    head_tmp, node_tmp = Path(f"/tmp/ray-cs-{port}"), Path(f"/tmp/ray-cs-{port}-b")  # short: unix socket paths
    head = _start(["--head", "--port", str(port), "--include-dashboard", "false", "--temp-dir", str(head_tmp)])
    node = None
    try:
        wait_for_port(port, timeout=90)
        node = _start(["--address", address, "--temp-dir", str(node_tmp), "--resources", '{"second_node": 1}'])
        _wait_for_nodes(address, 2, timeout=90)
        yield address, node_tmp
    finally:
        if node is not None:
            _stop(node)
        _stop(head)
        for d in (head_tmp, node_tmp):
            shutil.rmtree(d, ignore_errors=True)


@pytest.mark.slow
def test_two_node_cluster_matches_local(tmp_path: Path, samples: Path, two_nodes: tuple[str, Path]) -> None:
    address, node_tmp = two_nodes
    base = [sys.executable, "-m", "codesieve", "run", "--config", str(CONFIGS / "default.yaml"),
            "--input", str(samples), "--quiet"]
    t0 = time.monotonic()
    subprocess.run(base + ["--output", str(tmp_path / "cluster"), "--ray-address", address], check=True, timeout=300)
    print(f"cluster run: {time.monotonic() - t0:.1f} s")
    manifest = json.loads((tmp_path / "cluster" / ".codesieve" / "manifest.json").read_text())
    assert manifest["executor"] == "ray" and manifest["workers"] == 2  # one CPU per node
    assert list(node_tmp.glob("session_*/logs/worker-*.out")), "the second node ran no task"
    subprocess.run(base + ["--output", str(tmp_path / "local"), "--executor", "local"], check=True, timeout=300)
    cluster, local = tier_files(tmp_path / "cluster"), tier_files(tmp_path / "local")
    assert cluster and cluster == local
