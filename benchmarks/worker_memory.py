"""Peak RSS of Ray workers per task kind: which step of a run holds a worker's memory.

Runs `codesieve run` (embedded Ray, --workers N) with every task wrapped in a sampler
(RSS from /proc/self/statm every 10 ms in the worker), then prints per task kind (pass 0,
each dedup step's tasks, pass 1): tasks, worker RSS at task start (max), peak during a
task (max) and the worker's lifetime peak (ru_maxrss, max over workers).

    nice -n 10 python benchmarks/worker_memory.py --input DIR [--workers 1] [--config default]
        [--output DIR]
    nice -n 10 python benchmarks/worker_memory.py --resolve-from OUT [--workers 1]

--resolve-from reruns only the global dedup step on a finished run's key files (into a
scratch folder) and checks that its verdict files are byte-identical to the run's own.
--resolve-from OUT --force-giant VMAX runs it twice in-process at verify_max_cluster=VMAX,
with the normal cluster budgets and with every budget tiny (giant components), and
compares the two runs' verdict files.

--log FILE keeps every task's record (JSON lines, in the order tasks end): pid, unit, RSS at
start and peak, and at both Arrow's pool bytes, glibc malloc's in-use / free bytes
(mallinfo2) and Python's allocated blocks; with WORKER_MEMORY_SMAPS=1 also the resident MB
per mapping at the start of every pass-1 unit task (how issue #14's growth was traced to
mimalloc's arena).
"""

from __future__ import annotations

import argparse
import filecmp
import glob
import json
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _heap_mb() -> dict[str, float]:
    """In use by Arrow's pool, in use / free in glibc malloc's arenas (MB), now."""
    import ctypes

    import pyarrow as pa

    class MallInfo2(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                    "fsmblks", "uordblks", "fordblks", "keepcost")]

    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    mi = libc.mallinfo2()
    return {"arrow": pa.default_memory_pool().bytes_allocated() / 2**20,
            "glibc_used": (mi.uordblks + mi.hblkhd) / 2**20, "glibc_free": mi.fordblks / 2**20,
            "py_blocks": sys.getallocatedblocks()}


def _smaps() -> dict[str, float]:
    """Resident MB per mapping kind: file name, [heap], or `anon<size MB>` (mimalloc's arena is
    `anon1024.00`; glibc's thread arenas are <= 64 MB)."""
    out: dict[str, float] = {}
    name = ""
    with open("/proc/self/smaps") as fh:
        for line in fh:
            parts = line.split()
            if not parts[0].endswith(":"):  # a mapping's header: start-end perms offset dev inode [path]
                a, b = (int(x, 16) for x in parts[0].split("-"))
                name = parts[5].rsplit("/", 1)[-1] if len(parts) > 5 else f"anon{(b - a) / 2**20:.2f}"
            elif parts[0] == "Rss:":
                out[name] = out.get(name, 0.0) + int(parts[1]) / 1024
    return {k: round(v, 1) for k, v in out.items() if v >= 0.5}


def traced(fn: Callable[..., Any], log: str) -> Callable[..., Any]:
    """`fn` that appends {kind, start, peak, maxrss} (MB) of its worker to `log` (JSON lines).

    Defined in `__main__`, so Ray pickles it by value: workers need not import this file."""

    def run(*args: Any) -> Any:
        start, heap0 = _rss_mb(), _heap_mb()
        if os.environ.get("WORKER_MEMORY_SMAPS") and fn.__name__ == "pass_task" and args[1] == 1:
            heap0["smaps"] = _smaps()
        peak = [start]
        at_peak = [_heap_mb()]
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.01):
                rss = _rss_mb()
                if rss > peak[0]:
                    peak[0], at_peak[0] = rss, _heap_mb()

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        try:
            return fn(*args)
        finally:
            stop.set()
            thread.join()
            kind = f"pass {args[1]}" if fn.__name__ == "pass_task" else f"dedup {fn.__name__}"
            rec = {"kind": kind, "pid": os.getpid(), "start": start, "peak": max(peak[0], _rss_mb()),
                   "heap_at_peak": at_peak[0], "heap_at_start": heap0, "unit": getattr(args[2], "index", None)
                   if fn.__name__ == "pass_task" else None,
                   "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
            with open(log, "a") as fh:
                fh.write(json.dumps(rec) + "\n")

    run.__name__ = fn.__name__
    return run


def traced_executor(workers: int, log: str) -> Any:
    from codesieve.pipeline.executors import MAX_RETRIES, RayExecutor, released

    class Traced(RayExecutor):
        def _remote(self, fn: Callable[..., Any]) -> Any:
            if fn not in self._remote_cache:
                self._remote_cache[fn] = self._ray.remote(num_cpus=1, max_retries=MAX_RETRIES)(traced(released(fn), log))
            return self._remote_cache[fn]

    return Traced(workers)


def print_table(log: str) -> None:
    recs = [json.loads(line) for line in Path(log).read_text().splitlines()]
    kinds: dict[str, list[dict[str, float]]] = {}
    for r in recs:
        kinds.setdefault(r["kind"], []).append(r)
    print("| task kind | tasks | RSS at start, max MB | peak in task, max MB |")
    print("|---|--:|--:|--:|")
    for kind, rs in kinds.items():
        print(f"| {kind} | {len(rs)} | {max(r['start'] for r in rs):,.0f} | {max(r['peak'] for r in rs):,.0f} |")
    per_worker: dict[int, float] = {}
    for r in recs:
        per_worker[r["pid"]] = max(per_worker.get(r["pid"], 0.0), r["maxrss"])
    print(f"\nworker lifetime peak (ru_maxrss) MB: {', '.join(f'{v:,.0f}' for v in per_worker.values())}")


def run_pipeline(args: argparse.Namespace, log: str) -> None:
    from codesieve.pipeline.config import load_config
    from codesieve.pipeline.runner import run

    out = args.output or tempfile.mkdtemp(prefix="codesieve-mem-")
    executor = traced_executor(args.workers, log)
    try:
        t0 = time.perf_counter()
        m = run(load_config(args.config), args.input, out, executor, quiet=True)
        print(f"{m['rows_in']:,} rows, {len(m.get('tiers', {}))} tiers, {time.perf_counter() - t0:.0f} s; "
              f"manifest peak_rss_mb {m['peak_rss_mb']}\n")
    finally:
        executor.close()
        if not args.output:
            shutil.rmtree(out, ignore_errors=True)


def rerun_dedup(args: argparse.Namespace, log: str) -> None:
    """The global dedup step again on `--resolve-from`'s key files; verdicts compared."""
    from codesieve.pipeline import layout
    from codesieve.pipeline.config import build_config

    out = args.resolve_from
    manifest = json.loads(Path(layout.manifest_path(out)).read_text())
    cfg = build_config(manifest["config"])
    gate = next(g for g in cfg.gates if g.name == "dedup")
    folder = layout.gate_dir(layout.work_dir(out), "dedup")
    keys = sorted(glob.glob(os.path.join(folder, "keys", "unit-*.pq")))
    scratch = tempfile.mkdtemp(prefix="codesieve-dedup-")
    executor = traced_executor(args.workers, log)
    try:
        t0 = time.perf_counter()
        stats = gate.resolve(keys, scratch, executor)
        print(f"dedup step on {len(keys)} key files: {time.perf_counter() - t0:.1f} s; {stats['candidates']:,} "
              f"LSH candidates, {stats['giant_components']} giant components")
        names = sorted(os.listdir(os.path.join(folder, "verdicts")))
        same = filecmp.cmpfiles(os.path.join(folder, "verdicts"), os.path.join(scratch, "verdicts"), names,
                                shallow=False)
        print(f"verdict files byte-identical to the run's: {len(same[0])} of {len(names)}\n")
    finally:
        executor.close()
        shutil.rmtree(scratch, ignore_errors=True)


def force_giant(args: argparse.Namespace) -> None:
    """The dedup step twice on `--resolve-from`'s key files, in this process, with
    verify_max_cluster = VMAX: with the normal budgets, then with every budget tiny (every
    component above VMAX clustered alone by `giant.py`, in row groups of a few rows,
    segments of 64 kept documents); the verdict files must be byte-identical."""
    from dataclasses import replace

    from codesieve.filters.dedup import giant, resolve
    from codesieve.pipeline import layout
    from codesieve.pipeline.config import build_config
    from codesieve.pipeline.executors import LocalExecutor

    out = args.resolve_from
    manifest = json.loads(Path(layout.manifest_path(out)).read_text())
    gate = next(g for g in build_config(manifest["config"]).gates if g.name == "dedup")
    cfg = replace(gate.config, verify_max_cluster=args.force_giant)
    keys = sorted(glob.glob(os.path.join(layout.gate_dir(layout.work_dir(out), "dedup"), "keys", "unit-*.pq")))
    dirs = [tempfile.mkdtemp(prefix="codesieve-giant-") for _ in range(2)]
    try:
        for i, d in enumerate(dirs):
            if i:
                resolve.CLUSTER_TASK_BYTES, resolve.GIANT_MERGE_ROWS = 1, 2_000
                giant.SEGMENT_ROWS, giant.PAIR_BATCH = 64, 1_000
            t0 = time.perf_counter()
            stats = resolve.resolve(keys, d, LocalExecutor(), cfg)
            print(f"{'tiny budgets' if i else 'normal budgets'}: {time.perf_counter() - t0:.1f} s, "
                  f"{stats['giant_components']} giant components, {stats['near_duplicates']:,} near duplicates")
        names = sorted(os.listdir(os.path.join(dirs[0], "verdicts")))
        same = filecmp.cmpfiles(*(os.path.join(d, "verdicts") for d in dirs), names, shallow=False)
        print(f"verdict files byte-identical: {len(same[0])} of {len(names)}")
    finally:
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input")
    ap.add_argument("--output", help="keep the run here (default: a temporary folder, deleted)")
    ap.add_argument("--config", default="default")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--resolve-from", metavar="OUT", help="rerun only the dedup step of this finished run")
    ap.add_argument("--force-giant", metavar="VMAX", type=int,
                    help="with --resolve-from: normal vs tiny cluster budgets at verify_max_cluster=VMAX, compared")
    ap.add_argument("--log", help="keep the per-task records (JSON lines, in task end order) in this file")
    args = ap.parse_args()
    log = args.log or tempfile.mktemp(prefix="codesieve-mem-", suffix=".jsonl")
    try:
        if args.resolve_from and args.force_giant:
            force_giant(args)
            return
        if args.resolve_from:
            rerun_dedup(args, log)
        elif args.input:
            run_pipeline(args, log)
        else:
            raise SystemExit("give --input DIR or --resolve-from OUT")
        print_table(log)
    finally:
        if not args.log and os.path.exists(log):
            os.remove(log)


if __name__ == "__main__":
    main()
