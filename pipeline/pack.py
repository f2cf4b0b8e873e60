"""`codesieve pack-repos`: repository-level samples for long-context training.

Kept files (by default the top tier) are grouped by `repo_name`, ordered dependencies-first
(`pipeline/imports.py`), and written in the Qwen2.5-Coder repository format:

    <|repo_name|>{repo_name}
    <|file_sep|>{path}
    {content}
    <|file_sep|>{path}
    ...

Split rule at `--max-bytes` (UTF-8 bytes of the sample text): files are appended in order
while the sample stays within the budget; the file that would overflow starts a new sample,
which begins again with the `<|repo_name|>` line. A file that alone exceeds the budget is cut
at line boundaries (inside a line only when one line is longer than the budget) into pieces,
each opening its own sample with the same `<|file_sep|>{path}` line. Samples of one
repository carry `part` / `parts` so they can be put back in order.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from codesieve.core.atomic import write_json_atomic, write_parquet_atomic
from codesieve.core.errors import UserError
from codesieve.pipeline.imports import dependencies, dependency_order
from codesieve.pipeline.io import output_dataset
from codesieve.pipeline.results import load_manifest, passed_tiers, read_columns, tier_names

REPO, SEP = "<|repo_name|>", "<|file_sep|>"
HELP = """Pack kept files into repository-level samples (Qwen2.5-Coder format), files ordered
dependencies-first (imports of Python, JS/TS, C/C++, Java, Go, Rust; cycles broken
deterministically, as DeepSeek-Coder), split at --max-bytes."""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("pack-repos", help="repository-level samples in the Qwen2.5-Coder format",
                       description=HELP)
    p.add_argument("--input", required=True, help="a codesieve output folder")
    p.add_argument("--output", required=True, help="folder for part-NNNNN.parquet and pack.json")
    p.add_argument("--tiers", default=None,
                   help="comma-separated tier numbers or names to pack (default: the passed tiers)")
    p.add_argument("--max-bytes", type=int, default=128 * 1024,
                   help="maximum UTF-8 bytes per sample (default 131072, ~32k tokens at 4 bytes/token)")
    p.add_argument("--shard-rows", type=int, default=1000, help="samples per output shard")
    p.set_defaults(func=cmd_pack)
    return p


def cmd_pack(args: argparse.Namespace) -> int:
    if args.max_bytes < 256:
        raise UserError("--max-bytes: must be at least 256")
    m = pack(args.input, args.output, args.tiers, args.max_bytes, args.shard_rows)
    print(f"{m['repos']:,} repositories, {m['files']:,} files -> {m['samples']:,} samples "
          f"({m['split_files']:,} files split, {m['cycles_broken']:,} cycle breaks) in {args.output}")
    return 0


def _tiers(manifest: dict[str, Any], spec: str | None) -> list[int]:
    names = tier_names(manifest)
    if not spec:
        return passed_tiers(manifest)
    by_name = {v: k for k, v in names.items()}
    out = []
    for item in (s.strip() for s in spec.split(",") if s.strip()):
        tier = int(item) if item.isdigit() else by_name.get(item)
        if tier is None:
            raise UserError(f"--tiers {item}: no such tier ({', '.join(f'{k}={v}' for k, v in sorted(names.items()))})")
        out.append(tier)
    return out


def _pieces(text: str, budget: int) -> list[str]:
    """`text` cut into pieces of at most `budget` UTF-8 bytes, at line ends when possible."""
    pieces, cur, size = [], [], 0
    for line in text.splitlines(keepends=True):
        n = len(line.encode())
        while n > budget:  # a single over-long line: cut it by bytes (on a character boundary)
            if cur:
                pieces.append("".join(cur))
                cur, size = [], 0
            head = line.encode()[:budget].decode("utf-8", "ignore")
            pieces.append(head)
            line = line[len(head):]
            n = len(line.encode())
        if size + n > budget and cur:
            pieces.append("".join(cur))
            cur, size = [], 0
        cur.append(line)
        size += n
    if cur or not pieces:
        pieces.append("".join(cur))
    return pieces


def repo_samples(repo: str, files: list[tuple[str, str]], max_bytes: int) -> tuple[list[dict[str, Any]], int]:
    """Samples (text, paths, bytes) of one repository, whose files are already in order."""
    head = f"{REPO}{repo}\n"
    samples: list[dict[str, Any]] = []
    cur, paths = head, []
    split = 0
    for path, content in files:
        block = f"{SEP}{path}\n{content}"
        if not content.endswith("\n"):
            block += "\n"
        if len((cur + block).encode()) <= max_bytes:
            cur, paths = cur + block, paths + [path]
            continue
        if paths:
            samples.append({"text": cur, "paths": paths})
        cur, paths = head, []
        if len((head + block).encode()) <= max_bytes:
            cur, paths = head + block, [path]
            continue
        split += 1
        budget = max_bytes - len(f"{head}{SEP}{path}\n".encode())
        if budget < 64:
            raise UserError(f"--max-bytes {max_bytes}: too small for the headers of {repo} {path}")
        for piece in _pieces(block[len(f"{SEP}{path}\n"):], budget):
            samples.append({"text": f"{head}{SEP}{path}\n{piece}", "paths": [path]})
    if paths:
        samples.append({"text": cur, "paths": paths})
    return samples, split


def pack(inp: str, dest: str, tiers: str | None = None, max_bytes: int = 128 * 1024,
         shard_rows: int = 1000) -> dict[str, Any]:
    """Write DEST/part-NNNNN.parquet samples and DEST/pack.json; returns the pack manifest."""
    manifest = load_manifest(inp)
    chosen = _tiers(manifest, tiers)
    text_col = manifest.get("config", {}).get("input", {}).get("text_column", "content")
    t = read_columns(output_dataset(inp, chosen), ["repo_name", "path", text_col])
    no_repo = int(pc.sum(pc.or_(pc.is_null(t["repo_name"]), pc.is_null(t["path"]))).as_py() or 0)
    t = t.filter(pc.and_(pc.and_(pc.is_valid(t["repo_name"]), pc.is_valid(t["path"])), pc.is_valid(t[text_col])))
    t = t.sort_by([("repo_name", "ascending"), ("path", "ascending")])
    repos = t["repo_name"].to_pylist()
    paths, texts = t["path"].to_pylist(), t[text_col].to_pylist()
    rows: list[dict[str, Any]] = []
    stats = {"repos": 0, "files": 0, "split_files": 0, "cycles_broken": 0, "edges": 0, "duplicate_paths": 0}
    start = 0
    while start < len(repos):
        end = start
        while end < len(repos) and repos[end] == repos[start]:
            end += 1
        files = dict(zip(paths[start:end], texts[start:end]))  # a repeated path: the last copy
        stats["duplicate_paths"] += (end - start) - len(files)
        deps = dependencies(files)
        order, broken = dependency_order(deps)
        samples, split = repo_samples(repos[start], [(p, files[p]) for p in order], max_bytes)
        for i, s in enumerate(samples):
            rows.append({"repo_name": repos[start], "part": i, "parts": len(samples), "text": s["text"],
                         "paths": s["paths"], "bytes": len(s["text"].encode())})
        stats["repos"] += 1
        stats["files"] += len(files)
        stats["split_files"] += split
        stats["cycles_broken"] += broken
        stats["edges"] += sum(len(v) for v in deps.values())
        start = end
    _write(rows, dest, shard_rows)
    out = {"input": inp, "tiers": chosen, "max_bytes": max_bytes, "format": f"{REPO}name / {SEP}path",
           "samples": len(rows), "rows_without_repo_or_path": no_repo, **stats,
           "shards": sorted(f for f in os.listdir(dest) if f.startswith("part-"))}
    write_json_atomic(out, os.path.join(dest, "pack.json"))
    return out


def _write(rows: list[dict[str, Any]], dest: str, shard_rows: int) -> None:
    os.makedirs(dest, exist_ok=True)
    for f in os.listdir(dest):
        if f.startswith("part-") and f.endswith(".parquet"):
            os.remove(os.path.join(dest, f))
    schema = pa.schema([("repo_name", pa.string()), ("part", pa.int32()), ("parts", pa.int32()),
                        ("text", pa.large_string()), ("paths", pa.list_(pa.string())), ("bytes", pa.int64())])
    table = pa.Table.from_pylist(rows, schema=schema)
    for i, s in enumerate(range(0, max(table.num_rows, 1), shard_rows)):
        write_parquet_atomic(table.slice(s, shard_rows), os.path.join(dest, f"part-{i:05d}.parquet"))
