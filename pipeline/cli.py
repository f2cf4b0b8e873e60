"""The `codesieve` command: run, dry-run, gates."""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import sys
from typing import Any

from codesieve import version_string
from codesieve.core.errors import UserError

RUN_HELP = """Run a pipeline config over Parquet/JSONL shards and write tiered Parquet output.

Every input row lands in exactly one OUTPUT/tier=K/part-*.parquet with `tier`,
`stage_failed`, `reasons` and the gates' score columns; OUTPUT/manifest.json is written
last. Rerunning the same command after a crash finishes the job, redoing only
unfinished work units; rerunning a finished job does nothing."""


#: what every worker of `codesieve run` imports (the pass tasks and the built-in gates)
RUN_MODULES = ("codesieve.pipeline.runner", "codesieve.filters", "codesieve.scorers", "codesieve.pipeline.readers")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


#: subcommand -> the module (under codesieve.pipeline) whose `add_parser` adds it: dry-run and
#: the person-facing tools (issue 12)
TOOLS = {"dry-run": "dryrun", "report": "report", "explain": "explain", "mix": "mix", "pack-repos": "pack",
         "train-scorer": "trainscorer"}


def build_parser(gate_options: bool = True, command: str | None = None) -> argparse.ArgumentParser:
    """The command line. Each tool's module is imported to add its subcommand: all of them, or
    with `command` only that one's. Without `gate_options`, `run` lacks the options that gates
    declare (`--dedup-index`...), which import every registered gate's module to list."""
    parser = argparse.ArgumentParser(
        prog="codesieve", description="Coarse-to-fine curation of code pretraining data."
    )
    parser.add_argument("--version", action="version", version=version_string())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    run = sub.add_parser("run", help="run a config over input shards", description=RUN_HELP,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("--config", required=True,
                     help="pipeline YAML, or a shipped config by name: default, starcoder2, opencoder")
    run.add_argument("--input", required=True,
                     help="folder, glob or URI (s3://...) of .parquet / .jsonl / .jsonl.gz / .jsonl.zst files")
    run.add_argument("--output", required=True,
                     help="output folder or s3:// URI (tier=K/ parts, .codesieve/manifest.json)")
    run.add_argument("--work-dir", default=None,
                     help="with an s3:// --output: the folder for the resumable work files (shared by all "
                          "nodes on a cluster; default ~/.cache/codesieve/runs/<hash of the URI>)")
    run.add_argument("--workers", type=_positive_int, default=None,
                     help="Ray worker processes for the embedded local Ray (default: all cores)")
    run.add_argument("--ray-address", default=None,
                     help="join an existing Ray cluster at this address instead of starting one")
    run.add_argument("--executor", choices=["ray", "local"], default="ray",
                     help="ray: Ray core tasks (default); local: everything in this process, for debugging")
    run.add_argument("--gates", default=None,
                     help="comma-separated gates of the config to run; the others pass every row "
                          "(e.g. --gates dedup for a dedup-only job)")
    run.add_argument("--limit-rows", type=_positive_int, default=None,
                     help="process only the first N input rows (for trying a config)")
    run.add_argument("--set", action="append", default=[], metavar="GATE.PARAM=VALUE",
                     help="override one gate parameter of the config (VALUE is YAML), e.g. "
                          "--set quality.min_score=0.3; repeatable")
    if gate_options:
        _add_gate_options(run)
    run.add_argument("--overwrite", action="store_true",
                     help="allow an output folder that holds a run of another config or input "
                          "(its stored work is reused where still valid)")
    run.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    run.set_defaults(func=cmd_run)

    gates = sub.add_parser("gates", help="list registered gates, rules and scorers with their parameters")
    gates.add_argument("--json", action="store_true", help="print the registry as JSON")
    gates.set_defaults(func=cmd_gates)

    for name, module in TOOLS.items():
        if command in (None, name):
            importlib.import_module(f"codesieve.pipeline.{module}").add_parser(sub)
    return parser


def worker_warm(cfg: Any, gates: list[str]) -> functools.partial:
    """What a Ray worker of `run` calls once it has started: `runner.warm_task` (load the
    gates' models), named rather than referenced, so that unpickling it imports nothing
    before `executors.worker_start` has set the process up."""
    from codesieve.pipeline.executors import call

    return functools.partial(call, "codesieve.pipeline.runner:warm_task", cfg.resolved(), gates)


def cmd_run(args: argparse.Namespace) -> int:
    from codesieve.pipeline.config import load_config
    from codesieve.pipeline.executors import make_executor
    from codesieve.pipeline.runner import execute, locked, prepare, ready

    cfg = load_config(args.config, _overrides(args))
    gates = [g.strip() for g in args.gates.split(",") if g.strip()] if args.gates is not None else None
    if args.workers and args.executor == "local" and args.workers != 1:
        raise UserError("--workers: the local executor runs one task at a time; use --executor ray")
    # options, input, plan, the output's lock and owner come before any worker starts: a typo,
    # a busy output or another config's output costs no Ray start, and a finished output is
    # reported at once
    prep = prepare(cfg, args.input, args.output, gates, args.limit_rows, args.work_dir)
    with locked(prep):
        manifest = ready(prep, args.overwrite)
        if manifest is None:
            warm = worker_warm(cfg, prep.active)
            executor = make_executor(args.executor, args.workers, args.ray_address, preload=RUN_MODULES, warm=warm)
            try:
                manifest = execute(prep, executor, quiet=args.quiet, overwrite=args.overwrite)
            finally:
                executor.close()
    if not args.quiet:
        print_summary(manifest, args.output)
    return 0


def _gate_options() -> dict[str, tuple[str, str]]:
    """Command-line shortcuts that registered gates declare: option -> (gate, param)."""
    from codesieve.core.registry import GATES
    from codesieve.pipeline.plugins import load_plugins

    load_plugins()
    return {opt: (name, param) for name, cls in sorted(GATES.items()) for opt, param in cls.cli_options.items()}


def _add_gate_options(run: argparse.ArgumentParser) -> None:
    for opt, (gate, param) in _gate_options().items():
        run.add_argument(opt, default=None, metavar="VALUE", dest=f"gateopt_{gate}__{param}",
                         help=f"sets the {gate!r} gate's {param!r} (a path is made absolute)")


def _overrides(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """`--set gate.param=value` and the gates' own options, as {gate: {param: value}}."""
    import yaml

    out: dict[str, dict[str, Any]] = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        gate, dot, param = key.partition(".")
        if not sep or not dot or not gate or not param:
            raise UserError(f"--set {item!r}: expected GATE.PARAM=VALUE (e.g. quality.min_score=0.3)")
        try:
            out.setdefault(gate, {})[param] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise UserError(f"--set {item!r}: VALUE is not valid YAML") from None
    for dest, value in vars(args).items():
        if dest.startswith("gateopt_") and value is not None:
            gate, param = dest[len("gateopt_"):].split("__", 1)
            out.setdefault(gate, {})[param] = os.path.abspath(value)
    return out


def print_summary(manifest: dict[str, Any], output: str) -> None:
    names = manifest.get("tier_names", {})
    rows_in = manifest["rows_in"] or 1
    print(f"{manifest['rows_in']:,} rows ({manifest['bytes_in'] / 1e6:,.1f} MB) in -> {output}")
    print(f"{'tier':>4}  {'tier_name':<22} {'rows':>10} {'share':>7} {'MB':>9}")
    for k, t in manifest["tiers"].items():
        print(f"{k:>4}  {names.get(k, ''):<22} {t['rows']:>10,} {t['rows'] / rows_in:>7.1%} {t['bytes'] / 1e6:>9.1f}")
    quarantined = sum(manifest.get("quarantine", {}).values())
    if quarantined:
        print(f"      of tier 0, {quarantined:,} rows quarantined at input: "
              + ", ".join(f"{r} {c:,}" for r, c in sorted(manifest["quarantine"].items())))
    skipped = manifest.get("input", {}).get("skipped") or {}
    if skipped:
        print("skipped input files: " + "; ".join(
            f"{why} {v['files']:,} (e.g. {', '.join(v['examples'][:2])})" for why, v in sorted(skipped.items())))
    print(f"manifest: {output.rstrip('/')}/.codesieve/manifest.json")
    total = manifest.get("timings", {}).get("total")
    reused = {k: n for k, n in (manifest.get("reused") or {}).items() if n and k.startswith("pass")}
    if total and reused:  # a resumed run's time covers only what it redid: no throughput figure
        units = manifest.get("input", {}).get("units", "?")
        print(f"{total:.1f} s with {manifest.get('workers', 1)} worker(s), resumed: kept "
              + ", ".join(f"{n} of {units} units of {k.replace('pass', 'pass ')}" for k, n in reused.items()))
    elif total:
        mb = manifest["bytes_in"] / 1e6
        print(f"{total:.1f} s, {mb / total:.1f} MB/s with {manifest.get('workers', 1)} worker(s)")


def cmd_gates(args: argparse.Namespace) -> int:
    from codesieve.core.registry import describe
    from codesieve.pipeline.config import shipped_configs
    from codesieve.pipeline.plugins import load_plugins

    load_plugins()
    reg = describe()
    reg["configs"] = sorted(shipped_configs())
    if args.json:
        print(json.dumps(reg, indent=1, default=str))
        return 0
    for kind in ("gates", "rules", "scorers"):
        print(f"{kind}:")
        for item in reg[kind]:
            params = ", ".join(f"{k}={v['default']!r}" for k, v in item["params"].items())
            print(f"  {item['name']:<28} {item['doc']}")
            if params:
                print(f"  {'':<28} params: {params}")
    print("configs (--config NAME): " + ", ".join(reg["configs"]))
    return 0


def parse_args(argv: list[str]) -> argparse.Namespace:
    """`argv` parsed. The command's own parser first: without the other tools' modules, and
    without the gates' options (their modules are imported by what needs them, e.g. `run`'s
    config). The whole parser for help, no command, or an option that parser does not know
    (a gate's option, or a mistake: the error then names it as before)."""
    command = next((a for a in argv if not a.startswith("-")), None)
    if command is None and "--version" in argv:
        command = "--version"  # no subcommand needed
    if command in (*TOOLS, "run", "gates", "--version") and not {"-h", "--help"} & set(argv):
        args, extra = build_parser(gate_options=False, command=command).parse_known_args(argv)
        if not extra:
            return args
    return build_parser().parse_args(argv)


#: commands whose own process runs pipelines, set up before anything loads numpy or pyarrow
#: (so only when the command line is parsed here): OpenBLAS gets one thread, as their numpy
#: algebra is a small matrix at a time and a second thread would only spin (~0.2 CPU-s of a
#: dev-corpus run; Ray's workers get one thread from Ray already; a value the user set wins),
#: and pyarrow's pandas probe is skipped (`procsetup.skip_pandas_probe`, as in Ray's workers).
PIPELINE_COMMANDS = ("run", "dry-run")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if next((a for a in argv if not a.startswith("-")), None) in PIPELINE_COMMANDS:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        from codesieve.core.procsetup import skip_pandas_probe

        skip_pandas_probe()
    args = parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        if os.environ.get("CODESIEVE_DEBUG") and getattr(exc, "detail", ""):
            print(exc.detail, file=sys.stderr)  # a failed task's remote traceback
        print(f"codesieve: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, a file-size limit, a folder that became unwritable
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"codesieve: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("codesieve: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
