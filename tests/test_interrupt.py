"""Ctrl-C: one SIGINT stops a running `codesieve run` within seconds, with one line and a
non-zero exit, and the same command then resumes (local and Ray executors)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import SAMPLES

CLI = [sys.executable, "-m", "codesieve", "run"]
PLUGIN = Path(__file__).parent / "fixtures" / "plugins" / "sleepy.py"
MESSAGE = "codesieve: interrupted; rerun the same command to resume"


def _interrupt_after_first_unit(args: list[str], out: Path) -> tuple[subprocess.CompletedProcess, float]:
    """Start `args`, send one SIGINT to the driver alone (`kill -INT`; a terminal's Ctrl-C
    also reaches the Ray workers, which ends their tasks sooner) once a unit of pass 0 is
    done; return the finished process and seconds from signal to exit."""
    # SIGINT as a terminal leaves it: a pytest started in the background of a non-interactive
    # shell (`pytest &`) has it ignored, children inherit that, and Python then never raises
    # KeyboardInterrupt (POSIX: an ignored signal stays ignored across exec)
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    first = out / ".codesieve" / "work" / "done" / "pass0" / "unit-00000.json"  # renamed into place: complete
    deadline = time.time() + 180
    while not first.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "run finished before it could be interrupted"
    t0 = time.time()
    os.kill(proc.pid, signal.SIGINT)
    try:
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    return subprocess.CompletedProcess(args, proc.returncode, stdout, stderr), time.time() - t0


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_one_sigint_stops_the_run_and_it_resumes(tmp_path: Path, executor: str) -> None:
    """The signal arrives while tasks run long (a gate sleeping a minute in every unit after
    the first); the run must still stop within seconds."""
    inp = tmp_path / "in"
    inp.mkdir()
    pq.write_table(pq.read_table(SAMPLES / "code-00000.parquet").slice(0, 60), inp / "a.parquet")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"plugins: [{PLUGIN}]\ninput:\n  unit_rows: 20\ngates:\n  - gate: sleepy\n")
    out = tmp_path / "out"
    extra = ["--executor", "local"] if executor == "local" else ["--workers", "2"]
    args = CLI + ["--config", str(cfg), "--input", str(inp), "--output", str(out), "--quiet", *extra]
    res, seconds = _interrupt_after_first_unit(args, out)
    assert res.returncode == 130, res.stderr
    assert seconds < 10, f"took {seconds:.1f} s to stop"
    lines = [x for x in res.stderr.splitlines() if x.strip() and "Token authentication" not in x]
    assert lines == [MESSAGE], res.stderr
    assert not (out / ".codesieve" / "manifest.json").exists()
    assert not (out / ".codesieve" / "lock").exists()  # released: the rerun is not refused
    done = sorted(p.name for p in (out / ".codesieve" / "work" / "done" / "pass0").glob("unit-*.json"))
    assert done == ["unit-00000.json"]  # what finished before the signal is kept for the rerun
