"""`codesieve run`: the passes of the plan over work units, resumable and deterministic.

    pass 0 (per unit)   read -> validate -> gates before the first global gate -> its keys
    global              that gate's resolve step (e.g. dedup clustering, verdicts)
    pass 1 (per unit)   its verdicts -> the gates up to the next global gate -> ...
    last pass           ... -> tiers -> OUT/tier=K/part-U.parquet

(`pipeline.plan` cuts the gates into passes; the runner never knows what a gate does.)
Each unit's output is written under a temporary name and renamed, then a completion
record (with a key over everything that determines it) is written; a rerun redoes
only units whose record is missing or whose key changed.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from codesieve.core import cputime, parsewatch
from codesieve.core.atomic import (
    KEYS_CODEC,
    read_ipc,
    synced_later,
    write_ipc_atomic,
    write_json_atomic,
    write_parquet_atomic,
)
from codesieve.core.base import UnitContext
from codesieve.core.errors import UserError
from codesieve.core.params import stable_hash
from codesieve.pipeline import layout
from codesieve.pipeline.config import PipelineConfig, build_config
from codesieve.pipeline.dest import Dest, staging_dir
from codesieve.pipeline.gaterun import add_late_columns, alive_batch, run_gates
from codesieve.pipeline.io import (
    QUARANTINE_REASONS,
    Unit,
    discover_with_skips,
    normalize,
    plan_units,
    read_unit,
)
from codesieve.pipeline.keys import Keys, code_version, make_keys
from codesieve.pipeline.manifest import finalize, read_done, read_record
from codesieve.pipeline.memo import Memo
from codesieve.pipeline.ownership import check_nesting, check_owner, claim, output_lock, remote_lock
from codesieve.pipeline.plan import QUARANTINE_NAME, Pass, late_points, make_passes, tier_names
from codesieve.pipeline.plugins import plugin_fingerprint
from codesieve.pipeline.progress import Progress
from codesieve.pipeline.tiers import STATE_FIELDS, TIER_NAME_FIELD, UnitState

INPUT_STAGE = "input"


@dataclass
class RunSpec:
    """Everything a task needs, picklable (the config travels as its resolved dict)."""

    config: dict[str, Any]
    active: list[str]  # names of gates that run; the others pass every row
    output: str  # the local (or shared) folder of the work files: the output folder itself unless remote
    text_column: str
    dest: str = ""  # where the tier files go: `output`, or an `s3://` URI

    def pipeline(self) -> PipelineConfig:
        h = stable_hash(self.config)
        if h not in _CONFIG_CACHE:
            _CONFIG_CACHE[h] = build_config(self.config)
        return _CONFIG_CACHE[h]

    @property
    def work(self) -> str:
        return layout.work_dir(self.output)

    def gate_dirs(self, cfg: PipelineConfig) -> dict[str, str]:
        return {g.name: layout.gate_dir(self.work, g.name) for g in cfg.gates if g.is_global}


_CONFIG_CACHE: dict[str, PipelineConfig] = {}  # per worker process: built gates, loaded models


def warm_task(config: dict[str, Any], active: list[str]) -> None:
    """A worker's start-up: build the run's gates into the cache its tasks use
    (`RunSpec.pipeline`; `config` = `PipelineConfig.resolved()`) and have the active ones
    load their models (`Gate.warm`)."""
    for gate in RunSpec(config, active, "", "").pipeline().gates:
        if gate.name in active:
            gate.warm()


def score_fields(cfg: PipelineConfig) -> dict[str, pa.DataType]:
    return {f.name: f.type for g in cfg.gates for f in g.output_fields()}


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------------------------
# tasks


def _first_read(spec: RunSpec, cfg: PipelineConfig, unit: Unit, stats: dict[str, Any]) -> tuple[pa.Table, UnitState]:
    """Read one unit (with the small units grouped into it) and quarantine its bad rows."""
    tc = spec.text_column
    tables, reasons = [], []
    for part in unit.parts():
        raw, keys, errors = read_unit(replace(part, extra=()), tc)
        table, reason = normalize(_protect_columns(raw, cfg), keys, errors, part.file, tc, cfg.input.max_doc_bytes)
        tables.append(table)
        reasons.append(reason)
    table = tables[0] if len(tables) == 1 else _concat(tables, unit)
    reason = reasons[0] if len(reasons) == 1 else np.concatenate(reasons)
    stuck = _parse_timeouts(spec, unit, table, reason < 0)
    reason[stuck] = QUARANTINE_REASONS.index(parsewatch.REASON)
    state = UnitState(table.num_rows)
    stats["rows_in"] = table.num_rows
    stats["bytes_in"] = int(pc.sum(pc.binary_length(table.column(tc))).as_py() or 0)
    stats["quarantine"] = {}
    bad = np.flatnonzero(reason >= 0)
    if len(bad):
        names = np.array(QUARANTINE_REASONS, dtype=object)[reason[bad]]
        offsets = pa.array(np.arange(len(bad) + 1), pa.int32())
        state.fail(bad, 0, pa.array([INPUT_STAGE] * len(bad), pa.string()),
                   pa.ListArray.from_arrays(offsets, pa.array(names.tolist(), pa.string())))
        for name in names:
            stats["quarantine"][name] = stats["quarantine"].get(name, 0) + 1
    return table, state


def _parse_timeouts(spec: RunSpec, unit: Unit, table: pa.Table, alive: np.ndarray) -> np.ndarray:
    """Positions of the `alive` rows whose text wedged a parser in an earlier attempt."""
    folder = layout.parse_timeouts(spec.work)
    if not os.path.exists(os.path.join(folder, f"unit-{unit.index:05d}.jsonl")):
        return np.zeros(0, np.int64)
    rows = np.flatnonzero(alive)
    texts = table.column(spec.text_column).take(pa.array(rows)).to_pylist()
    return rows[parsewatch.quarantined(folder, unit.index, texts)]


def _concat(tables: list[pa.Table], unit: Unit) -> pa.Table:
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        import re

        files = ", ".join(p.file.rel for p in unit.parts()[:3])
        found = re.search(r"Field (\S+) has incompatible types: (.*)", str(exc))
        what = f"column {found.group(1)!r} has different types ({found.group(2)})" if found else str(exc)
        raise UserError(f"--input: {what} in {files}...; give it one type in every input file") from None


def pass_task(spec: RunSpec, p: int, unit: Unit, key: str) -> dict[str, Any]:
    """Pass `p` of one unit: apply its gates, then save the state or write the tier files."""
    t0 = time.perf_counter()
    started, cpu0 = time.time(), time.process_time()
    cfg = spec.pipeline()
    plan = make_passes(cfg.gates)[p]
    fields = score_fields(cfg)
    stats: dict[str, Any] = {"gates": {}}
    parsewatch.collect(layout.parse_timeouts(spec.work))  # a process the parse watchdog ended
    with cputime.timed("read"):
        if p == 0:
            table, state = _first_read(spec, cfg, unit, stats)
        else:
            saved = read_ipc(layout.pass_state(spec.work, p - 1, unit.index))
            table, state = UnitState.from_table(saved, list(fields))
            stuck = _parse_timeouts(spec, unit, table, state.alive)  # wedged a parser of this pass
            state.fail(stuck, 0, pa.array([INPUT_STAGE] * len(stuck), pa.string()),
                       pa.array([[parsewatch.REASON]] * len(stuck), pa.list_(pa.string())))
            stats["quarantine"] = {parsewatch.REASON: len(stuck)} if len(stuck) else {}
    stats["rows"] = table.num_rows
    ctx = UnitContext(unit.index, spec.work, spec.text_column)
    memo = _memo(spec, cfg, plan, unit)
    late = late_points(cfg.gates, spec.active)
    # (index, global gate) whose keys this pass prepares, when that gate runs
    prepare = plan.prepare if plan.prepare is not None and plan.prepare[1].name in spec.active else None
    # the files' fsyncs run behind the work that follows them (the state before the prepare)
    with synced_later():
        with parsewatch.watch(layout.parse_timeouts(spec.work), unit.index, cfg.input.parse_timeout_s):
            run_gates(plan.applied(), table, state, ctx, stats["gates"], fields, spec.active, spec.gate_dirs(cfg),
                      memo, late)
            if plan.prepare is None:  # the last pass: late columns of the rows that pass every gate
                add_late_columns(late.get(len(cfg.gates), []), table, state, ctx, fields, memo)
            if prepare is not None:
                add_late_columns(late.get(prepare[0], []), table, state, ctx, fields, memo)
        with cputime.timed("write"):
            if plan.prepare is not None:
                write_ipc_atomic(state.to_table(table), layout.pass_state(spec.work, p, unit.index))
            else:
                stats.update(_write_tiers(spec, cfg, unit.index, table, state, fields))
        if prepare is not None:
            gate = prepare[1]
            with cputime.timed(f"prepare:{gate.name}"):
                keys = gate.prepare(alive_batch(table, state, np.flatnonzero(state.alive), spec.text_column), ctx)
                keys = keys.append_column("_unit", pa.array(np.full(keys.num_rows, unit.index, np.int32)))
                write_parquet_atomic(keys, layout.gate_keys(spec.work, gate.name, unit.index), codec=KEYS_CODEC)
    stats["seconds"] = time.perf_counter() - t0
    # when, where and at what CPU cost (the process's CPU before the task: its start-up when first)
    stats["started"], stats["pid"] = started, os.getpid()
    stats["process_cpu"] = [cpu0, time.process_time() - cpu0]
    stats["cpu"] = cputime.take()
    stats["peak_rss_mb"] = _peak_rss_mb()
    write_json_atomic({"key": key, "code": code_version(), "stats": stats}, layout.pass_done(spec.work, p, unit.index))
    return stats


def _memo(spec: RunSpec, cfg: PipelineConfig, plan: Pass, unit: Unit) -> Memo:
    """The unit's stores of per-row results, with the gates of earlier passes upstream."""
    memo = Memo(os.path.join(spec.work, "memo"), unit.index,
                {"v": code_version(), "plugins": plugin_fingerprint(cfg.plugins), "unit": unit.describe(),
                 "input": spec.config["input"]})
    first = plan.applied()[0][0] if plan.applied() else len(cfg.gates)
    memo.upstream = [Memo.entry(g, g.name in spec.active) for g in cfg.gates[:first]]
    return memo


def _protect_columns(table: pa.Table, cfg: PipelineConfig) -> pa.Table:
    """Input columns that clash with codesieve's own get an `input_` prefix."""
    ours = {f.name for f in STATE_FIELDS} | {TIER_NAME_FIELD.name} | set(score_fields(cfg))
    names = [f"input_{c}" if c in ours else c for c in table.column_names]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise UserError(f"input column {clash[0]!r} exists twice once codesieve's own column names are "
                        f"prefixed with 'input_'; rename it (codesieve writes: {', '.join(sorted(ours))})")
    return table.rename_columns(names) if names != table.column_names else table


def _write_tiers(
    spec: RunSpec, cfg: PipelineConfig, unit: int, table: pa.Table, state: UnitState, fields: dict[str, pa.DataType]
) -> dict[str, Any]:
    alive = state.alive
    state.tier[alive] = len(cfg.gates) + state.band[alive]
    out = final_table(table, state, cfg, fields, spec.text_column)
    dest = Dest(spec.dest or spec.output)
    tiers = out.column("tier").to_numpy()
    # a previous run's result for this unit (e.g. another config)
    dest.delete([dest.part(k, unit) for k in range(max(tier_names(cfg.gates)) + 1) if k not in tiers])
    per_tier: dict[str, dict[str, int]] = {}
    for k in np.unique(tiers):
        part = out.filter(pa.array(tiers == k))
        dest.write_parquet(part, dest.part(int(k), unit), cfg.output.compression_level, cfg.output.row_group_rows)
        text = pc.fill_null(part.column(spec.text_column), "")
        per_tier[str(int(k))] = {"rows": part.num_rows, "bytes": int(pc.sum(pc.binary_length(text)).as_py() or 0)}
    return {"tiers": per_tier, "rows_out": out.num_rows}


def final_table(
    table: pa.Table, state: UnitState, cfg: PipelineConfig, fields: dict[str, pa.DataType], tc: str
) -> pa.Table:
    """Input columns, then tier / tier_name / stage_failed / reasons, then every gate's
    columns in config order."""
    n = table.num_rows
    out = table
    keep_from = cfg.output.keep_text_from_tier
    if keep_from > 0:
        low = pa.array(state.tier < keep_from)
        null = pa.scalar(None, out.schema.field(tc).type)
        out = out.set_column(out.column_names.index(tc), tc, pc.if_else(low, null, out.column(tc)))
    stage = state.stage_failed()
    out = out.append_column(STATE_FIELDS[0], pa.array(state.tier.astype(np.int32), pa.int32()))
    out = out.append_column(TIER_NAME_FIELD, _tier_name_column(state.tier, stage, cfg))
    out = out.append_column(STATE_FIELDS[1], stage)
    out = out.append_column(STATE_FIELDS[2], state.reasons())
    for name, type_ in fields.items():
        col = state.columns.get(name)
        out = out.append_column(pa.field(name, type_), col.cast(type_) if col is not None else pa.nulls(n, type_))
    return out


def _tier_name_column(tier: np.ndarray, stage: pa.Array, cfg: PipelineConfig) -> pa.Array:
    names = tier_names(cfg.gates)
    table = pa.array([names.get(k, "") for k in range(max(names) + 1)], pa.string())
    col = table.take(pa.array(tier.astype(np.int64)))
    quarantined = pc.fill_null(pc.equal(stage, INPUT_STAGE), False)
    return pc.if_else(quarantined, pa.scalar(QUARANTINE_NAME), col)


def global_task(spec: RunSpec, gate_index: int, key_files: list[str], executor: Any) -> dict[str, Any]:
    gate = spec.pipeline().gates[gate_index]
    folder = layout.gate_dir(spec.work, gate.name)
    os.makedirs(folder, exist_ok=True)
    return gate.resolve(key_files, folder, executor)


# ------------------------------------------------------------------------------------
# driver


@dataclass
class Prepared:
    """A run checked and planned, before any worker starts: its options validated, input
    listed, units planned and resume keys made (`prepare`)."""

    cfg: PipelineConfig
    input_path: str
    output: str  # the local folder of the work files (the output folder itself unless remote)
    dest: Dest
    active: list[str]
    files: list[Any]
    skipped: dict[str, Any]
    units: list[Unit]
    passes: list[Pass]
    keys: Keys
    plan_seconds: float  # listing the input and planning units
    prepare_seconds: float  # all of `prepare` (with the resume keys)

    def finished(self) -> dict[str, Any] | None:
        """The manifest when the output already holds this run's complete result."""
        old = self.dest.read_json("manifest.json")
        return old if old is not None and old.get("run_key") == self.keys.run else None

    def owner(self) -> dict[str, Any]:
        """The owner record this run writes (`ownership.claim`)."""
        return owner_record(self.cfg, self.input_path, self.files)


def prepare(
    cfg: PipelineConfig, input_path: str, output: str, gates: list[str] | None = None,
    limit_rows: int | None = None, work_dir: str | None = None,
) -> Prepared:
    """Check the options, list the input and plan the run (one-line errors for a bad
    option, a missing input, an output inside the input), before any worker is started."""
    t_start = time.perf_counter()
    names = cfg.gate_names()
    if gates is not None:
        unknown = [g for g in gates if g not in names]
        if not gates or unknown:
            raise UserError(f"--gates: {', '.join(unknown) or 'no gate named'}; the config's gates: {', '.join(names)}")
    active = list(gates) if gates is not None else names
    if not output or not output.strip():
        raise UserError("--output: empty; name an output folder")
    dest = Dest(output)
    output = staging_dir(dest.root, work_dir) if dest.remote else dest.root
    if os.path.exists(output) and not os.path.isdir(output):
        raise UserError(f"--output {output}: exists and is not a folder")
    check_nesting(input_path, dest.root)
    files, skipped = discover_with_skips(input_path, cfg.input.formats, exclude=dest.root)
    units = plan_units(files, cfg.input.text_column, cfg.input.unit_rows, cfg.input.unit_bytes, limit_rows)
    t_plan = time.perf_counter() - t_start
    passes = make_passes(cfg.gates)
    keys = make_keys(cfg, passes, units, active)
    return Prepared(cfg, input_path, output, dest, active, files, skipped, units, passes, keys,
                    t_plan, time.perf_counter() - t_start)


def ready(prep: Prepared, overwrite: bool = False) -> dict[str, Any] | None:
    """With the output's lock held, before any work: the manifest of this run's finished
    result ("nothing to do" said), else None once the output may take this run (a run of
    another config or input there is refused unless `overwrite`: `ownership.check_owner`)."""
    old = prep.finished()
    if old is not None:
        print(f"nothing to do: {prep.dest.root} is already complete for this input and config", file=sys.stderr)
        return old
    check_owner(prep.dest, prep.owner(), overwrite)
    return None


def run(
    cfg: PipelineConfig,
    input_path: str,
    output: str,
    executor: Any,
    gates: list[str] | None = None,
    limit_rows: int | None = None,
    quiet: bool = False,
    log: Any = None,
    overwrite: bool = False,
    work_dir: str | None = None,
) -> dict[str, Any]:
    """Run the pipeline; return the manifest (also written to OUT/.codesieve/manifest.json).

    The output folder is locked while the run writes; a folder holding another config's or
    input's run is refused unless `overwrite`. `output` may be an `s3://` URI: the work
    files then go to `work_dir` (see `pipeline.dest`).
    """
    prep = prepare(cfg, input_path, output, gates, limit_rows, work_dir)
    with locked(prep):
        return execute(prep, executor, quiet, log, overwrite)


@contextlib.contextmanager
def locked(prep: Prepared) -> Iterator[None]:
    """Hold the output's lock (and the bucket's, for `s3://`): refused while another run writes."""
    with output_lock(prep.output), (remote_lock(prep.dest) if prep.dest.remote else contextlib.nullcontext()):
        yield


def execute(
    prep: Prepared, executor: Any, quiet: bool = False, log: Any = None, overwrite: bool = False
) -> dict[str, Any]:
    """Run a `prepare`d run with the output's lock held (`locked`); return its manifest."""
    log = log or (lambda msg: None if quiet else print(msg, file=sys.stderr))
    t_start = time.perf_counter()
    timings: dict[str, float] = {"plan": prep.plan_seconds}
    cfg, dest, active, output, units, passes, keys = (
        prep.cfg, prep.dest, prep.active, prep.output, prep.units, prep.passes, prep.keys)
    input_path, files, skipped = prep.input_path, prep.files, prep.skipped
    spec = RunSpec(cfg.resolved(), active, output, cfg.input.text_column, dest.root)
    old = ready(prep, overwrite)
    if old is not None:
        return old
    claim(dest, prep.owner(), overwrite)
    dest.remove_json("manifest.json")  # this run will replace it
    os.makedirs(spec.work, exist_ok=True)
    total_rows = sum(u.num_rows or 0 for u in units)
    stats: list[list[dict[str, Any]]] = []
    global_stats: dict[str, Any] = {}
    reused: dict[str, int] = {}  # per pass, units whose earlier result this run kept (1/0 per global step)
    for plan in passes:
        if plan.resolved is not None:
            t0 = time.perf_counter()
            global_stats[plan.resolved[1].name] = _run_global(spec, plan, units, keys, executor, reused, log)
            timings[f"global:{plan.resolved[1].name}"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        stats.append(_run_pass(spec, plan, units, keys.units[plan.index], executor, total_rows, quiet, log, reused))
        timings[f"pass{plan.index}"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    manifest = finalize(dest, cfg, units, stats, global_stats, input_path, files, spec.work)
    manifest["input"]["skipped"] = skipped
    timings["finalize"] = time.perf_counter() - t0
    timings["total"] = prep.prepare_seconds + time.perf_counter() - t_start  # not the workers' start
    if getattr(executor, "start_seconds", None) is not None:
        timings["workers_start"] = executor.start_seconds  # before the run, not in `total`
    manifest.update(
        run_key=keys.run, timings=timings, executor=executor.name, workers=getattr(executor, "workers", 1),
        gates_active=active, code_version=code_version(), reused=reused,
    )
    dest.write_json("manifest.json", manifest)
    return manifest


def owner_record(cfg: PipelineConfig, input_path: str, files: list[Any]) -> dict[str, Any]:
    return {"config_hash": cfg.hash(), "config_source": cfg.source, "input": input_path,
            "input_fingerprint": stable_hash([[f.rel, f.size, f.mtime_ns] for f in files])}


def _run_pass(
    spec: RunSpec, plan: Pass, units: list[Unit], keys: list[str], executor: Any, total_rows: int, quiet: bool, log: Any,
    reused: dict[str, int],
) -> list[dict[str, Any]]:
    p = plan.index
    code = code_version()
    found = [read_record(layout.pass_done(spec.work, p, u.index), k, code) for u, k in zip(units, keys)]
    stats: list[Any] = [st for st, _ in found]
    todo = [(spec, p, u, k) for u, k, s in zip(units, keys, stats) if s is None]
    log_resume(log, p, len(units), len(todo), [why for _, why in found])
    reused[f"pass{p}"] = len(units) - len(todo)
    with Progress(f"pass {p}", len(units), total_rows, quiet, done=len(units) - len(todo)) as bar:
        for i, st in executor.imap(pass_task, todo):
            stats[todo[i][2].index] = st
            bar.update(st["rows"])
    return stats


def log_resume(log: Any, p: int, units: int, todo: int, why: list[str]) -> None:
    """Say what a rerun reuses of pass `p`, and why earlier results it found are redone."""
    stale = {w: why.count(w) for w in ("code", "settings") if w in why}
    if todo == units and not stale:
        return  # a first run
    what = {"code": "another codesieve version or model files", "settings": "other settings or input"}
    redo = " and ".join(f"{n} earlier result{'s' * (n > 1)} made with {what[w]}" for w, n in stale.items())
    if todo == units:
        log(f"pass {p}: redoing {redo}")
    else:
        log(f"resuming: pass {p} has {units - todo} of {units} units done" + (f"; redoing {redo}" if stale else ""))


def _run_global(
    spec: RunSpec, plan: Pass, units: list[Unit], keys: Keys, executor: Any, reused: dict[str, int], log: Any
) -> dict[str, Any]:
    assert plan.resolved is not None
    i, gate = plan.resolved
    if gate.name not in spec.active:
        return {}
    done = layout.gate_done(spec.work, gate.name)
    found = read_done(done, keys.globals[i])
    reused[f"global:{gate.name}"] = int(found is not None)
    if found is not None:
        log(f"resuming: {gate.name}'s global step is done")
        return found
    key_files = [layout.gate_keys(spec.work, gate.name, u.index) for u in units]
    st = global_task(spec, i, key_files, executor)
    write_json_atomic({"key": keys.globals[i], "stats": st}, done)
    return st
