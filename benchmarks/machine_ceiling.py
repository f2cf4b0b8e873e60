"""What this machine gives two processes at once: the N-vs-1 ceiling of a job with no serial
part and nothing shared, against which issue #14's "2 workers >= 1.8x one" is read.

    python benchmarks/machine_ceiling.py [--input DIR] [--rounds N] [-n 2]

Per round, for the rensa dedup-only baseline and for `codesieve run --config default
--executor local` (each its own process, the same input, its own output folder): one run
alone, then N at once. Prints the wall seconds, N x alone / together (the throughput N
processes get against one) and each process's CPU at once against its CPU alone (what the
cores' shared caches, memory bandwidth and the hypervisor cost each of them).
`pipeline_speed.py` measures the rensa pair in every Ray round as well.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pipeline_speed import DEFAULT_INPUT, machine_ceiling, rensa_command  # noqa: E402


def codesieve_command(input_dir: str, scratch: str) -> list[str]:
    """`codesieve run --executor local` into a new, empty output folder (a used one would resume)."""
    return [sys.executable, "-m", "codesieve", "run", "--config", "default", "--input", input_dir,
            "--output", tempfile.mkdtemp(dir=scratch), "--executor", "local", "--quiet"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", default=str(DEFAULT_INPUT))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("-n", type=int, default=2, help="processes at once")
    args = ap.parse_args()
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
