"""Where a Ray run's time goes, from its own records: per-unit CPU, the schedule, the serial parts.

    python benchmarks/ray_schedule.py OUT_1_WORKER [OUT_N_WORKERS]

Reads `OUT/.codesieve/manifest.json` (timings) and the per-unit completion records under
`OUT/.codesieve/work/done/` (each task's start time, worker pid, wall seconds and its process's
CPU seconds). Prints every task (worker, start, end, CPU), then per pass: the measured span,
the start latency (pass start to its first task), the sum of task CPU and the makespan of a
greedy schedule of those CPU seconds on W workers in submission order (what the pass would
take with no contention and no latency). The last line predicts the N-vs-1 speed-up from the
1-worker run's per-unit CPU and serial parts alone (load-free): per pass the greedy makespan
on N workers of its task CPU (+ the CPU each further worker spends loading models, taken from
the N-worker run when given), plus the global step (its 1-worker time / N when no N-worker run
is given) and finalize. CPU seconds barely move with machine load; wall seconds do.
"""

from __future__ import annotations

import heapq
import json
import sys
from pathlib import Path
from typing import Any


def records(out: Path) -> tuple[dict[str, Any], dict[int, list[dict[str, Any]]]]:
    manifest = json.loads((out / ".codesieve" / "manifest.json").read_text())
    passes: dict[int, list[dict[str, Any]]] = {}
    for f in sorted((out / ".codesieve" / "work" / "done").glob("pass*/unit-*.json")):
        stats = json.loads(f.read_text())["stats"]
        stats["unit"] = int(f.stem.split("-")[1])
        passes.setdefault(int(f.parent.name[4:]), []).append(stats)
    return manifest, passes


def makespan(costs: list[float], workers: int, extra: float = 0.0) -> float:
    """Greedy list schedule in submission order; every worker but the first pays `extra` once."""
    free = [0.0] + [extra] * (workers - 1)
    heapq.heapify(free)
    for c in costs:
        heapq.heappush(free, heapq.heappop(free) + c)
    return max(free)


def cpu(s: dict[str, Any]) -> float:
    return s["process_cpu"][1]


def show(out: Path) -> tuple[dict[str, Any], dict[int, list[dict[str, Any]]]]:
    manifest, passes = records(out)
    tm = manifest["timings"]
    workers = manifest.get("workers", 1)
    t0 = min(s["started"] for ps in passes.values() for s in ps)
    pids = sorted({s["pid"] for ps in passes.values() for s in ps})
    print(f"\n{out}: {workers} worker(s), pipeline {tm['total']:.2f} s; "
          + ", ".join(f"{k} {v:.2f}" for k, v in tm.items() if k != "total"))
    print("| pass | unit | worker | start s | end s | wall s | CPU s |")
    print("|--:|--:|--:|--:|--:|--:|--:|")
    for p, ps in sorted(passes.items()):
        for s in sorted(ps, key=lambda s: s["started"]):
            print(f"| {p} | {s['unit']} | {pids.index(s['pid'])} | {s['started'] - t0:.2f} | "
                  f"{s['started'] - t0 + s['seconds']:.2f} | {s['seconds']:.2f} | {cpu(s):.2f} |")
    for p, ps in sorted(passes.items()):
        first = min(s["started"] for s in ps)
        span = max(s["started"] + s["seconds"] for s in ps) - first
        costs = [cpu(s) for s in sorted(ps, key=lambda s: s["unit"])]
        print(f"pass {p}: measured {tm[f'pass{p}']:.2f} s (tasks span {span:.2f}, start latency "
              f"{tm[f'pass{p}'] - span:.2f}); task CPU {sum(costs):.2f} s; greedy makespan of that CPU "
              f"on {workers}: {makespan(costs, workers):.2f} s")
    return manifest, passes


def predict(one: tuple[dict[str, Any], dict[int, list[dict[str, Any]]]],
            many: tuple[dict[str, Any], dict[int, list[dict[str, Any]]]] | None, n: int) -> None:
    m1, p1 = one
    tm1 = m1["timings"]
    serial_keys = [k for k in tm1 if k.startswith("global") or k in ("finalize", "plan")]
    t1 = sum(sum(cpu(s) for s in ps) for ps in p1.values()) + sum(tm1[k] for k in serial_keys)
    tn = sum((many[0]["timings"] if many else tm1)[k] / (1 if many or not k.startswith("global") else n)
             for k in serial_keys)
    for p, ps in sorted(p1.items()):
        costs = [cpu(s) for s in sorted(ps, key=lambda s: s["unit"])]
        extra = 0.0
        if many:  # the model loading of a further worker: its first task's CPU over the same unit's in the 1-worker run
            by_unit = {s["unit"]: cpu(s) for s in ps}
            firsts: dict[int, dict[str, Any]] = {}
            for s in many[1][p]:
                if s["pid"] not in firsts or s["started"] < firsts[s["pid"]]["started"]:
                    firsts[s["pid"]] = s
            extra = max(0.0, max(cpu(s) - by_unit[s["unit"]] for s in firsts.values()))
        tn += makespan(costs, n, extra)
    print(f"\npredicted from per-unit CPU and serial parts: 1 worker {t1:.2f} s, {n} workers {tn:.2f} s, "
          f"speed-up {t1 / tn:.2f}x")


def main() -> None:
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    one = show(Path(sys.argv[1]))
    many = show(Path(sys.argv[2])) if len(sys.argv) == 3 else None
    predict(one, many, many[0].get("workers", 2) if many else 2)


if __name__ == "__main__":
    main()
