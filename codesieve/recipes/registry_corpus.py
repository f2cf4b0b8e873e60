"""Build a training corpus from pinned public packages: `python -m codesieve.recipes.registry_corpus`.

    python -m codesieve.recipes.registry_corpus --list codesieve/recipes/lists/langid.tsv \\
        --out /work/regcorpus/langid --jobs 2

Fetches each pinned package version (training time only; cached under `OUT/_downloads`),
extracts every text file like a raw crawl (`recipes.extract`), labels it with a file labeller
(default: the crawl label of `codesieve.filters.langid.crawl`, passed by name so this layer
imports only `codesieve.core`), and writes `OUT/{train,dev,test}/part-NNNNN.parquet` (zstd,
`rows_per_shard` rows) plus `OUT/manifest.json`. Columns: those of the dev corpus (`id`,
`content`, `path`, `repo_name`, `source`, `ext`, `language`, `size`) plus `package`,
`version`, `popularity` and `split`; `OUT/SUMMARY.txt` says how to read it and counts rows per
language and split. Same list + code => byte-identical shards.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pyarrow as pa
import pyarrow.parquet as pq

from codesieve.core.atomic import write_json_atomic, write_parquet_atomic
from codesieve.core.errors import UserError
from codesieve.recipes import extract as ex
from codesieve.recipes.fetch import FetchError, fetch, pin_dir
from codesieve.recipes.pinlist import (
    DEFAULT_RESERVED,
    Pin,
    load_reserved,
    read_list,
    refuse_reserved,
    reserved_keys,
    split_of,
)
from codesieve.recipes.shards import ShardWriter, corpus_manifest
from codesieve.recipes.summary import summary_text

DEFAULT_LABELLER = "codesieve.filters.langid.crawl:crawl_language"
Labeller = Callable[[str, str], str]
HEAD_CHARS = 256  # what a labeller sees of the content: enough for a shebang line


def resolve_labeller(spec: str) -> Labeller:
    """`module:function` -> the function; UserError naming --labeller when it is not there."""
    module, _, func = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), func)
    except (ImportError, AttributeError, ValueError):
        raise UserError(f"--labeller {spec!r}: no function {func!r} in module {module!r} "
                        "(expected module:function)") from None


def _extracted_path(out_dir: str, pin: Pin) -> str:
    return pin_dir(os.path.join(out_dir, "_extracted"), pin) + ".parquet"


def extract_cached(pin: Pin, out_dir: str, cache_dir: str, kind: str) -> dict:
    """Extract one fetched pin into `_extracted/` (reused on reruns); returns its stats."""
    target = _extracted_path(out_dir, pin)
    stats_path = target + ".json"
    if os.path.exists(stats_path):
        with open(stats_path, encoding="utf-8") as fh:
            return json.load(fh)
    got = ex.extract_package(pin_dir(cache_dir, pin), kind)
    write_parquet_atomic(got.table(), target, compression_level=1)
    stats = {"files_seen": got.files_seen, "skipped": dict(sorted(got.skipped.items())),
             "skipped_bytes": dict(sorted(got.skipped_bytes.items()))}
    write_json_atomic(stats, stats_path)
    return stats


def _fetch_all(pins: list[Pin], cache_dir: str, jobs: int, reserved: set) -> tuple[dict, dict]:
    """Download every pin (threads); returns ({pin: record}, {repo_name: error})."""
    records, failed = {}, {}

    def one(pin: Pin) -> tuple[Pin, dict | None, str | None]:
        try:
            return pin, fetch(pin, cache_dir), None
        except FetchError as exc:
            return pin, None, str(exc)

    with ThreadPoolExecutor(max_workers=4 * max(1, jobs)) as pool:
        for i, (pin, rec, err) in enumerate(pool.map(one, pins), 1):
            if rec and any(k in reserved for k in reserved_keys(pin, rec.get("debian_source"))):
                err, rec = f"reserved: built from Debian source package {rec.get('debian_source')}", None
            if err:
                failed[pin.repo_name] = err
                print(f"[fetch {i}/{len(pins)}] FAILED {pin.repo_name}: {err}", file=sys.stderr)
            else:
                records[pin] = rec
    return records, failed


def _extract_all(records: dict, out_dir: str, cache_dir: str, jobs: int, failed: dict) -> dict:
    """Extract every fetched pin (processes); returns {pin: stats}; failures go to `failed`."""
    stats = {}
    with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pin: pool.submit(extract_cached, pin, out_dir, cache_dir, rec["kind"]) for pin, rec in records.items()}
        for pin, fut in sorted(futures.items()):
            try:
                stats[pin] = fut.result()
            except (OSError, EOFError, ValueError, RuntimeError) as exc:
                failed[pin.repo_name] = f"extract: {type(exc).__name__}: {exc}"
                print(f"[extract] FAILED {pin.repo_name}: {exc}", file=sys.stderr)
    return stats


def package_rows(pin: Pin, table: pa.Table, labeller: Labeller, split: str) -> pa.Table:
    """The corpus rows of one package: cached (path, content, size) plus ids, labels and pin fields."""
    paths = table["path"].to_pylist()
    contents = table["content"].to_pylist()
    names = [p.rsplit("/", 1)[-1] for p in paths]
    n = len(paths)
    return pa.table({
        "id": [hashlib.sha256(f"{pin.repo_name}/{p}".encode()).hexdigest()[:32] for p in paths],
        "content": table["content"],
        "path": table["path"],
        "repo_name": [pin.repo_name] * n,
        "source": [pin.registry] * n,
        "ext": [nm.rsplit(".", 1)[1].lower() if "." in nm.lstrip(".") else "" for nm in names],
        "language": [labeller(p, c[:HEAD_CHARS]) for p, c in zip(paths, contents)],
        "size": table["size"],
        "package": [pin.name] * n,
        "version": [pin.version] * n,
        "popularity": pa.array([pin.popularity] * n, pa.float64()),
        "split": [split] * n,
    })


def build(list_path: str, out_dir: str, jobs: int = 2, reserved_path: str | None = DEFAULT_RESERVED,
          ratios: tuple[float, float, float] = (0.8, 0.1, 0.1), labeller: Labeller | None = None,
          rows_per_shard: int = 20_000, cache_dir: str | None = None, fetch_only: bool = False) -> dict:
    """Fetch, extract and write the corpus; returns the manifest (also written to OUT/manifest.json)."""
    t0 = time.time()
    pins = read_list(list_path)
    reserved = load_reserved(reserved_path)
    refuse_reserved(pins, reserved, reserved_path or "")
    labeller = labeller or resolve_labeller(DEFAULT_LABELLER)
    cache_dir = cache_dir or os.path.join(out_dir, "_downloads")
    records, failed = _fetch_all(pins, cache_dir, jobs, reserved)
    t_fetch = time.time() - t0
    if fetch_only:
        print(f"fetched {len(records)} of {len(pins)} in {t_fetch:.0f}s; failed: {failed}", file=sys.stderr)
        return {"fetched": len(records), "failed": failed}
    stats = _extract_all(records, out_dir, cache_dir, jobs, failed)
    writer = ShardWriter(out_dir, rows_per_shard)
    packages = []
    for pin in sorted(stats, key=lambda p: hashlib.sha256(p.repo_name.encode()).hexdigest()):
        rec = records[pin]
        split = split_of(pin.registry, rec.get("debian_source") or pin.name, ratios)
        rows = package_rows(pin, pq.read_table(_extracted_path(out_dir, pin)), labeller, split)
        writer.add(split, rows)
        packages.append({"source": pin.source, "kind": rec["kind"], "name": pin.name, "version": pin.version,
                         "repo_name": pin.repo_name, "split": split, "popularity": pin.popularity,
                         "debian_source": rec.get("debian_source"), "artifacts": rec["artifacts"],
                         "rows": rows.num_rows, "bytes": sum(rows["size"].to_pylist()), **stats[pin]})
    shards = writer.close()
    manifest = corpus_manifest(list_path, pins, packages, failed, shards, writer.by_split, ratios)
    write_json_atomic(manifest, os.path.join(out_dir, "manifest.json"))
    with open(os.path.join(out_dir, "SUMMARY.txt"), "w", encoding="utf-8") as fh:
        fh.write(summary_text(manifest, out_dir))
    print(f"fetch {t_fetch:.0f}s, total {time.time() - t0:.0f}s; {manifest['totals']}", file=sys.stderr)
    return manifest


def _ratios(text: str) -> tuple[float, float, float]:
    try:
        vals = tuple(float(x) for x in text.split(","))
    except ValueError:
        vals = ()
    if len(vals) != 3 or min(vals) < 0 or sum(vals) <= 0:
        raise UserError(f"--ratios {text!r}: expected three non-negative numbers train,dev,test (e.g. 0.8,0.1,0.1)")
    return vals  # type: ignore[return-value]


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; user mistakes print one line and exit 2."""
    ap = argparse.ArgumentParser(prog="python -m codesieve.recipes.registry_corpus", description=__doc__.split("\n")[0])
    ap.add_argument("--list", required=True, help="pinned list: source<TAB>name<TAB>version<TAB>popularity")
    ap.add_argument("--out", required=True, help="output folder (downloads are cached in OUT/_downloads)")
    ap.add_argument("--jobs", type=int, default=2, help="extraction processes (downloads use 4x as many threads)")
    ap.add_argument("--reserved", default=DEFAULT_RESERVED, help="RESERVED file: '<source> <name>' lines")
    ap.add_argument("--ratios", default="0.8,0.1,0.1", help="train,dev,test shares of packages")
    ap.add_argument("--labeller", default=DEFAULT_LABELLER, help="module:function(path, head) -> language")
    ap.add_argument("--rows-per-shard", type=int, default=20_000)
    ap.add_argument("--cache", help="download cache, shareable between corpora (default OUT/_downloads)")
    ap.add_argument("--fetch-only", action="store_true", help="download into the cache, write no corpus")
    args = ap.parse_args(argv)
    try:
        build(args.list, args.out, args.jobs, args.reserved, _ratios(args.ratios),
              resolve_labeller(args.labeller), args.rows_per_shard, args.cache, args.fetch_only)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
