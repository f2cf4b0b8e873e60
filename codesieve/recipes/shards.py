"""Corpus shards per split and the manifest that counts them."""

from __future__ import annotations

import glob
import os
from collections import defaultdict

import pyarrow as pa
import pyarrow.compute as pc

from codesieve.core.atomic import write_parquet_atomic
from codesieve.recipes.extract import MAX_FILE_BYTES, NUL_PROBE_BYTES
from codesieve.recipes.pinlist import SPLITS, Pin

COMPRESSION_LEVEL = 9  # zstd; 19 (the dev corpus) costs ~5x the CPU for ~10% smaller files
ROW_GROUP_ROWS = 5_000


class ShardWriter:
    """Appends package tables per split; writes `OUT/<split>/part-NNNNN.parquet` every `rows` rows."""

    def __init__(self, out_dir: str, rows: int) -> None:
        self.out_dir, self.rows = out_dir, rows
        self.buffers: dict[str, list[pa.Table]] = {s: [] for s in SPLITS}
        self.buffered = dict.fromkeys(SPLITS, 0)
        self.shards: list[dict] = []
        self.by_split: dict[str, dict] = {s: {"rows": 0, "bytes": 0, "by_language": defaultdict(lambda: [0, 0])}
                                          for s in SPLITS}
        for split in SPLITS:  # a rerun with a shorter list leaves no stale shard behind
            for old in glob.glob(os.path.join(out_dir, split, "part-*.parquet")):
                os.remove(old)

    def add(self, split: str, table: pa.Table) -> None:
        """Buffer one package's rows; flush full shards."""
        self.buffers[split].append(table)
        self.buffered[split] += table.num_rows
        counts = self.by_split[split]
        counts["rows"] += table.num_rows
        counts["bytes"] += pc.sum(table["size"]).as_py() or 0
        groups = table.group_by("language").aggregate([("size", "sum"), ("size", "count")])
        for lang, nbytes, nrows in zip(*(groups[c].to_pylist() for c in ("language", "size_sum", "size_count"))):
            counts["by_language"][lang][0] += nrows
            counts["by_language"][lang][1] += nbytes
        while self.buffered[split] >= self.rows:
            self._flush(split, self.rows)

    def _flush(self, split: str, n: int) -> None:
        table = pa.concat_tables(self.buffers[split])
        head, rest = table.slice(0, n), table.slice(n)
        index = sum(1 for s in self.shards if s["split"] == split)
        name = os.path.join(split, f"part-{index:05d}.parquet")
        write_parquet_atomic(head, os.path.join(self.out_dir, name), COMPRESSION_LEVEL, ROW_GROUP_ROWS)
        self.shards.append({"split": split, "file": name, "rows": head.num_rows,
                            "bytes_on_disk": os.path.getsize(os.path.join(self.out_dir, name))})
        self.buffers[split] = [rest] if rest.num_rows else []
        self.buffered[split] = rest.num_rows

    def close(self) -> list[dict]:
        """Write the partial last shard of each split; returns the shard list."""
        for split in SPLITS:
            if self.buffered[split]:
                self._flush(split, self.buffered[split])
        return self.shards


def corpus_manifest(list_path: str, pins: list[Pin], packages: list[dict], failed: dict,
                    shards: list[dict], by_split: dict, ratios: tuple[float, float, float]) -> dict:
    """Everything a consumer needs to trust the corpus: rules, counts per split and language, failures."""
    splits = {}
    for split in SPLITS:
        pk = [p for p in packages if p["split"] == split]
        langs = sorted(by_split[split]["by_language"].items(), key=lambda kv: (-kv[1][1], kv[0]))
        splits[split] = {"packages": len({(p["source"], p["name"]) for p in pk}), "package_versions": len(pk),
                         "rows": by_split[split]["rows"], "bytes": by_split[split]["bytes"],
                         "by_language": {k: {"rows": v[0], "bytes": v[1]} for k, v in langs}}
    skipped: dict[str, int] = defaultdict(int)
    for p in packages:
        for reason, count in p["skipped"].items():
            skipped[reason] += count
    return {
        "list": os.path.basename(list_path),
        "columns": ["id", "content", "path", "repo_name", "source", "ext", "language", "size",
                    "package", "version", "popularity", "split"],
        "rules": {"max_file_bytes": MAX_FILE_BYTES, "binary_if_nul_in_first_bytes": NUL_PROBE_BYTES,
                  "decode": "utf-8 errors=replace", "id": "sha256(repo_name + '/' + path) hex, first 32",
                  "split": "sha256(registry NUL package) -> train/dev/test by ratios; Debian binary "
                           "packages by their source package", "ratios": list(ratios),
                  "order": "packages by sha256(repo_name), files by path",
                  "parquet": {"compression": "zstd", "compression_level": COMPRESSION_LEVEL,
                              "row_group_rows": ROW_GROUP_ROWS}},
        "totals": {"pinned": len(pins), "package_versions_ok": len(packages), "failed": len(failed),
                   "rows": sum(s["rows"] for s in splits.values()),
                   "bytes": sum(s["bytes"] for s in splits.values()),
                   "files_seen": sum(p["files_seen"] for p in packages),
                   "skipped_by_reason": dict(sorted(skipped.items())), "shards": len(shards)},
        "splits": splits,
        "failed": dict(sorted(failed.items())),
        "shards": shards,
        "packages": packages,
    }
