"""`codesieve run`: the two-pass plan over work units, resumable and deterministic.

    pass 1 (per unit)  read -> validate -> gates before the global gate -> dedup keys
    global             the global gate's resolve step (dedup clustering, verdicts)
    pass 2 (per unit)  global gate verdicts -> later gates -> tiers -> OUT/tier=K/part-U.parquet

Each unit's output is written under a temporary name and renamed, then a completion
record (with a key over everything that determines it) is written; a rerun redoes
only units whose record is missing or whose key changed.
"""

from __future__ import annotations

import glob
import json
import os
import resource
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from codesieve.pipeline.config import PipelineConfig, build_config, stable_hash
from codesieve.pipeline.io import (
    QUARANTINE_REASONS,
    Unit,
    discover,
    normalize,
    output_parts,
    plan_units,
    read_unit,
)
from codesieve.pipeline.progress import Progress
from codesieve.pipeline.tiers import STATE_FIELDS, UnitState, reason_lists

from codesieve import __version__, code_fingerprint
from codesieve.core.atomic import write_json_atomic, write_parquet_atomic
from codesieve.core.base import Gate, UnitContext
from codesieve.core.batch import DocBatch
from codesieve.core.errors import UserError

INPUT_STAGE = "input"


@dataclass
class RunSpec:
    """Everything a task needs, picklable (the config travels as its resolved dict)."""

    config: dict[str, Any]
    active: list[str]  # names of gates that run; the others pass every row
    output: str
    text_column: str

    def pipeline(self) -> PipelineConfig:
        cfg = _CONFIG_CACHE.get(stable_hash(self.config))
        if cfg is None:
            cfg = build_config(self.config)
            _CONFIG_CACHE[stable_hash(self.config)] = cfg
        return cfg

    @property
    def work(self) -> str:
        return os.path.join(self.output, "_work")


_CONFIG_CACHE: dict[str, PipelineConfig] = {}  # per worker process: built gates, loaded models


def _split(cfg: PipelineConfig) -> tuple[list[tuple[int, Gate]], Gate | None, list[tuple[int, Gate]]]:
    """(gates of pass 1, the global gate or None, gates of pass 2), with their tier index."""
    glob_i = next((i for i, g in enumerate(cfg.gates) if g.is_global), None)
    if glob_i is None:
        return list(enumerate(cfg.gates)), None, []
    gates = list(enumerate(cfg.gates))
    return gates[:glob_i], cfg.gates[glob_i], gates[glob_i + 1 :]


def _schema_fields(cfg: PipelineConfig) -> dict[str, pa.DataType]:
    return {f.name: f.type for g in cfg.gates for f in g.output_fields()}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _new_gate_stats() -> dict[str, Any]:
    return {"rows_in": 0, "rows_failed": 0, "bytes_failed": 0, "reasons": {}, "seconds": 0.0}


def _run_gates(
    gates: list[tuple[int, Gate]], active: list[str], table: pa.Table, state: UnitState,
    ctx: UnitContext, stats: dict[str, Any], fields: dict[str, pa.DataType], text_column: str,
) -> None:
    """Run `gates` in order on the rows still alive, recording failures and columns."""
    for tier, gate in gates:
        alive = np.flatnonzero(state.alive)
        st = stats.setdefault(gate.name, _new_gate_stats())
        if gate.name not in active or len(alive) == 0:
            continue
        t0 = time.perf_counter()
        batch = _alive_batch(table, state, alive, text_column)
        res = gate.apply(batch, ctx)
        state.add_columns(res.columns, alive, fields)
        failed = ~res.passed
        pos = alive[failed]
        if len(pos):
            reasons = reason_lists(res.fails[failed], res.reason_names)
            stage = pa.array([gate.name] * len(pos), pa.string())
            state.fail(pos, tier, stage, reasons)
        counts = res.fails.sum(axis=0) if res.fails.size else []
        st["rows_in"] += len(alive)
        st["rows_failed"] += len(pos)
        st["bytes_failed"] += int(pc.sum(pc.binary_length(batch.text.take(pa.array(np.flatnonzero(failed)))) ).as_py() or 0)
        for name, c in zip(res.reason_names, counts):
            if c:
                st["reasons"][name] = st["reasons"].get(name, 0) + int(c)
        st["seconds"] += time.perf_counter() - t0


def _alive_batch(table: pa.Table, state: UnitState, alive: np.ndarray, text_column: str) -> DocBatch:
    """The rows at `alive`, with the columns earlier gates added (later gates read e.g. `lang`)."""
    idx = pa.array(alive)
    batch = DocBatch(table.take(idx), text_column)
    for name, col in state.columns.items():
        batch = batch.with_column(name, col.take(idx))
    return batch


def _paths(spec: RunSpec, unit: int) -> dict[str, str]:
    w = spec.work
    return {
        "pass1": os.path.join(w, "pass1", f"unit-{unit:05d}.parquet"),
        "keys": os.path.join(w, "keys", f"unit-{unit:05d}.parquet"),
        "done1": os.path.join(w, "done", "pass1", f"unit-{unit:05d}.json"),
        "done2": os.path.join(w, "done", "pass2", f"unit-{unit:05d}.json"),
    }


def pass1_task(spec: RunSpec, unit: Unit, key: str) -> dict[str, Any]:
    """Read one unit, quarantine bad rows, run the shard-local gates before the global one."""
    t0 = time.perf_counter()
    cfg = spec.pipeline()
    first, global_gate, _ = _split(cfg)
    fields = _schema_fields(cfg)
    tc = spec.text_column
    table, keys, errors = read_unit(unit, tc)
    table = _protect_columns(table, cfg)
    table, reason = normalize(table, keys, errors, unit.file, tc, cfg.input.max_doc_bytes)
    n = table.num_rows
    state = UnitState(n)
    bad = np.flatnonzero(reason >= 0)
    stats: dict[str, Any] = {
        "rows_in": n,
        "bytes_in": int(pc.sum(pc.binary_length(table.column(tc))).as_py() or 0),
        "gates": {},
        "quarantine": {},
    }
    if len(bad):
        codes = reason[bad]
        names = np.array(QUARANTINE_REASONS, dtype=object)[codes]
        state.fail(
            bad, 0, pa.array([INPUT_STAGE] * len(bad), pa.string()),
            pa.ListArray.from_arrays(pa.array(np.arange(len(bad) + 1), pa.int32()), pa.array(names.tolist(), pa.string())),
        )
        for c in codes:
            stats["quarantine"][QUARANTINE_REASONS[c]] = stats["quarantine"].get(QUARANTINE_REASONS[c], 0) + 1
    ctx = UnitContext(unit.index, spec.work, tc)
    _run_gates(first, spec.active, table, state, ctx, stats["gates"], fields, tc)
    p = _paths(spec, unit.index)
    if global_gate is not None and global_gate.name in spec.active:
        batch = _alive_batch(table, state, np.flatnonzero(state.alive), tc)
        keys_table = global_gate.prepare(batch, ctx)
        keys_table = keys_table.append_column("_unit", pa.array(np.full(keys_table.num_rows, unit.index, np.int32)))
        write_parquet_atomic(keys_table, p["keys"])
    write_parquet_atomic(_state_table(table, state), p["pass1"])
    stats["seconds"] = time.perf_counter() - t0
    stats["peak_rss_mb"] = _peak_rss_mb()
    write_json_atomic({"key": key, "stats": stats}, p["done1"])
    return stats


def _protect_columns(table: pa.Table, cfg: PipelineConfig) -> pa.Table:
    """Input columns that clash with codesieve's own get an `input_` prefix."""
    ours = {f.name for f in STATE_FIELDS} | set(_schema_fields(cfg))
    names = [f"input_{c}" if c in ours else c for c in table.column_names]
    return table.rename_columns(names) if names != table.column_names else table


def _state_table(table: pa.Table, state: UnitState) -> pa.Table:
    tier = np.where(state.tier >= 0, state.tier, 0).astype(np.int8)
    out = table
    out = out.append_column(STATE_FIELDS[0], pa.array(tier, pa.int8(), mask=state.tier < 0))
    out = out.append_column(STATE_FIELDS[1], state.stage_failed())
    out = out.append_column(STATE_FIELDS[2], state.reasons())
    for name, col in state.columns.items():
        out = out.append_column(name, col)
    return out


def pass2_task(spec: RunSpec, unit: int, key: str) -> dict[str, Any]:
    """Apply the global verdicts and the remaining gates; write the unit's tier files."""
    t0 = time.perf_counter()
    cfg = spec.pipeline()
    _, global_gate, rest = _split(cfg)
    fields = _schema_fields(cfg)
    p = _paths(spec, unit)
    saved = pq.read_table(p["pass1"])
    state = UnitState.from_table(saved)
    own = [f.name for f in STATE_FIELDS] + [n for n in fields if n in saved.column_names]
    for name in own[3:]:
        state.columns[name] = saved.column(name).combine_chunks()
    table = saved.drop_columns(own)
    stats: dict[str, Any] = {"gates": {}}
    ctx = UnitContext(unit, spec.work, spec.text_column)
    gates = ([(cfg.gates.index(global_gate), global_gate)] if global_gate is not None else []) + rest
    _run_gates(gates, spec.active, table, state, ctx, stats["gates"], fields, spec.text_column)
    state.tier[state.alive] = len(cfg.gates)
    out = _final_table(table, state, cfg, fields, spec.text_column)
    for old in glob.glob(os.path.join(spec.output, "tier=*", f"part-{unit:05d}.parquet")):
        os.remove(old)  # a previous run's result for this unit (e.g. another config)
    tiers = out.column("tier").to_numpy()
    stats["tiers"] = {}
    for k in np.unique(tiers):
        part = out.filter(pa.array(tiers == k))
        write_parquet_atomic(
            part, os.path.join(spec.output, f"tier={int(k)}", f"part-{unit:05d}.parquet"),
            cfg.output.compression_level, cfg.output.row_group_rows,
        )
        nbytes = int(pc.sum(pc.binary_length(pc.fill_null(part.column(spec.text_column), ""))).as_py() or 0)
        stats["tiers"][str(int(k))] = {"rows": part.num_rows, "bytes": nbytes}
    stats["rows_out"] = out.num_rows
    stats["seconds"] = time.perf_counter() - t0
    stats["peak_rss_mb"] = _peak_rss_mb()
    write_json_atomic({"key": key, "stats": stats}, p["done2"])
    return stats


def _final_table(
    table: pa.Table, state: UnitState, cfg: PipelineConfig, fields: dict[str, pa.DataType], tc: str
) -> pa.Table:
    """Input columns, then tier/stage_failed/reasons, then every gate's columns in config order."""
    n = table.num_rows
    out = table
    keep_from = cfg.output.keep_text_from_tier
    if keep_from > 0:
        low = pa.array(state.tier < keep_from)
        out = out.set_column(out.column_names.index(tc), tc, pc.if_else(low, pa.scalar(None, out.schema.field(tc).type), out.column(tc)))
    out = out.append_column(STATE_FIELDS[0], pa.array(state.tier.astype(np.int8), pa.int8()))
    out = out.append_column(STATE_FIELDS[1], state.stage_failed())
    out = out.append_column(STATE_FIELDS[2], state.reasons())
    for name, type_ in fields.items():
        col = state.columns.get(name)
        out = out.append_column(pa.field(name, type_), col.cast(type_) if col is not None else pa.nulls(n, type_))
    return out


def global_task(spec: RunSpec, key_files: list[str], executor: Any) -> dict[str, Any]:
    cfg = spec.pipeline()
    _, gate, _ = _split(cfg)
    assert gate is not None
    folder = os.path.join(spec.work, "dedup")
    os.makedirs(folder, exist_ok=True)
    return gate.resolve(key_files, folder, executor)


# ------------------------------------------------------------------------------------
# driver


def _read_done(path: str, key: str) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as fh:
            rec = json.load(fh)
    except (OSError, ValueError):
        return None
    return rec["stats"] if rec.get("key") == key else None


def _code_version() -> str:
    return f"codesieve {__version__} code {code_fingerprint()}"


def run(
    cfg: PipelineConfig,
    input_path: str,
    output: str,
    executor: Any,
    gates: list[str] | None = None,
    limit_rows: int | None = None,
    quiet: bool = False,
    log: Any = None,
) -> dict[str, Any]:
    """Run the pipeline; return the manifest (also written to OUTPUT/manifest.json)."""
    log = log or (lambda msg: None if quiet else print(msg, file=sys.stderr))
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    names = cfg.gate_names()
    if gates is not None:
        unknown = [g for g in gates if g not in names]
        if unknown:
            raise UserError(f"--gates: {', '.join(unknown)} not in the config (its gates: {', '.join(names)})")
    active = list(gates) if gates is not None else names
    output = os.path.abspath(output)
    if os.path.exists(output) and not os.path.isdir(output):
        raise UserError(f"--output {output}: exists and is not a folder")
    files = discover(input_path)
    tc = cfg.input.text_column
    units = plan_units(files, tc, cfg.input.unit_rows, cfg.input.unit_bytes, limit_rows)
    timings["plan"] = time.perf_counter() - t_start
    resolved = cfg.resolved()
    spec = RunSpec(resolved, active, output, tc)
    first, global_gate, rest = _split(cfg)
    version = _code_version()

    def gate_key(gs: list[tuple[int, Gate]], drop: tuple[str, ...] = ()) -> list[Any]:
        return [
            [i, g.name, g.name in active, g.params.model_dump(mode="json", exclude=set(drop)), g.fingerprint()]
            for i, g in gs
        ]

    global_entry = [(names.index(global_gate.name), global_gate)] if global_gate else []
    base1 = {
        "v": version, "input": resolved["input"], "gates": gate_key(first),
        "global": gate_key(global_entry, global_gate.resolve_only) if global_gate else None,
    }
    keys1 = [stable_hash({**base1, "unit": u.describe()}) for u in units]
    global_key = stable_hash({"pass1": keys1, "v": version, "global": gate_key(global_entry)})
    base2 = {
        "v": version, "global": global_key, "gates": gate_key(rest), "output": resolved["output"],
        "tiers": names, "nunits": len(units),
    }
    keys2 = [stable_hash({**base2, "k1": k}) for k in keys1]
    run_key = stable_hash({"k2": keys2})

    manifest_path = os.path.join(output, "manifest.json")
    if os.path.exists(manifest_path):
        try:
            with open(manifest_path, encoding="utf-8") as fh:
                old = json.load(fh)
        except (OSError, ValueError):
            old = {}
        if old.get("run_key") == run_key:
            print(f"nothing to do: {output} is already complete for this input and config", file=sys.stderr)
            return old
        os.remove(manifest_path)  # this run will replace it

    os.makedirs(spec.work, exist_ok=True)
    total_rows = sum(u.num_rows or 0 for u in units)
    # pass 1
    t0 = time.perf_counter()
    stats1: list[dict[str, Any] | None] = [_read_done(_paths(spec, u.index)["done1"], k) for u, k in zip(units, keys1)]
    todo = [(spec, u, k) for u, k, s in zip(units, keys1, stats1) if s is None]
    if len(todo) < len(units):
        log(f"resuming: pass 1 has {len(units) - len(todo)} of {len(units)} units done")
    with Progress("pass 1", len(units), total_rows, quiet, done=len(units) - len(todo)) as bar:
        for i, st in executor.imap(pass1_task, todo):
            stats1[todo[i][1].index] = st
            bar.update(st["rows_in"])
    timings["pass1"] = time.perf_counter() - t0
    # global
    t0 = time.perf_counter()
    global_stats: dict[str, Any] = {}
    if global_gate is not None and global_gate.name in active:
        done_g = os.path.join(spec.work, "done", "global.json")
        global_stats = _read_done(done_g, global_key) or {}
        if not global_stats:
            key_files = [_paths(spec, u.index)["keys"] for u in units]
            global_stats = global_task(spec, key_files, executor)
            write_json_atomic({"key": global_key, "stats": global_stats}, done_g)
    timings["global"] = time.perf_counter() - t0
    # pass 2
    t0 = time.perf_counter()
    stats2: list[dict[str, Any] | None] = [_read_done(_paths(spec, u.index)["done2"], k) for u, k in zip(units, keys2)]
    todo2 = [(spec, u.index, k) for u, k, s in zip(units, keys2, stats2) if s is None]
    rows_all = sum(s["rows_in"] for s in stats1 if s)
    with Progress("pass 2", len(units), rows_all, quiet, done=len(units) - len(todo2)) as bar:
        for i, st in executor.imap(pass2_task, todo2):
            stats2[todo2[i][1]] = st
            bar.update(st["rows_out"])
    timings["pass2"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    manifest = _finalize(spec, cfg, units, stats1, stats2, global_stats, input_path, files)
    timings["finalize"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - t_start
    manifest.update(
        run_key=run_key, timings=timings, executor=executor.name, workers=getattr(executor, "workers", 1),
        gates_active=active, code_version=version,
    )
    write_json_atomic(manifest, manifest_path)
    return manifest


def _merge_gate_stats(parts: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in parts:
        for gate, st in part.items():
            o = out.setdefault(gate, _new_gate_stats())
            for k in ("rows_in", "rows_failed", "bytes_failed", "seconds"):
                o[k] += st[k]
            for r, c in st["reasons"].items():
                o["reasons"][r] = o["reasons"].get(r, 0) + c
    return out


def _finalize(
    spec: RunSpec, cfg: PipelineConfig, units: list[Unit], stats1: list[Any], stats2: list[Any],
    global_stats: dict[str, Any], input_path: str, files: list[Any],
) -> dict[str, Any]:
    expected = {f"part-{u.index:05d}.parquet" for u in units}
    parts = output_parts(spec.output)
    for path in parts:
        if os.path.basename(path) not in expected:
            os.remove(path)  # left by an earlier run over more units
    parts = [p for p in parts if os.path.basename(p) in expected]
    rows_in = sum(s["rows_in"] for s in stats1)
    bytes_in = sum(s["bytes_in"] for s in stats1)
    rows_out = 0
    ids: list[np.ndarray] = []
    for path in parts:
        t = pq.read_table(path, columns=["id"])
        rows_out += t.num_rows
        ids.append(_id_hashes(t.column("id")))
    if rows_out != rows_in:
        raise RuntimeError(f"conservation violated: {rows_in} rows in, {rows_out} rows out (in {spec.output})")
    repeated = _repeated_ids(parts, ids)
    if repeated:
        raise UserError(
            f"--input {input_path}: ids are not unique (e.g. {repeated[0]!r}, {len(repeated)} repeated); "
            "give every row a distinct `id` or drop the column to have ids generated"
        )
    tiers: dict[str, dict[str, int]] = {}
    for s in stats2:
        for k, v in s["tiers"].items():
            t = tiers.setdefault(k, {"rows": 0, "bytes": 0})
            t["rows"] += v["rows"]
            t["bytes"] += v["bytes"]
    quarantine: dict[str, int] = {}
    for s in stats1:
        for r, c in s["quarantine"].items():
            quarantine[r] = quarantine.get(r, 0) + c
    gate_stats = _merge_gate_stats([s["gates"] for s in stats1] + [s["gates"] for s in stats2])
    fingerprint = stable_hash([[f.rel, f.size, f.mtime_ns] for f in files])
    peak = {
        "pass1": max((s["peak_rss_mb"] for s in stats1), default=0.0),
        "pass2": max((s["peak_rss_mb"] for s in stats2), default=0.0),
    }
    return {
        "codesieve_version": __version__,
        "config": cfg.resolved(),
        "config_hash": cfg.hash(),
        "config_source": cfg.source,
        "input": {"path": input_path, "files": len(files), "fingerprint": fingerprint, "units": len(units)},
        "rows_in": rows_in,
        "bytes_in": bytes_in,
        "rows_out": rows_out,
        "tiers": dict(sorted(tiers.items(), key=lambda kv: int(kv[0]))),
        "tier_names": {str(i): g for i, g in enumerate(cfg.gate_names())} | {str(len(cfg.gates)): "passed_all"},
        "quarantine": quarantine,
        "gates": gate_stats,
        "global": global_stats,
        "peak_rss_mb": peak,
    }


def _repeated_ids(parts: list[str], hashes: list[np.ndarray]) -> list[str]:
    """Ids that occur more than once (64-bit hashes first, exact strings to confirm)."""
    if not hashes:
        return []
    all_h = np.sort(np.concatenate(hashes))
    dup_h = np.unique(all_h[1:][all_h[1:] == all_h[:-1]])
    if len(dup_h) == 0:
        return []
    seen: dict[str, int] = {}
    for path, h in zip(parts, hashes):
        hit = np.isin(h, dup_h)
        if hit.any():
            col = pq.read_table(path, columns=["id"]).column("id").combine_chunks()
            for s in col.filter(pa.array(hit)).to_pylist():
                seen[s] = seen.get(s, 0) + 1
    return sorted(s for s, c in seen.items() if c > 1)


def _id_hashes(ids: pa.ChunkedArray) -> np.ndarray:
    """64-bit hashes of ids (uniqueness check without holding the strings)."""
    import xxhash

    return np.fromiter((xxhash.xxh3_64_intdigest(s) for s in ids.cast(pa.binary()).to_pylist()), dtype=np.uint64, count=len(ids))
