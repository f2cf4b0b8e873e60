"""Rebuild data_samples/ from the dev corpus (../shared/corpus/dev): whole packages, so
the samples keep a real crawl's mix — several versions of some packages (near-duplicates),
minified bundles, lock files, generated code, test fixtures, docs, and a few rows with
NUL bytes. Run from the repo root: `python data_samples/build_samples.py [CORPUS_DIR]`.
"""

from __future__ import annotations

import glob
import io
import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import zstandard

PACKAGES = [
    "npm/qs@6.9.7", "npm/qs@6.11.2",                      # two versions: near-duplicates
    "npm/validator@13.7.0", "npm/validator@13.11.0",
    "pypi/websockets@10.4", "pypi/websockets@12.0",
    "pypi/more-itertools@9.1.0", "pypi/more-itertools@10.2.0",
    "npm/sortablejs@1.15.2",                              # minified bundles
    "npm/zustand@4.5.1",                                  # TypeScript + generated JS
    "pypi/markdown2@2.4.13",                              # hundreds of fixtures / HTML / text
    "debian/lmdb@0.9.24-1",                               # C
    "debian/golang-github-davecgh-go-spew@1.1.1-3",       # Go
    "debian/ruby-addressable@2.8.1-1",                    # Ruby
    "debian/librust-semver-dev@1.0.14-1",                 # Rust
    "debian/libtry-tiny-perl@0.31-2",                     # Perl
    "debian/php-zend-stdlib@3.16.1-1",                    # PHP
    "debian/haskell-random@1.2.1.1-2",                    # Haskell
]
JSONL_PACKAGES = {"pypi/markdown2@2.4.13", "debian/lmdb@0.9.24-1", "debian/ruby-addressable@2.8.1-1"}


def main(corpus: str = "../shared/corpus/dev") -> None:
    out = Path(__file__).resolve().parent
    table = pq.read_table(sorted(glob.glob(f"{corpus}/*.parquet")))
    nul = pc.match_substring(table.column("content"), "\x00")
    keep = pc.or_(pc.is_in(table.column("repo_name"), pa.array(PACKAGES)), nul)
    table = table.filter(keep).sort_by([("repo_name", "ascending"), ("path", "ascending")])
    in_jsonl = pc.is_in(table.column("repo_name"), pa.array(sorted(JSONL_PACKAGES)))
    parquet_rows = table.filter(pc.invert(in_jsonl))
    half = parquet_rows.num_rows // 2
    for i, part in enumerate([parquet_rows.slice(0, half), parquet_rows.slice(half)]):
        pq.write_table(part, out / f"code-{i:05d}.parquet", compression="zstd", row_group_size=500)
    # the JSONL shard has no `id` column: codesieve must generate stable ids
    buf = io.BytesIO()
    for row in table.filter(in_jsonl).drop_columns(["id"]).to_pylist():
        buf.write(json.dumps(row, ensure_ascii=False).encode() + b"\n")
    (out / "code-00002.jsonl.zst").write_bytes(zstandard.ZstdCompressor(level=19).compress(buf.getvalue()))
    print(f"{table.num_rows} rows, {pc.sum(pc.binary_length(table.column('content'))).as_py() / 1e6:.1f} MB of text")


if __name__ == "__main__":
    main(*sys.argv[1:])
