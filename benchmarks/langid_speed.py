"""Throughput of the `language` gate in MB/s per core.

    .venv/bin/python benchmarks/langid_speed.py [--input DIR] [--rows 0] [--batch 5000] [--modes ...]

Times the whole input (default: the dev corpus, every row) unless `--rows N` limits it.

One process, one thread (RAYON/OMP thread pools pinned to 1), batches of `--batch` rows
as the runner makes them; MB = UTF-8 bytes of the text column; the first batch is a
warm-up (model load, pygments tables) and not timed. MB/s per core = MB / CPU seconds of
this process (`time.process_time`: on a shared machine wall time also counts other
processes' turns; it is shown beside it). Modes:
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
    """The input's `id, content, path` columns; the first `rows` rows (0: all of them)."""
    files = sorted(glob.glob(os.path.join(input_path, "*.parquet"))) if os.path.isdir(input_path) else [input_path]
    tables, n = [], 0
    for f in files:
        t = pq.read_table(f, columns=["id", "content", "path"])
        tables.append(t)
        n += t.num_rows
        if rows and n >= rows:
            break
    table = pa.concat_tables(tables)
    return (table.slice(0, rows) if rows else table).combine_chunks()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", default=str(DEV_CORPUS))
    ap.add_argument("--rows", type=int, default=0, help="rows to time (0: the whole input)")
    ap.add_argument("--model", help="content model .ftz (default: the shipped one)")
    ap.add_argument("--modes", nargs="*", choices=list(MODES), help="modes to time (default: all)")
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=1, help="timed passes; the best is reported (caches warm after the first)")
    args = ap.parse_args(argv)
    table = load(args.input, args.rows)
    batches = [table.slice(i, args.batch) for i in range(0, table.num_rows, args.batch)]
    mb = sum(pa.compute.sum(pa.compute.binary_length(b["content"])).as_py() for b in batches) / 1e6
    ctx = UnitContext(unit=0, work_dir="/tmp")
    print(f"{table.num_rows} rows, {mb:.1f} MB, batches of {args.batch}, one thread\n")
    print("| mode | MB/s per core (CPU time) | CPU s | wall s |\n|---|---:|---:|---:|")
    for name, params in MODES.items():
        if args.modes and name not in args.modes:
            continue
        gate = LanguageGate(LanguageGate.Params(**params, content_model_path=args.model))
        gate.apply(DocBatch(batches[0].slice(0, 200)), ctx)  # warm-up
        best_cpu, best_wall = float("inf"), float("inf")
        for _ in range(args.repeat):
            c0, t0 = time.process_time(), time.perf_counter()
            for b in batches:
                _apply_all(gate, DocBatch(b), ctx)
            best_cpu = min(best_cpu, time.process_time() - c0)
            best_wall = min(best_wall, time.perf_counter() - t0)
        print(f"| {name} | {mb / best_cpu:.1f} | {best_cpu:.2f} | {best_wall:.2f} |", flush=True)


def _apply_all(gate: LanguageGate, batch: DocBatch, ctx: UnitContext) -> None:
    """The gate, then its late columns (natural language) on the rows it keeps; a run
    computes those only for the rows that pass every gate."""
    res = gate.apply(batch, ctx)
    if gate.late_fields():
        kept = batch.take(res.passed).with_column("lang", res.columns["lang"].filter(pa.array(res.passed)))
        gate.late_columns(kept, ctx)


if __name__ == "__main__":
    main()
