"""CPU of writing an output folder's tier files again, with codesieve's options and variants.

    python benchmarks/write_speed.py OUT [--repeat 3]

Reads every `OUT/tier=K/part-*.parquet`, then writes each to memory with `pq.write_table`:
codesieve's own options (`codesieve.core.atomic.parquet_options`, zstd level 3) and variants
(zstd 1, LZ4, uncompressed, no statistics, no dictionary, no page index). Prints CPU seconds
(best of --repeat), ms per MB of text and the bytes written.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from codesieve.core.atomic import parquet_options

Options = Callable[[pa.Table], dict[str, Any]]


def _ours(t: pa.Table) -> dict[str, Any]:
    return parquet_options(t, 3, 10_000)


def _codec(codec: str) -> Options:
    return lambda t: {k: v for k, v in _ours(t).items() if k != "compression_level"} | {"compression": codec}


VARIANTS: dict[str, Options] = {
    "codesieve (zstd 3)": _ours,
    "zstd 1": lambda t: _ours(t) | {"compression_level": 1},
    "lz4": _codec("lz4"),
    "uncompressed": _codec("none"),
    "no statistics": lambda t: _ours(t) | {"write_statistics": False},
    "no dictionary": lambda t: _ours(t) | {"use_dictionary": False},
    "no page index": lambda t: _ours(t) | {"write_page_index": False},
}


def timed(tables: list[pa.Table], options: Options, repeat: int) -> tuple[float, int]:
    """(least CPU seconds over `repeat` writes of every table, bytes written)."""
    best, size = float("inf"), 0
    for _ in range(repeat):
        t0, size = time.process_time(), 0
        for t in tables:
            buf = pa.BufferOutputStream()
            pq.write_table(t, buf, **options(t))
            size += buf.getvalue().size
        best = min(best, time.process_time() - t0)
    return best, size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--text-column", default="content")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    tables = [pq.read_table(f) for f in sorted(Path(args.out).glob("tier=*/part-*.parquet"))]
    if not tables:
        raise SystemExit(f"{args.out}: no tier files")
    mb = sum(pc.sum(pc.binary_length(pc.fill_null(t.column(args.text_column), ""))).as_py() or 0
             for t in tables) / 1e6
    print(f"{len(tables)} tier files, {mb:,.1f} MB of text\n")
    print("| options | CPU s | ms per MB | MB written |")
    print("|---|--:|--:|--:|")
    for name, options in VARIANTS.items():
        cpu, size = timed(tables, options, args.repeat)
        print(f"| {name} | {cpu:.2f} | {1000 * cpu / mb:.1f} | {size / 1e6:.1f} |")


if __name__ == "__main__":
    main()
