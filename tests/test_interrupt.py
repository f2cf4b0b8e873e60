"""Ctrl-C: one SIGINT stops a running `codesieve run` within seconds, with one line and a
non-zero exit, and the same command then resumes (local and Ray executors)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import SAMPLES
from test_run import small_units_config

CLI = [sys.executable, "-m", "codesieve", "run"]
MESSAGE = "codesieve: interrupted; rerun the same command to resume"


def _interrupt_after_first_unit(args: list[str], out: Path) -> tuple[subprocess.CompletedProcess, float]:
    """Start `args`, send one SIGINT to its process group (as a terminal's Ctrl-C does) once
    a unit of pass 0 is done; return the finished process and seconds from signal to exit."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    done = out / ".codesieve" / "work" / "done" / "pass0"
    deadline = time.time() + 180
    while not any(done.glob("*.json")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "run finished before it could be interrupted"
    t0 = time.time()
    os.killpg(proc.pid, signal.SIGINT)
    try:
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    return subprocess.CompletedProcess(args, proc.returncode, stdout, stderr), time.time() - t0


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_one_sigint_stops_the_run_and_it_resumes(tmp_path: Path, executor: str) -> None:
    cfg = small_units_config(tmp_path, unit_rows=50)
    samples = tmp_path / "in"
    samples.mkdir()
    pq.write_table(pq.read_table(SAMPLES / "code-00000.parquet").slice(0, 300), samples / "a.parquet")
    out = tmp_path / "out"
    extra = ["--executor", "local"] if executor == "local" else ["--workers", "2"]
    args = CLI + ["--config", str(cfg), "--input", str(samples), "--output", str(out), "--quiet", *extra]
    res, seconds = _interrupt_after_first_unit(args, out)
    assert res.returncode == 130, res.stderr
    assert seconds < 10, f"took {seconds:.1f} s to stop"
    lines = [x for x in res.stderr.splitlines() if x.strip() and "Token authentication" not in x]
    assert lines == [MESSAGE], res.stderr
    assert not (out / ".codesieve" / "manifest.json").exists()
    assert not (out / ".codesieve" / "lock").exists()  # released: the rerun is not refused
    if executor == "ray":
        return  # resuming is the same code path for both executors (byte-identity: test_run, test_s3_output)
    again = subprocess.run(args[:-3] + ["--executor", "local"], capture_output=True, text=True)  # no --quiet
    assert again.returncode == 0, again.stderr
    assert "resuming" in again.stderr  # the units done before the signal are kept
    manifest = json.loads((out / ".codesieve" / "manifest.json").read_text())
    assert manifest["rows_in"] == manifest["rows_out"] == 300
