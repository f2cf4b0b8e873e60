"""Speed of `pack-repos`' per-file import parsing and ordering (pipeline/imports.py).

    python benchmarks/pack_speed.py OUT      # OUT: a codesieve output folder (e.g. of ../shared/corpus/dev)

Prints MB per CPU-second over the passed tiers and the repositories with the most files placed
before one of their dependencies (cycle breaks).
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict

from codesieve.pipeline.imports import dependencies, dependency_order
from codesieve.pipeline.io import output_dataset
from codesieve.pipeline.results import load_manifest, passed_tiers


def main(out: str) -> None:
    t = output_dataset(out, passed_tiers(load_manifest(out))).to_table(columns=["repo_name", "path", "content"])
    repos: dict[str, dict[str, str]] = defaultdict(dict)
    for r, p, c in zip(t["repo_name"].to_pylist(), t["path"].to_pylist(), t["content"].to_pylist()):
        if r and p and c is not None:
            repos[r][p] = c
    mb = sum(len(c.encode()) for files in repos.values() for c in files.values()) / 1e6
    t0 = time.process_time()
    res = []
    for r, files in repos.items():
        order, broken = dependency_order(dependencies(files))
        res.append((broken, len(files), r))
    dt = time.process_time() - t0
    print(f"{sum(n for _, n, _ in res):,} files, {len(repos)} repos, {mb:.1f} MB: {dt:.2f} CPU s = {mb / dt:.1f} MB/s")
    for broken, n, r in sorted(res, reverse=True)[:5]:
        print(f"  {r}: {n} files, {broken} placed before a dependency")


if __name__ == "__main__":
    main(sys.argv[1])
