"""Ray failures end in one line naming what failed, fast: a port that is not Ray, a task
that raises, a task whose worker dies on every retry. Real Ray, real processes."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import CONFIGS, ROOT

from codesieve.core.errors import UserError
from codesieve.pipeline.executors import _check_reachable

PLUGIN = ROOT / "tests" / "fixtures" / "plugins" / "fail_unit.py"


def _serve(reply: bytes | None) -> Iterator[str]:
    """A TCP server on loopback that is not Ray: silent (reply None) or answering `reply` and closing."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()
    held: list[socket.socket] = []

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            if reply is None:
                held.append(conn)  # accept, read nothing back, never answer
            else:
                conn.sendall(reply)
                conn.close()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


@pytest.fixture
def silent_port() -> Iterator[str]:
    yield from _serve(None)


@pytest.fixture
def http_port() -> Iterator[str]:
    yield from _serve(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")


@pytest.mark.parametrize("server", ["silent_port", "http_port"])
def test_port_that_is_not_ray_is_refused_in_seconds(server: str, request: pytest.FixtureRequest) -> None:
    address = request.getfixturevalue(server)
    t0 = time.monotonic()
    with pytest.raises(UserError, match=f"--ray-address {address}: something listens there, but it is not a Ray"):
        _check_reachable(address, timeout=2.0)
    assert time.monotonic() - t0 < 4


def test_closed_port_is_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{s.getsockname()[1]}"  # bound, not listening: connection refused
        with pytest.raises(UserError, match=f"--ray-address {address}: no Ray cluster answers there"):
            _check_reachable(address, timeout=2.0)


def test_cli_fails_fast_on_a_port_that_is_not_ray(silent_port: str, samples: Path, tmp_path: Path) -> None:
    t0 = time.monotonic()
    res = subprocess.run(
        [sys.executable, "-m", "codesieve", "run", "--config", "default", "--input", str(samples),
         "--output", str(tmp_path / "out"), "--ray-address", silent_port, "--quiet"],
        capture_output=True, text=True, timeout=120,
    )
    assert res.returncode == 2
    assert time.monotonic() - t0 < 45  # interpreter + imports on a loaded machine; Ray itself would retry for minutes
    assert res.stderr.strip().splitlines() == [
        f"codesieve: error: --ray-address {silent_port}: something listens there, but it is not a Ray cluster "
        "(no gRPC handshake within 5 s)"
    ]


def _failing_run(tmp_path: Path, samples: Path, how: str, unit: int) -> subprocess.CompletedProcess:
    raw = yaml.safe_load((CONFIGS / "default.yaml").read_text())
    raw["plugins"] = [str(PLUGIN)]
    raw["gates"] = [{"gate": "fail_unit", "unit": unit, "how": how}]
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(raw, sort_keys=False))
    return subprocess.run(
        [sys.executable, "-m", "codesieve", "run", "--config", str(cfg), "--input", str(samples),
         "--output", str(tmp_path / "out"), "--workers", "1", "--quiet"],
        capture_output=True, text=True, timeout=300,
    )


def _error_line(res: subprocess.CompletedProcess) -> str:
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("codesieve: error:")]
    assert len(lines) == 1, res.stderr
    return lines[0]


@pytest.mark.slow
def test_task_exception_names_unit_and_file(tmp_path: Path, samples: Path) -> None:
    line = _error_line(_failing_run(tmp_path, samples, "raise", 1))
    assert line == ("codesieve: error: unit 1 (input code-00001.parquet): the task failed: "
                    "RuntimeError: planted failure in unit 1 (set CODESIEVE_DEBUG=1 for the traceback)")


@pytest.mark.slow
def test_worker_killed_on_every_retry_names_unit_and_file(tmp_path: Path, samples: Path) -> None:
    line = _error_line(_failing_run(tmp_path, samples, "exit", 2))
    assert line.startswith("codesieve: error: unit 2 (input code-00002.jsonl.zst): the task's worker was lost "
                           "3 times in a row, giving up (")
