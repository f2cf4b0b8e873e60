"""Whole-pipeline throughput and memory on the dev corpus.

Runs `codesieve run` with the default config in fresh processes and prints a markdown
table: rows/s and MB/s per core, peak RSS, for the whole pipeline (in-process executor =
one core; Ray with N workers) and for each gate alone (`--gates NAME`, in-process).

    python benchmarks/pipeline_speed.py [--input DIR] [--config FILE] [--ray-workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INPUT = ROOT.parent / "shared" / "corpus" / "dev"


def run_once(config: str, input_path: str, extra: list[str], pin: bool) -> tuple[float, float, dict]:
    """(wall seconds, peak RSS MB of the driver process, manifest) of one fresh run.

    pin: run on one CPU (taskset), so that library thread pools cannot borrow a second core."""
    out = tempfile.mkdtemp(prefix="codesieve-bench-")
    try:
        cmd = [sys.executable, "-m", "codesieve", "run", "--config", config, "--input", input_path,
               "--output", out, "--quiet", *extra]
        if pin and shutil.which("taskset"):
            cmd = ["taskset", "-c", "0", *cmd]
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"benchmark run failed: {' '.join(cmd)}")
        manifest = json.loads(Path(out, ".codesieve", "manifest.json").read_text())
        return wall, usage.ru_maxrss / 1024, manifest
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", default=str(DEFAULT_INPUT))
    ap.add_argument("--config", default=str(ROOT / "configs" / "default.yaml"))
    ap.add_argument("--ray-workers", type=int, default=2)
    ap.add_argument("--no-per-gate", action="store_true", help="skip the per-gate runs")
    args = ap.parse_args()
    if not Path(args.input).exists():
        raise SystemExit(f"{args.input}: not found (the dev corpus lives in ../shared/corpus/dev)")

    rows: list[tuple[str, int, float, float, float, float]] = []
    wall, rss, m = run_once(args.config, args.input, ["--executor", "local"], pin=True)
    mb = m["bytes_in"] / 1e6
    rows.append(("whole pipeline, in-process, pinned to 1 core", 1, wall, m["rows_in"] / wall, mb / wall, rss))
    stage_secs = {k: v for k, v in m["timings"].items()}
    gate_secs = {g: s["seconds"] for g, s in m["gates"].items()}
    if args.ray_workers:
        w = args.ray_workers
        wall_r, rss_r, mr = run_once(args.config, args.input, ["--workers", str(w)], pin=False)
        rows.append((f"whole pipeline, Ray {w} workers, wall incl. Ray start/stop", w, wall_r,
                     m["rows_in"] / wall_r, mb / wall_r / w, rss_r))
        t = mr["timings"]["total"]
        rows.append((f"whole pipeline, Ray {w} workers, pipeline only (manifest total)", w, t,
                     m["rows_in"] / t, mb / t / w, rss_r))
    if not args.no_per_gate:
        for gate in m["config"]["gates"]:
            name = gate["gate"]
            wall_g, rss_g, _ = run_once(args.config, args.input, ["--executor", "local", "--gates", name], pin=True)
            rows.append((f"only `{name}` (+ read/validate/write)", 1, wall_g, m["rows_in"] / wall_g, mb / wall_g,
                         rss_g))

    print(f"input: {args.input} — {m['rows_in']:,} files, {mb:,.1f} MB of text; config: {args.config}\n")
    print("| run | cores | wall s | rows/s | MB/s per core | peak RSS MB (driver) |")
    print("|---|---|---|---|---|---|")
    for name, cores, wall, rps, mbps, rss in rows:
        print(f"| {name} | {cores} | {wall:.1f} | {rps:,.0f} | {mbps:.1f} | {rss:,.0f} |")
    print("\nin-process run, time per stage (seconds, summed over work units):\n")
    print("| stage | seconds | MB/s of input |")
    print("|---|---|---|")
    for k in ("plan", "pass0", "global:dedup", "pass1", "finalize"):
        print(f"| {k} | {stage_secs.get(k, 0):.2f} | {mb / max(stage_secs.get(k, 0), 1e-9):,.0f} |")
    for g, s in gate_secs.items():
        print(f"| gate `{g}` | {s:.2f} | {mb / max(s, 1e-9):,.0f} |")


if __name__ == "__main__":
    main()
