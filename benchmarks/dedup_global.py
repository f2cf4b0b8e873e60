"""The dedup global step alone, rerun on a finished run's key files (read only).

    python benchmarks/dedup_global.py OUT [--executor local|ray] [--workers N] [--repeat N]

OUT is a `codesieve run --config default` output folder whose work files are still there
(`OUT/.codesieve/work/global/dedup/keys/unit-*.pq`). The step runs `--repeat` times in one
executor (Ray started once, not timed) into a temporary folder; each line gives the wall
seconds per step (exact / banding / clusters / verdicts) and the driver's CPU seconds per
step (with `--executor local` that is all of the step's CPU). The verdict files of the
first repeat are compared with the run's own (`OUT/.codesieve/work/global/dedup/verdicts`).
"""

from __future__ import annotations

import argparse
import filecmp
import glob
import os
import tempfile

from codesieve.pipeline.cli import RUN_MODULES
from codesieve.pipeline.config import load_config
from codesieve.pipeline.executors import make_executor


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--executor", default="local", choices=["local", "ray"])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    gate = next(g for g in load_config("default").gates if g.name == "dedup")
    work = os.path.join(args.out, ".codesieve", "work", "global", "dedup")
    keys = sorted(glob.glob(os.path.join(work, "keys", "unit-*.pq")))
    if not keys:
        raise SystemExit(f"{args.out}: no dedup key files under {work}/keys")
    ex = make_executor(args.executor, args.workers, None, preload=RUN_MODULES if args.executor == "ray" else ())
    try:
        for r in range(args.repeat):
            with tempfile.TemporaryDirectory(prefix="dedup-global-") as tmp:
                st = gate.resolve(keys, tmp, ex)
                wall = " ".join(f"{k} {v:.3f}" for k, v in st["seconds"].items())
                cpu = " ".join(f"{k} {v:.3f}" for k, v in st["cpu_seconds"].items())
                print(f"{args.executor} x{ex.workers} run {r}: wall s: {wall} | driver CPU s: {cpu}", flush=True)
                if r == 0:
                    print(f"  verdict files identical to the run's: {_same(tmp, work)}")
    finally:
        ex.close()


def _same(new: str, old: str) -> bool:
    names = sorted(os.listdir(os.path.join(old, "verdicts")))
    return bool(names) and all(
        filecmp.cmp(os.path.join(new, "verdicts", n), os.path.join(old, "verdicts", n), shallow=False) for n in names
    )


if __name__ == "__main__":
    main()
