"""Whole-pipeline throughput against the rensa dedup-only baseline, in one invocation.

Prints these markdown tables:
  (a) MB of text per CPU-second (whole process, children included, from wait4) and peak
      RSS of: the rensa baseline (ANCHORS: lower-cased `\\w+` word 5-grams built in Python,
      rensa 0.5 RMinHash 128 perms, RMinHashLSH 16 bands x 8 rows, union-find) and
      `codesieve run --config default --executor local`; ratio = codesieve / rensa, both
      timed here, so the ratio holds on any machine;
  (b) CPU milliseconds per input MB of each step of that codesieve run (the manifest's
      `cpu` counters and the dedup step's own CPU figures); "startup + plan + finalize"
      is the process total minus the counted steps;
  (c) Ray with 1 and 2 workers on the whole pipeline: pipeline seconds (the manifest's
      `timings.total`, Ray start excluded) and Ray start + shutdown (wall minus that); the
      driver's peak RSS (its own VmHWM) apart from each worker's;
  (d) unless --no-ceiling, per Ray round the machine's own ceiling: the rensa baseline alone,
      then N copies of it at once (N = the largest worker count; N x alone wall / together
      wall), beside that round's Ray speed-up, and a bound: the speed-up the run would reach
      if its passes scaled like the machine and its serial parts (plan, dedup global step,
      finalize) took what they took;
  (e) per Ray round, the unit tasks' own CPU with N workers against the same tasks with one:
      each further worker's first task apart from the others (a new worker grows from its
      start-up size to its working set in that task; `machine_ceiling.py --memory` measures
      what a first touch of memory costs on this machine).

Peak RSS is the measured process's own kernel high-water mark (VmHWM, sampled every 0.2 s),
not wait4's ru_maxrss, which also counts every descendant the process reaped (embedded Ray's
workers); that figure is printed for reference as "wait4 tree".

    nice -n 10 python benchmarks/pipeline_speed.py [--input DIR] [--config NAME] [--repeat N] [--no-ray] [--ray-rounds N]
                                                   [--compare OTHER_CHECKOUT/.venv/bin/python] [--no-ceiling]

With --compare the other checkout runs too, right after each of this checkout's runs (local
and, in every Ray round, each worker count), and its per-round Ray speed-ups print beside
this checkout's.

With --repeat N each of rensa and codesieve runs N times, alternating, and the run with the
least CPU of each is kept (the machine is shared; the minimum is the least disturbed); the
ratio within each round (the two runs back to back) is printed too, with its median, which
holds when the machine's speed drifts during the invocation.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INPUT = ROOT.parent / "shared" / "corpus" / "dev"

#: (label, manifest `cpu` counter) in pipeline order; nested counters are subtracted from
#: their parent below (`memo_io` from the gates; in runs before NL detection became a late
#: column, `language.nl` from `gate:language`)
STEPS = [
    ("read (Parquet, validate)", "read"),
    ("language (path, content model)", "gate:language"),
    ("NL detection (comment lexer + lingua)", "language.nl"),
    ("rules", "gate:rules"),
    ("dedup prepare (shingles, MinHash, keys written)", "prepare:dedup"),
    ("dedup apply (verdicts)", "gate:dedup"),
    ("decontam", "gate:decontam"),
    ("quality", "gate:quality"),
    ("write (pass state, tier files)", "write"),
    ("memo-store I/O (inside the gates)", "memo_io"),
]


def _rusage_run(cmd: list[str], cwd: Path = ROOT) -> dict[str, Any]:
    """CPU seconds incl. waited-for children, wall seconds and peak RSS (MB) of one process.

    rss: the process's own peak (the kernel's VmHWM, read every 0.2 s: wait4's ru_maxrss
    would also count the Ray workers an embedded-Ray driver reaps); workers_mb: each Ray
    worker's sampled peak; tree_maxrss: wait4's figure, for reference."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from scale import RssSampler

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, env=_child_env())
    sampler = RssSampler(proc.pid)
    sampler.start()
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    sampler.stop()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"benchmark run failed: {' '.join(cmd)}")
    return {"cpu": ru.ru_utime + ru.ru_stime, "wall": wall, "rss": sampler.driver_hwm / 2**20,
            "workers_mb": [b / 2**20 for b in sampler.by_role("worker") if b >= 100 * 2**20],
            "tree_maxrss": ru.ru_maxrss / 1024}


def _child_env() -> dict[str, str]:
    """This environment without PYTHONDONTWRITEBYTECODE (some sandboxes set it): with it, a
    checkout's own modules are compiled from source in every process (~0.3 CPU-s for
    codesieve's, per Ray worker too), which an installed package never pays. The first run
    of each tool writes the bytecode; `--repeat` keeps the least CPU of each."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def rensa_child(input_dir: str) -> None:
    """The baseline itself (run in a fresh process): read every shard, dedup, print removed."""
    import pyarrow.parquet as pq

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from baselines import rensa_lsh_removed

    def texts() -> Iterator[str]:  # one shard in memory at a time
        for f in sorted(glob.glob(os.path.join(input_dir, "*.parquet"))):
            yield from pq.read_table(f, columns=["content"]).column("content").to_pylist()

    print(int(rensa_lsh_removed(texts()).sum()))


def rensa_command(input_dir: str) -> list[str]:
    """The rensa baseline as its own process (`rensa_child`)."""
    return [sys.executable, str(Path(__file__).resolve()), "--rensa-child", input_dir]


def run_rensa(input_dir: str) -> dict[str, Any]:
    return _rusage_run(rensa_command(input_dir))


def run_concurrent(cmds: list[list[str]]) -> dict[str, Any]:
    """Wall seconds until the last of `cmds`, all started at once, has ended; CPU of each."""
    t0 = time.perf_counter()
    procs = [subprocess.Popen(c, cwd=ROOT, stdout=subprocess.DEVNULL, env=_child_env()) for c in cmds]
    cpu = []
    for proc in procs:
        _, status, ru = os.wait4(proc.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"benchmark run failed: {' '.join(proc.args)}")
        cpu.append(ru.ru_utime + ru.ru_stime)
    return {"wall": time.perf_counter() - t0, "cpu": cpu}


def machine_ceiling(command: Callable[[], list[str]], n: int) -> dict[str, Any]:
    """The machine's own N-vs-1 speed-up for a job with no serial part and no shared state:
    one process of `command()` alone, then N at once (each its own `command()`). N x alone
    wall / together wall is what N workers can reach here at best (the cores' shared caches,
    memory bandwidth and the hypervisor's scheduling included)."""
    alone = run_concurrent([command()])
    together = run_concurrent([command() for _ in range(n)])
    return {"alone": alone, "together": together, "speedup": n * alone["wall"] / together["wall"]}


def run_codesieve(config: str, input_dir: str, extra: list[str], python: str = sys.executable) -> dict[str, Any]:
    out = tempfile.mkdtemp(prefix="codesieve-bench-")
    try:
        cmd = [python, "-m", "codesieve", "run", "--config", config, "--input", input_dir,
               "--output", out, "--quiet", *extra]
        # run from the checkout that owns `python` (`-m codesieve` imports from the cwd first)
        cwd = ROOT if python == sys.executable else Path(python).absolute().parents[2]
        run = _rusage_run(cmd, cwd if (cwd / "codesieve").is_dir() else ROOT)
        return run | {"manifest": json.loads(Path(out, ".codesieve", "manifest.json").read_text()),
                      "tasks": unit_tasks(out)}
    finally:
        shutil.rmtree(out, ignore_errors=True)


def unit_tasks(out: str) -> list[dict[str, Any]]:
    """Every pass task of a run from its units' completion records: pass, unit, worker pid,
    start time and the task's own CPU seconds (`process_cpu`, measured inside the task)."""
    tasks = []
    for f in sorted(glob.glob(os.path.join(out, ".codesieve", "work", "done", "pass*", "unit-*.json"))):
        st = json.loads(Path(f).read_text()).get("stats", {})
        if "process_cpu" in st:
            tasks.append({"pass": Path(f).parent.name, "unit": Path(f).stem, "pid": st["pid"],
                          "started": st["started"], "cpu": st["process_cpu"][1]})
    return tasks


def first_tasks(tasks: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(pass, unit) of each worker's first task of the run."""
    first: dict[int, dict[str, Any]] = {}
    for t in tasks:
        if t["pid"] not in first or t["started"] < first[t["pid"]]["started"]:
            first[t["pid"]] = t
    return {(t["pass"], t["unit"]) for t in first.values()}


def task_cpu_split(one: dict[str, Any], many: dict[str, Any]) -> tuple[float, float, float, float]:
    """(CPU of the N-worker run's first task per worker, of the same units with one worker,
    CPU of all its other tasks, of the same units with one worker): what starting N workers
    costs on top of starting one, apart from what running N at once costs every task."""
    ref = {(t["pass"], t["unit"]): t["cpu"] for t in one["tasks"]}
    firsts = first_tasks(many["tasks"]) - first_tasks(one["tasks"])
    a = b = c = d = 0.0
    for t in many["tasks"]:
        key = (t["pass"], t["unit"])
        if key not in ref:
            continue
        if key in firsts:
            a, b = a + t["cpu"], b + ref[key]
        else:
            c, d = c + t["cpu"], d + ref[key]
    return a, b, c, d


def print_task_cpu(runs: dict[int, list[dict[str, Any]]]) -> None:
    """Per round: the unit tasks' CPU with N workers against the same tasks with one."""
    base, top = min(runs), max(runs)
    pairs = [(a, b) for a, b in zip(runs[base], runs[top]) if a.get("tasks") and b.get("tasks")]
    if not pairs or top == base:
        return
    print(f"\nUnit tasks' own CPU (each task's `process_cpu`, from the units' completion records), {top} vs "
          f"{base} worker(s), same round: each further worker's first task (it grows the worker from its "
          f"start-up size to its working set) and every other task, against the same units' tasks with "
          f"{base} worker(s):\n")
    print(f"| round | all tasks, {base} / {top} worker(s) CPU s | first task of the other worker(s), "
          f"{top} / {base} | other tasks, {top} / {base} | extra CPU s: first tasks / others |")
    print("|--:|--:|--:|--:|--:|")
    extra = []
    for i, (one, many) in enumerate(pairs, 1):
        a, b, c, d = task_cpu_split(one, many)
        tot1 = sum(t["cpu"] for t in one["tasks"])
        totn = sum(t["cpu"] for t in many["tasks"])
        extra.append((a - b, c - d))
        print(f"| {i} | {tot1:.1f} / {totn:.1f} | {a:.2f} / {b:.2f} s = {a / b:.2f}x | "
              f"{c:.1f} / {d:.1f} s = {c / d:.2f}x | {a - b:.2f} / {c - d:.2f} |")
    med = [statistics.median(x) for x in zip(*extra)]
    print(f"| median | | | | {med[0]:.2f} / {med[1]:.2f} |")


def step_table(run: dict[str, Any], mb: float) -> list[tuple[str, float]]:
    """(step, CPU seconds) of one local run, nested counters taken out of their parents."""
    cpu = dict(run["manifest"].get("cpu", {}))
    memo = cpu.get("memo_io", 0.0)
    if "late:language" in cpu:  # NL detection is a late column: computed on the rows passing every gate
        cpu["language.nl"] = cpu["late:language"]
    else:  # before: inside the language gate, on every row passing it
        cpu["gate:language"] = cpu.get("gate:language", 0.0) - cpu.get("language.nl", 0.0)
    # memo I/O happens inside the per-row gates; charge it to its own row
    for g in ("gate:language", "language.nl", "gate:rules", "gate:decontam", "gate:quality"):
        share = min(memo, cpu.get(g, 0.0))
        cpu[g] = cpu.get(g, 0.0) - share
        memo -= share
    rows = [(label, cpu.get(key, 0.0)) for label, key in STEPS]
    glob_cpu = sum(run["manifest"].get("global", {}).get("dedup", {}).get("cpu_seconds", {}).values())
    rows.insert(6, ("dedup global step (exact, banding, clusters)", glob_cpu))
    counted = sum(s for _, s in rows)
    rows.append(("startup (imports, models) + plan + finalize", run["cpu"] - counted))
    return rows


def print_tables(
    rensa: dict[str, float], local: dict[str, Any], ray_runs: dict[int, list[dict[str, Any]]], args: Any,
    rounds: list[tuple[float, ...]] | None = None,
) -> None:
    m = local["manifest"]
    mb = m["bytes_in"] / 1e6
    load = os.getloadavg()
    print(f"input: {args.input}: {m['rows_in']:,} files, {mb:,.1f} MB of text; config {args.config}; "
          f"load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min), "
          f"{os.cpu_count()} cores\n")
    print("| run | CPU s | wall s | MB per CPU-s | vs rensa dedup | peak RSS MB (own VmHWM) |")
    print("|---|--:|--:|--:|--:|--:|")
    base = mb / rensa["cpu"]
    runs = [("rensa MinHash + LSH + union-find, Python shingles: dedup only", rensa),
            ("codesieve, default config, all gates (`--executor local`)", local)]
    if "compare" in local:
        runs.append((f"the same, `{args.compare}`", local["compare"]))
    for name, r in runs:
        print(f"| {name} | {r['cpu']:.1f} | {r['wall']:.1f} | {mb / r['cpu']:.1f} | "
              f"{mb / r['cpu'] / base:.2f}x | {r['rss']:,.0f} |")
    if rounds and len(rounds) > 1:  # the machine's speed drifts: also compare within each round
        ratios = sorted(r[0] / r[1] for r in rounds)
        line = (f"\nPer round (rensa then codesieve back to back), rensa CPU / codesieve CPU: "
                f"{', '.join(f'{x:.2f}x' for x in ratios)}; median {statistics.median(ratios):.2f}x")
        if all(len(r) > 2 for r in rounds):
            other = sorted(r[0] / r[2] for r in rounds)
            line += f" (--compare: median {statistics.median(other):.2f}x)"
        print(line)
    print("\nCPU per input MB, codesieve local run above (ms per MB; share of the process CPU):\n")
    other = local.get("compare")  # --compare: the other checkout's ms per MB, same steps
    print("| step | CPU s | ms per MB | share |" + (" ms per MB, --compare |" if other else ""))
    print("|---|--:|--:|--:|" + ("--:|" if other else ""))
    theirs = dict(step_table(other, mb)) if other else {}
    for name, secs in step_table(local, mb):
        more = f" {1000 * theirs.get(name, 0.0) / mb:.0f} |" if other else ""
        print(f"| {name} | {secs:.2f} | {1000 * secs / mb:.0f} | {100 * secs / local['cpu']:.0f}% |{more}")
    more = f" {1000 * other['cpu'] / mb:.0f} |" if other else ""
    print(f"| **whole process** | {local['cpu']:.2f} | {1000 * local['cpu'] / mb:.0f} | 100% |{more}")
    if ray_runs:
        print_ray(ray_runs)
        if local.get("compare_ray"):
            print_compare_ray(ray_runs, local["compare_ray"], args.compare)
        if local.get("ceilings"):
            print_ceiling(ray_runs, local["ceilings"])
        print_task_cpu(ray_runs)


def print_ray(runs: dict[int, list[dict[str, Any]]]) -> None:
    """Pipeline seconds and speed-up per worker count (each count's fastest run), Ray start
    apart; then the speed-up of every round (runs back to back) and its median. Driver and
    worker peaks measured separately (driver: its own VmHWM; workers: each one's sampled RSS
    and the manifest's per-task ru_maxrss, which is the worker process's own)."""
    print("\nRay, whole pipeline (pipeline s = manifest `timings.total`, Ray start excluded; "
          "pass 0 / dedup / pass 1 s from the manifest; workers start = Ray's workers importing "
          "codesieve and loading the run's models, `timings.workers_start`, part of Ray start):\n")
    print("| workers | pipeline s | speed-up vs 1 worker | pass 0 / dedup / pass 1 s | Ray start + shutdown s | "
          "of which workers start s | wall s | driver peak MB | worker peak MB, each (sampled) | "
          "worker peak MB (manifest) | wait4 tree MB |")
    print("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    ray = {w: min(rs, key=lambda r: r["manifest"]["timings"]["total"]) for w, rs in runs.items()}
    one = ray[min(ray)]["manifest"]["timings"]["total"]
    for w, r in sorted(ray.items()):
        tm = r["manifest"]["timings"]
        t = tm["total"]
        steps = sorted((k for k in tm if k.startswith(("pass", "global"))), key=lambda k: int(k[4:]) if k.startswith("pass") else 0.5)
        parts = " / ".join(f"{tm[k]:.1f}" for k in steps)  # pass0, global:dedup, pass1
        peak = max(r["manifest"]["peak_rss_mb"].values())
        each = ", ".join(f"{x:,.0f}" for x in r["workers_mb"]) or "-"
        start = tm.get("workers_start")
        print(f"| {w} | {t:.1f} | {one / t:.2f}x | {parts} | {r['wall'] - t:.1f} | "
              f"{'-' if start is None else f'{start:.1f}'} | {r['wall']:.1f} | "
              f"{r['rss']:,.0f} | {each} | {peak:,.0f} | {r['tree_maxrss']:,.0f} |")
    base = min(runs)
    for w, ups in round_speedups(runs).items():
        if len(ups) < 2:
            continue
        print(f"\n{w} vs {base} worker(s), per round: {', '.join(f'{x:.2f}x' for x in ups)}; "
              f"median {statistics.median(ups):.2f}x")


def round_speedups(runs: dict[int, list[dict[str, Any]]]) -> dict[int, list[float]]:
    """Per worker count above the least: its speed-up over the least count, round by round."""
    base = min(runs)
    return {w: [a["manifest"]["timings"]["total"] / b["manifest"]["timings"]["total"]
                for a, b in zip(runs[base], runs[w])] for w in sorted(runs) if w != base}


def serial_seconds(run: dict[str, Any]) -> float:
    """Pipeline seconds outside the passes' unit tasks: plan, the global steps, finalize."""
    tm = run["manifest"]["timings"]
    return sum(v for k, v in tm.items() if k in ("plan", "finalize") or k.startswith("global"))


def amdahl_bound(one: dict[str, Any], many: dict[str, Any], ceiling: float) -> float:
    """The N-worker speed-up if the passes scaled as well as the machine allows (`ceiling`)
    and the serial parts took what they took in the N-worker run."""
    t1 = one["manifest"]["timings"]["total"]
    return t1 / ((t1 - serial_seconds(one)) / ceiling + serial_seconds(many))


def print_ceiling(runs: dict[int, list[dict[str, Any]]], ceilings: list[dict[str, Any]]) -> None:
    """Every round's Ray speed-up beside the machine's own ceiling measured in that round."""
    base, top = min(runs), max(runs)
    n = len(ceilings[0]["together"]["cpu"])
    ups = round_speedups(runs)[top]
    print(f"\nThe machine's ceiling, per round: {n} rensa baselines at once against one alone "
          f"({n} x alone wall / together wall; no serial part, nothing shared), beside {top} vs {base} "
          f"Ray worker(s) in the same round; bound = the Ray speed-up if both passes scaled like the "
          f"machine and the serial parts (plan, dedup global step, finalize) took what they took:\n")
    print(f"| round | rensa alone s | {n} at once s | machine {n} vs 1 | Ray {top} vs {base} | Ray / machine | "
          f"serial s, {base} / {top} worker(s) | bound |")
    print("|--:|--:|--:|--:|--:|--:|--:|--:|")
    rows = []
    for i, (c, up, a, b) in enumerate(zip(ceilings, ups, runs[base], runs[top]), 1):
        bound = amdahl_bound(a, b, c["speedup"])
        rows.append((c["speedup"], up, up / c["speedup"], bound))
        print(f"| {i} | {c['alone']['wall']:.1f} | {c['together']['wall']:.1f} | {c['speedup']:.2f}x | {up:.2f}x | "
              f"{up / c['speedup']:.2f} | {serial_seconds(a):.2f} / {serial_seconds(b):.2f} | {bound:.2f}x |")
    med = [statistics.median(col) for col in zip(*rows)]
    print(f"| median | | | {med[0]:.2f}x | {med[1]:.2f}x | {med[2]:.2f} | | {med[3]:.2f}x |")


def print_compare_ray(mine: dict[int, list[dict[str, Any]]], other: dict[int, list[dict[str, Any]]], python: str) -> None:
    """This checkout's and the --compare checkout's Ray speed-ups, rounds interleaved (each
    round runs this checkout's counts, each followed by the other's)."""
    base = min(mine)
    ours, theirs = round_speedups(mine), round_speedups(other)
    for w in ours:
        print(f"\n{w} vs {base} worker(s), same rounds, this checkout / --compare ({python}):")
        print("\n| round | this checkout | --compare |\n|--:|--:|--:|")
        for i, (a, b) in enumerate(zip(ours[w], theirs[w]), 1):
            print(f"| {i} | {a:.2f}x | {b:.2f}x |")
        print(f"| median | {statistics.median(ours[w]):.2f}x | {statistics.median(theirs[w]):.2f}x |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", default=str(DEFAULT_INPUT))
    ap.add_argument("--config", default="default")
    ap.add_argument("--repeat", type=int, default=1, help="runs of rensa and of codesieve, alternating")
    ap.add_argument("--workers", default="1,2", help="Ray worker counts to compare ('' for none)")
    ap.add_argument("--no-ray", action="store_true")
    ap.add_argument("--ray-rounds", type=int, default=1, help="rounds of the Ray runs (worker counts alternate)")
    ap.add_argument("--no-ceiling", action="store_true",
                    help="skip the machine's own ceiling (N rensa baselines at once vs one) in every Ray round")
    ap.add_argument("--json", help="also write the raw figures here")
    ap.add_argument("--compare", metavar="PYTHON",
                    help="also time the codesieve of another checkout (its venv's python, e.g. main's)")
    ap.add_argument("--rensa-child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.rensa_child:
        rensa_child(args.rensa_child)
        return
    if not Path(args.input).exists():
        raise SystemExit(f"--input {args.input}: not found (the dev corpus lives in ../shared/corpus/dev)")
    rensa_runs, local_runs, other_runs = [], [], []
    for _ in range(args.repeat):
        rensa_runs.append(run_rensa(args.input))
        local_runs.append(run_codesieve(args.config, args.input, ["--executor", "local"]))
        if args.compare:
            other_runs.append(run_codesieve(args.config, args.input, ["--executor", "local"], args.compare))
    rensa = min(rensa_runs, key=lambda r: r["cpu"])
    local = min(local_runs, key=lambda r: r["cpu"])
    if other_runs:
        local["compare"] = min(other_runs, key=lambda r: r["cpu"])
    ray_runs: dict[int, list[dict[str, Any]]] = {}
    other_ray: dict[int, list[dict[str, Any]]] = {}
    ceilings: list[dict[str, Any]] = []
    if not args.no_ray and args.workers:
        counts = [int(x) for x in args.workers.split(",")]
        for _ in range(args.ray_rounds):  # worker counts alternate: a round shares the machine's mood
            for w in counts:
                ray = ["--executor", "ray", "--workers", str(w)]
                ray_runs.setdefault(w, []).append(run_codesieve(args.config, args.input, ray))
                if args.compare:
                    other_ray.setdefault(w, []).append(run_codesieve(args.config, args.input, ray, args.compare))
            if not args.no_ceiling and max(counts) > 1:
                ceilings.append(machine_ceiling(lambda: rensa_command(args.input), max(counts)))
    if other_ray:
        local["compare_ray"] = other_ray
    if ceilings:
        local["ceilings"] = ceilings
    rounds = [tuple(r["cpu"] for r in rs) for rs in zip(rensa_runs, local_runs, *([other_runs] if other_runs else []))]
    print_tables(rensa, local, ray_runs, args, rounds)
    if args.json:
        raw = {"rensa": rensa_runs, "local": [{k: v for k, v in r.items() if k not in ("manifest", "compare", "compare_ray")} |
               {"cpu_steps": r["manifest"].get("cpu", {})} for r in local_runs],
               "compare": [{k: v for k, v in r.items() if k != "manifest"} for r in other_runs],
               "ray": {w: [{k: v for k, v in r.items() if k != "manifest"} | {"timings": r["manifest"]["timings"]}
                           for r in rs] for w, rs in ray_runs.items()},
               "compare_ray": {w: [{k: v for k, v in r.items() if k != "manifest"} | {"timings": r["manifest"]["timings"]}
                                   for r in rs] for w, rs in other_ray.items()},
               "ceilings": ceilings, "load": os.getloadavg()}
        Path(args.json).write_text(json.dumps(raw, indent=1))


if __name__ == "__main__":
    main()
