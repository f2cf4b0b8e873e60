"""The per-row Python loops left on the default hot path, timed on the dev corpus, next to
the whole pipeline's time on the same data. Each is one C hash call per row (xxhash); the
table shows they are not the bottleneck.

    python benchmarks/row_loops.py [--input ../shared/corpus/dev] [--pipeline-seconds S]

The pipeline's time is measured in the same invocation (`codesieve run`, default config,
in-process executor pinned to one core, as benchmarks/pipeline_speed.py does) unless
`--pipeline-seconds` gives a figure measured elsewhere on the same input.
"""

from __future__ import annotations

import argparse
import glob
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from codesieve.filters.dedup.gate import content_hashes
from codesieve.pipeline.io import make_ids
from codesieve.pipeline.manifest import _id_hashes

DEV_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "dev"


def best_of(n: int, fn) -> float:
    times = []
    for _ in range(n):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--input", default=str(DEV_CORPUS))
    ap.add_argument("--pipeline-seconds", type=float, default=None,
                    help="whole-pipeline seconds on the same input, pinned to 1 core (default: measure it now)")
    ap.add_argument("--config", default=str(Path(__file__).resolve().parents[1] / "configs" / "default.yaml"))
    args = ap.parse_args()
    if args.pipeline_seconds is None:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from pipeline_speed import run_once

        args.pipeline_seconds = run_once(args.config, args.input, ["--executor", "local"], pin=True)[0]
    table = pq.read_table(sorted(glob.glob(f"{args.input}/*.parquet")), columns=["id", "content"])
    text = table.column("content").combine_chunks().cast(pa.large_string())
    ids = table.column("id")
    mb = pa.compute.sum(pa.compute.binary_length(text)).as_py() / 1e6
    keys = np.arange(len(text), dtype=np.int64)
    rows = [
        ("stable ids when `id` is absent (io.make_ids)", best_of(3, lambda: make_ids("part-00000.parquet", keys, text))),
        ("exact-dedup digests (dedup content_hashes)", best_of(3, lambda: content_hashes(text))),
        ("id uniqueness hashes at the end (manifest._id_hashes)", best_of(3, lambda: _id_hashes(ids))),
    ]
    print(f"{len(text):,} rows, {mb:,.1f} MB of text; whole pipeline {args.pipeline_seconds:.1f} s on one core "
          f"(wall, in-process executor, {args.config})\n")
    print("| per-row loop | CPU s | rows/s | MB/s | share of pipeline time |")
    print("|---|---|---|---|---|")
    for name, secs in rows:
        print(f"| {name} | {secs:.3f} | {len(text) / secs:,.0f} | {mb / secs:,.0f} | {secs / args.pipeline_seconds:.1%} |")


if __name__ == "__main__":
    main()
