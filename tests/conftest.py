"""Shared fixtures: the real sample shards, config loading, and a run helper."""

from __future__ import annotations

import os
import shutil
import socket
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data_samples"
CONFIGS = ROOT / "configs"
DEV_CORPUS = ROOT.parent / "shared" / "corpus" / "dev"

os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")


@pytest.fixture
def samples(tmp_path: Path) -> Path:
    """A private copy of data_samples/ (tests may add bad files to it)."""
    dst = tmp_path / "in"
    shutil.copytree(SAMPLES, dst, ignore=shutil.ignore_patterns("*.py", "*.md"))
    return dst


def tier_files(out: Path) -> dict[str, bytes]:
    """Every tier part file of an output folder, by relative path, with its bytes."""
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in sorted(out.glob("tier=*/part-*.parquet"))
    }


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float) -> None:
    """Block until something accepts connections on 127.0.0.1:port (or the timeout passes)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
