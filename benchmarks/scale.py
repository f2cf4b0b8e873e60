"""Load test: throughput and the peak RSS of every process at two (or more) corpus sizes.

Builds a corpus of N rows from real shards (default ../shared/corpus/dev) by resampling
them with small deterministic edits, so the near-duplicate structure is realistic: copy 0
of a file is the original; copy k > 0 is an exact duplicate (1 in 5), or the original with
one inserted line, or with one word changed (a "fork" in repository `<repo>-fork<k>`).
Then runs `codesieve run --config default` (embedded Ray, 2 workers) over a prefix of it
per size, samples the RSS of the driver and of every process under it (Ray's GCS, raylet,
each worker) every 0.2 s, and prints a markdown table, whether the workers' peak RSS is
flat with corpus size, and the driver's peak RSS growth per input row (bytes/row).

    nice -n 19 python benchmarks/scale.py --sizes 250000,1000000 [--workers 2]
        [--source DIR] [--scratch DIR] [--keep] [--reuse] [--dedup-cpu]
    nice -n 10 python benchmarks/scale.py --mode unique --sizes 1x,4x,16x --dedup-cpu

That resampled corpus has near-duplicate components of ~N / (source rows) members, so its
duplicate rate grows with N. `--mode unique` builds one with a fixed duplicate rate instead
(`scale_unique.py`: copy k of the source with its tokens renamed by a seeded bijection,
15% of each copy's rows copies of earlier rows of that copy); sizes are then whole copies
of the source ("4x", or rows rounded up). `--dedup-cpu` reruns each run's global dedup
step in this process on the run's key files (local executor: CPU seconds per step, which
the manifest gives only for the driver under Ray) and checks its verdicts are the run's.

Sizes are rounded up to whole shards (--shard-rows, default 25,000). The corpus is built
once for the largest size; smaller sizes are its first shards (hard links), so every size
is a prefix of the next. The corpus and the outputs are deleted unless --keep.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = ROOT.parent / "shared" / "corpus" / "dev"
EXACT_SHARE = 0.2  # of the copies k > 0: exact duplicates; the rest get one small edit
FLAT_TOLERANCE = 1.15  # worker peak RSS at the largest size / at the smallest: "flat" below this


# ------------------------------------------------------------------------------------
# corpus


def load_source(source: Path) -> pa.Table:
    """All rows of the source shards, in file order."""
    files = sorted(source.glob("*.parquet"))
    if not files:
        raise SystemExit(f"{source}: no .parquet shards")
    return pa.concat_tables([pq.read_table(f) for f in files]).combine_chunks()


def _edit(text: str, k: int, rng: np.random.Generator) -> str:
    """One small deterministic edit of `text` for copy k: insert a line, or change one word."""
    if not text or rng.random() < 0.5:
        at = text.find("\n", int(rng.integers(len(text) + 1)))
        at = len(text) if at < 0 else at + 1
        return f"{text[:at]}// fork {k}\n{text[at:]}"
    at = int(rng.integers(len(text)))
    end = at
    while end < len(text) and text[end].isalnum():  # to the end of the word `at` is in
        end += 1
    return f"{text[:end]}_{k}{text[end:]}"


def resample(src: pa.Table, start: int, stop: int, seed: int, text_column: str) -> pa.Table:
    """Rows start..stop of the resampled corpus: row i is copy i // N of source row perm[i % N]."""
    n = src.num_rows
    perm = np.random.default_rng(seed).permutation(n)
    idx = np.arange(start, stop)
    copy = idx // n
    table = src.take(pa.array(perm[idx % n]))
    texts = table.column(text_column).to_pylist()
    ids = table.column("id").to_pylist() if "id" in table.column_names else [str(i) for i in idx]
    repos = table.column("repo_name").to_pylist() if "repo_name" in table.column_names else None
    for j, (i, k) in enumerate(zip(idx.tolist(), copy.tolist())):
        if k == 0:
            continue
        ids[j] = f"{ids[j]}-{k}"
        if repos is not None:
            repos[j] = f"{repos[j]}-fork{k}"
        rng = np.random.default_rng([seed, i])
        if texts[j] is not None and rng.random() >= EXACT_SHARE:
            texts[j] = _edit(texts[j], k, rng)
    table = table.set_column(table.schema.get_field_index(text_column), text_column,
                             pa.array(texts, table.schema.field(text_column).type))
    if "id" in table.column_names:
        table = table.set_column(table.schema.get_field_index("id"), "id", pa.array(ids, pa.string()))
    if repos is not None:
        table = table.set_column(table.schema.get_field_index("repo_name"), "repo_name",
                                 pa.array(repos, table.schema.field("repo_name").type))
    return table


def build_corpus(source: Path, dst: Path, rows: int, shard_rows: int, seed: int, text_column: str) -> list[Path]:
    """Shards of the resampled corpus in dst (reused when already there); returns their paths."""
    dst.mkdir(parents=True, exist_ok=True)
    n_shards = math.ceil(rows / shard_rows)
    paths = [dst / f"part-{s:05d}.parquet" for s in range(n_shards)]
    missing = [s for s, p in enumerate(paths) if not p.exists()]
    if not missing:
        return paths
    src = load_source(source)
    t0 = time.perf_counter()
    for s in missing:
        table = resample(src, s * shard_rows, (s + 1) * shard_rows, seed, text_column)
        tmp = paths[s].with_suffix(".tmp")
        pq.write_table(table, tmp, compression="zstd", compression_level=3, row_group_size=5000)
        os.replace(tmp, paths[s])
        print(f"  built {paths[s].name} ({(s + 1) * shard_rows:,} rows, {time.perf_counter() - t0:.0f} s)",
              file=sys.stderr)
    return paths


def prefix_input(shards: list[Path], n_shards: int, dst: Path) -> Path:
    """A folder holding hard links to the first n_shards shards."""
    shutil.rmtree(dst, ignore_errors=True)
    dst.mkdir(parents=True)
    for p in shards[:n_shards]:
        os.link(p, dst / p.name)
    return dst


# ------------------------------------------------------------------------------------
# measuring


def _role(proc: psutil.Process, driver: int) -> str:
    """driver / worker / gcs_server / raylet / other Ray process, from its command line."""
    if proc.pid == driver:
        return "driver"
    try:
        cmd = " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return "gone"
    if "default_worker.py" in cmd or proc.name().startswith("ray::"):
        return "worker"
    for name in ("gcs_server", "raylet", "log_monitor", "dashboard", "runtime_env"):
        if name in cmd:
            return name
    return "other"


def _vm_hwm(pid: int) -> int:
    """The kernel's peak RSS of this one process (VmHWM, bytes); 0 once it is gone.

    Exact up to the last sampling period, and unlike wait4's ru_maxrss it excludes the
    descendants the process reaped (embedded Ray's workers are the driver's descendants)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class RssSampler(threading.Thread):
    """Peak RSS (bytes) of a process and all its descendants, by pid, sampled every `period` s."""

    def __init__(self, pid: int, period: float = 0.2, progress: Path | None = None, out: Path | None = None):
        super().__init__(daemon=True)
        self.pid, self.period = pid, period
        self.progress, self.out = progress, out  # interim figures every 10 s (for a run cut short)
        self._t0 = time.perf_counter()
        self.peak: dict[int, int] = {}
        self.role: dict[int, str] = {}
        self.driver_hwm = 0  # the driver's own VmHWM (kernel peak RSS, bytes), last read
        self._stop_event = threading.Event()

    def run(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._stop_event.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            self.driver_hwm = max(self.driver_hwm, _vm_hwm(self.pid))
            for proc in procs:
                try:
                    rss = proc.memory_info().rss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                if proc.pid not in self.role:
                    self.role[proc.pid] = _role(proc, self.pid)
                self.peak[proc.pid] = max(rss, self.peak.get(proc.pid, 0))
            if self.progress is not None and len(self.peak) and int(time.perf_counter() * 5) % 50 == 0:
                self._dump()
            self._stop_event.wait(self.period)

    def _dump(self) -> None:
        """Elapsed seconds, units done per pass, peak RSS (MB) per role so far: progress.json."""
        done = {}
        if self.out is not None:
            for d in sorted((self.out / ".codesieve" / "work" / "done").glob("pass*")):
                done[d.name] = len(list(d.glob("*.json")))
            done["dedup"] = (self.out / ".codesieve" / "work" / "global" / "dedup" / "done.json").exists()
        roles = {r: [round(b / 2**20) for b in self.by_role(r)] for r in set(self.role.values())}
        assert self.progress is not None
        self.progress.write_text(json.dumps({"elapsed_s": round(time.perf_counter() - self._t0), "done": done,
                                             "peak_mb": roles}, indent=1))

    def stop(self) -> None:
        self._stop_event.set()
        self.join()

    def by_role(self, role: str) -> list[int]:
        return sorted((self.peak[p] for p, r in self.role.items() if r == role), reverse=True)


def run_size(inp: Path, out: Path, workers: int, progress: Path | None = None) -> dict:
    """One fresh `codesieve run --config default` over inp; wall time, manifest and RSS peaks."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "codesieve", "run", "--config", "default", "--input", str(inp),
           "--output", str(out), "--workers", str(workers), "--quiet"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT)
    sampler = RssSampler(proc.pid, progress=progress, out=out)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    sampler.stop()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"run failed: {' '.join(cmd)}")
    manifest = json.loads((out / ".codesieve" / "manifest.json").read_text())
    return {
        "wall": wall, "manifest": manifest,
        "driver_mb": sampler.driver_hwm / 2**20,  # the driver's own kernel peak (VmHWM)
        "tree_maxrss_mb": usage.ru_maxrss / 1024,  # wait4: max over the driver and every descendant it reaped
        "workers_mb": [b / 2**20 for b in sampler.by_role("worker")],
        "ray_mb": {r: max(sampler.by_role(r), default=0) / 2**20 for r in ("gcs_server", "raylet")},
        "task_peak_mb": max(manifest.get("peak_rss_mb", {}).values(), default=0.0),
    }


# ------------------------------------------------------------------------------------
# report


def report(results: list[tuple[int, dict]], workers: int) -> None:
    """The table, then: are the unit tasks' worker peaks flat, and the driver's growth per row.

    The manifest's per-pass peak is the worker's lifetime peak (ru_maxrss) when the pass
    ends: pass 0 covers only unit tasks; later passes also cover the global dedup tasks."""
    print("| rows | MB of text | wall s | pipeline s (pass 0 / dedup / pass 1) | rows/s | MB/s | driver peak MB | "
          "worker peak MB, each (sampled) | worker peak MB after pass 0 / pass 1 (manifest) | GCS / raylet MB | "
          "rows in top tier |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for _rows, r in results:
        m = r["manifest"]
        t = m.get("timings", {})
        each = ", ".join(f"{x:,.0f}" for x in r["workers_mb"] if x >= 100)  # idle prestarted workers left out
        peaks = " / ".join(f"{v:,.0f}" for v in m.get("peak_rss_mb", {}).values())
        top = max(int(k) for k in m["tiers"])
        print(f"| {m['rows_in']:,} | {m['bytes_in'] / 1e6:,.0f} | {r['wall']:,.0f} | {t.get('total', 0):,.0f} "
              f"({t.get('pass0', 0):,.0f} / {t.get('global:dedup', 0):,.0f} / {t.get('pass1', 0):,.0f}) | "
              f"{m['rows_in'] / r['wall']:,.0f} | {m['bytes_in'] / 1e6 / r['wall']:.2f} | {r['driver_mb']:,.0f} | "
              f"{each} | {peaks} | {r['ray_mb']['gcs_server']:,.0f} / {r['ray_mb']['raylet']:,.0f} | "
              f"{m['tiers'][str(top)]['rows']:,} |")
    for _rows, r in results:
        d = r["manifest"].get("global", {}).get("dedup", {})
        if d:
            print(f"dedup step at {r['manifest']['rows_in']:,} rows: {d['docs']:,} documents, "
                  f"{d['candidates']:,} LSH candidates, seconds {d['seconds']}; driver held "
                  f"{d['driver_bytes'] / 2**20:,.1f} MB of task results ({d['driver_bytes'] / max(d['docs'], 1):,.0f} "
                  "bytes per document)")
    (a_rows, a), (b_rows, b) = results[0], results[-1]
    if a_rows == b_rows:
        return
    ua, ub = a["manifest"]["peak_rss_mb"]["pass0"], b["manifest"]["peak_rss_mb"]["pass0"]
    wa, wb = max(a["workers_mb"], default=0), max(b["workers_mb"], default=0)
    flat = ub <= ua * FLAT_TOLERANCE
    growth = (b["driver_mb"] - a["driver_mb"]) * 2**20 / (b["manifest"]["rows_in"] - a["manifest"]["rows_in"])
    print(f"\nworkers ({workers}), unit tasks (pass 0): peak RSS {ua:,.0f} -> {ub:,.0f} MB for {b_rows / a_rows:.1f}x "
          f"the rows: {'FLAT' if flat else 'GROWS'} (flat = within {FLAT_TOLERANCE:.2f}x)")
    print(f"workers, whole run incl. the global dedup tasks (sampled): {wa:,.0f} -> {wb:,.0f} MB ({wb / wa:.2f}x)")
    print(f"driver: peak RSS {a['driver_mb']:,.0f} -> {b['driver_mb']:,.0f} MB: {growth:,.0f} bytes per input row")


def dedup_cpu(out: Path) -> dict:
    """The run's global dedup step again, in this process (local executor), on its kept key
    files: CPU seconds per step (exact / banding / clusters / verdicts; with Ray the
    manifest's CPU figures are the driver's only), and whether the verdict files are
    byte-identical to the run's."""
    import filecmp
    import tempfile

    from codesieve.pipeline import layout
    from codesieve.pipeline.config import build_config
    from codesieve.pipeline.executors import LocalExecutor

    manifest = json.loads((out / ".codesieve" / "manifest.json").read_text())
    gate = next(g for g in build_config(manifest["config"]).gates if g.name == "dedup")
    folder = Path(layout.gate_dir(layout.work_dir(str(out)), "dedup"))
    keys = sorted(str(p) for p in (folder / "keys").glob("unit-*.pq"))
    with tempfile.TemporaryDirectory(prefix="codesieve-dedup-", dir=out) as scratch:
        stats = gate.resolve(keys, scratch, LocalExecutor())
        names = sorted(os.listdir(folder / "verdicts"))
        same, _, _ = filecmp.cmpfiles(folder / "verdicts", Path(scratch) / "verdicts", names, shallow=False)
    return {"cpu_seconds": stats["cpu_seconds"], "seconds": stats["seconds"], "docs": stats["docs"],
            "candidates": stats["candidates"], "identical": f"{len(same)} of {len(names)}"}


def report_dedup(results: list[tuple[int, dict]]) -> None:
    """Global dedup step CPU seconds per step and per input row, and the growth per row."""
    rows = [(r["manifest"]["rows_in"], r) for _, r in results if "dedup_cpu" in r]
    if not rows:
        return
    print("\n| rows | documents reaching dedup | LSH candidates | dedup CPU s (exact / banding / clusters / "
          "verdicts) | CPU us per row | per row vs smallest | verdicts identical to the run's |")
    print("|---|---|---|---|---|---|---|")
    base = None
    for n, r in rows:
        d = r["dedup_cpu"]
        c = d["cpu_seconds"]
        total = sum(c.values())
        per_row = total / n * 1e6
        base = base or per_row
        print(f"| {n:,} | {d['docs']:,} | {d['candidates']:,} | {total:.1f} ({c.get('exact', 0):.1f} / "
              f"{c.get('banding', 0):.1f} / {c.get('clusters', 0):.1f} / {c.get('verdicts', 0):.1f}) | "
              f"{per_row:.0f} | {per_row / base:.2f}x | {d['identical']} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="250000,1000000",
                    help="comma-separated corpus sizes in rows, or with --mode unique in copies of the source (4x)")
    ap.add_argument("--mode", choices=("resample", "unique"), default="resample",
                    help="resample: light edits of the source (components grow with rows); unique: a fixed "
                         "duplicate rate (benchmarks/scale_unique.py)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--source", default=str(DEFAULT_SOURCE), help="real shards to resample")
    ap.add_argument("--scratch", default="/tmp/codesieve-scale", help="where corpus and outputs go")
    ap.add_argument("--shard-rows", type=int, default=25_000)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--text-column", default="content")
    ap.add_argument("--dedup-cpu", action="store_true",
                    help="after each run, rerun its dedup step in-process for CPU seconds per step")
    ap.add_argument("--build-only", action="store_true", help="build the corpus and stop")
    ap.add_argument("--keep", action="store_true", help="keep the corpus and outputs")
    ap.add_argument("--reuse", action="store_true",
                    help="take a size's figures from an earlier run's result-N.json in --scratch (with --keep)")
    args = ap.parse_args()
    source = Path(args.source)
    if not source.is_dir():
        print(f"skipped: {source} not found (the dev corpus lives in ../shared/corpus/dev)")
        return
    scratch = Path(args.scratch)
    if args.mode == "unique":
        import scale_unique

        src = load_source(source)
        copies = sorted({math.ceil(float(s.rstrip("x")) if s.endswith("x") else int(s) / src.num_rows)
                         for s in args.sizes.split(",")})
        shards = scale_unique.build_corpus(src, scratch / "corpus-unique", copies[-1], args.shard_rows, args.seed,
                                           args.text_column)
        per = len(shards) // copies[-1]
        sizes = [(c * per, c * src.num_rows, f"{c}x") for c in copies]
        del src
    else:
        n_shards = sorted({math.ceil(int(s) / args.shard_rows) for s in args.sizes.split(",")})
        shards = build_corpus(source, scratch / "corpus", n_shards[-1] * args.shard_rows, args.shard_rows,
                              args.seed, args.text_column)
        sizes = [(n, n * args.shard_rows, str(n)) for n in n_shards]
    if args.build_only:
        return
    results = []
    try:
        for n, rows, tag in sizes:
            inp = prefix_input(shards, n, scratch / f"in-{tag}")
            print(f"running {rows:,} rows ...", file=sys.stderr)
            saved = scratch / f"result-{tag}.json"
            if args.reuse and saved.exists():
                results.append((rows, json.loads(saved.read_text())))
                continue
            res = run_size(inp, scratch / f"out-{tag}", args.workers, scratch / f"progress-{tag}.json")
            if args.dedup_cpu:
                res["dedup_cpu"] = dedup_cpu(scratch / f"out-{tag}")
            results.append((rows, res))
            saved.write_text(json.dumps(res))
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    print(f"source: {source}; corpus: {args.mode}; config: default; embedded Ray, {args.workers} workers; "
          f"shards of <= {args.shard_rows:,} rows\n")
    report(results, args.workers)
    report_dedup(results)


if __name__ == "__main__":
    main()
