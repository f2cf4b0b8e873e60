"""Throughput of the `language` gate in MB/s per core.

    .venv/bin/python benchmarks/langid_speed.py [--input DIR] [--rows N] [--batch 5000]

Times every row of the input (the whole dev corpus by default); `--rows N` times only
the first N rows (the printed header says how many were timed).

One process, one thread (RAYON/OMP thread pools pinned to 1), batches of `--batch` rows
as the runner makes them; MB = UTF-8 bytes of the text column; the first batch is a
warm-up (model load, pygments tables) and not timed. Modes:
  path only            file name / extension / shebang tables, heuristics; no model
  path + content       default: content model for ambiguous or missing paths only
  + mislabel check 10% / 100%   content model also on that share of path-identified files
  + natural language   nl_lang on comments (tree-sitter prefix) and prose (lingua)
"""

from __future__ import annotations

import os

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import glob
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codesieve.core.base import UnitContext
from codesieve.core.batch import DocBatch
from codesieve.filters.language import LanguageGate

DEV_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "dev"

MODES = {
    "path only": {"content_model": False, "nl_detect": False},
    "path + content (ambiguous/missing paths)": {"nl_detect": False},
    "path + content + mislabel check 10%": {"nl_detect": False, "check_fraction": 0.1},
    "path + content + mislabel check 100%": {"nl_detect": False, "check_fraction": 1.0},
    "path + content + natural language": {"nl_detect": True},
}


def load(input_path: str, rows: int) -> pa.Table:
    files = sorted(glob.glob(os.path.join(input_path, "*.parquet"))) if os.path.isdir(input_path) else [input_path]
    tables, n = [], 0
    for f in files:
        t = pq.read_table(f, columns=["id", "content", "path"])
        tables.append(t)
        n += t.num_rows
        if 0 < rows <= n:
            break
    table = pa.concat_tables(tables)
    return (table.slice(0, rows) if rows > 0 else table).combine_chunks()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", default=str(DEV_CORPUS))
    ap.add_argument("--rows", type=int, default=0, help="time only the first N rows (0: all)")
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=1, help="timed passes; the best is reported (caches warm after the first)")
    args = ap.parse_args(argv)
    table = load(args.input, args.rows)
    batches = [table.slice(i, args.batch) for i in range(0, table.num_rows, args.batch)]
    mb = sum(pa.compute.sum(pa.compute.binary_length(b["content"])).as_py() for b in batches) / 1e6
    ctx = UnitContext(unit=0, work_dir="/tmp")
    print(f"{table.num_rows} rows, {mb:.1f} MB, batches of {args.batch}, one thread\n")
    print("| mode | MB/s per core | s |\n|---|---:|---:|")
    for name, params in MODES.items():
        gate = LanguageGate(LanguageGate.Params(**params))
        gate.apply(DocBatch(batches[0].slice(0, 200)), ctx)  # warm-up
        best = float("inf")
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            for b in batches:
                gate.apply(DocBatch(b), ctx)
            best = min(best, time.perf_counter() - t0)
        print(f"| {name} | {mb / best:.1f} | {best:.2f} |", flush=True)


if __name__ == "__main__":
    main()
