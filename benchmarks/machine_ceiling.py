"""What this machine gives two processes at once: the N-vs-1 ceiling of a job with no serial
part and nothing shared, against which issue #14's "2 workers >= 1.8x one" is read.

    python benchmarks/machine_ceiling.py [--input DIR] [--rounds N] [-n 2]

Per round, for the rensa dedup-only baseline and for `codesieve run --config default
--executor local` (each its own process, the same input, its own output folder): one run
alone, then N at once. Prints the wall seconds, N x alone / together (the throughput N
processes get against one) and each process's CPU at once against its CPU alone (what the
cores' shared caches, memory bandwidth and the hypervisor cost each of them).
`pipeline_speed.py` measures the rensa pair in every Ray round as well.

    python benchmarks/machine_ceiling.py --memory [--mb 400] [--pause 10] [--rounds N] [-n 2]

What it costs a new process to touch memory for the first time (`memory_probe`): a child
process fills `--mb` MB with numpy; CPU seconds of that fill (a) right after another child
filled and freed as much (the kernel hands back pages it just got back), (b) after `--pause`
seconds with nothing running (a virtual machine with free page reporting has returned idle
free memory to its host by then, and the first touch of each page faults into the host), (c)
N children at once after the pause (wall and each one's CPU). A Ray worker's first unit
task grows the worker from its start-up size to its working set, so on such a machine every
worker pays (b) once per run: N workers pay it N times where one worker pays it once.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pipeline_speed import DEFAULT_INPUT, machine_ceiling, rensa_command  # noqa: E402


def codesieve_command(input_dir: str, scratch: str) -> list[str]:
    """`codesieve run --executor local` into a new, empty output folder (a used one would resume)."""
    return [sys.executable, "-m", "codesieve", "run", "--config", "default", "--input", input_dir,
            "--output", tempfile.mkdtemp(dir=scratch), "--executor", "local", "--quiet"]


#: a child of `memory_probe`: fill MB megabytes (kept until exit), print the CPU seconds it took
FILL = ("import sys, time, numpy as np; c = time.process_time(); "
        "a = np.ones(int(sys.argv[1]) * 2**20 // 8); print(time.process_time() - c)")


def fill(mb: int, n: int = 1) -> tuple[float, list[float]]:
    """(wall seconds, CPU seconds of each fill) of `n` children filling `mb` MB at once."""
    t0 = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", FILL, str(mb)], stdout=subprocess.PIPE, text=True)
             for _ in range(n)]
    outs = [p.communicate()[0] for p in procs]
    if any(p.returncode for p in procs):
        raise SystemExit("memory probe: a child failed")
    return time.perf_counter() - t0, [float(o) for o in outs]


def memory_probe(mb: int, pause: float, n: int) -> dict[str, float | list[float]]:
    """CPU of a first touch of `mb` MB: recycled pages, pages idle `pause` s, `n` at once after a pause."""
    fill(mb)  # the pages the next fill gets back
    recycled = fill(mb)[1][0]
    time.sleep(pause)
    idle = fill(mb)[1][0]
    time.sleep(pause)
    wall, each = fill(mb, n)
    return {"recycled": recycled, "idle": idle, "together": each, "together_wall": wall}


def print_memory(args: argparse.Namespace) -> None:
    print(f"First touch of {args.mb} MB in a new process (numpy fill; CPU s of the fill), "
          f"{os.cpu_count()} cores:\n")
    print(f"| round | right after another process freed as much | after {args.pause:g} s idle | "
          f"{args.n} at once after the pause, each | ms per MB: recycled / idle |")
    print("|--:|--:|--:|--:|--:|")
    for r in range(1, args.rounds + 1):
        m = memory_probe(args.mb, args.pause, args.n)
        each = ", ".join(f"{x:.2f}" for x in m["together"])  # type: ignore[union-attr]
        print(f"| {r} | {m['recycled']:.2f} | {m['idle']:.2f} | {each} (wall {m['together_wall']:.2f} s) | "
              f"{1000 * m['recycled'] / args.mb:.2f} / {1000 * m['idle'] / args.mb:.2f} |")  # type: ignore[operator]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", default=str(DEFAULT_INPUT))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("-n", type=int, default=2, help="processes at once")
    ap.add_argument("--memory", action="store_true", help="the first-touch memory probe instead")
    ap.add_argument("--mb", type=int, default=400, help="--memory: MB each child fills")
    ap.add_argument("--pause", type=float, default=10.0, help="--memory: idle seconds before (b) and (c)")
    args = ap.parse_args()
    if args.memory:
        print_memory(args)
        return
    if not Path(args.input).exists():
        raise SystemExit(f"--input {args.input}: not found (the dev corpus lives in ../shared/corpus/dev)")
    scratch = tempfile.mkdtemp(prefix="codesieve-ceiling-")
    try:
        print(f"| tool | round | alone s | {args.n} at once s | {args.n} x alone / at once | CPU each at once / alone |")
        print("|---|--:|--:|--:|--:|--:|")
        tools = {"rensa": lambda: rensa_command(args.input), "codesieve": lambda: codesieve_command(args.input, scratch)}
        for tool, command in tools.items():
            ups = []
            for r in range(1, args.rounds + 1):
                c = machine_ceiling(command, args.n)
                alone, together = c["alone"], c["together"]
                ups.append(c["speedup"])
                cpu = ", ".join(f"{x / alone['cpu'][0]:.2f}" for x in together["cpu"])
                print(f"| {tool} | {r} | {alone['wall']:.1f} | {together['wall']:.1f} | {ups[-1]:.2f}x | {cpu} |")
            print(f"| {tool} | median | | | {statistics.median(ups):.2f}x | |")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
