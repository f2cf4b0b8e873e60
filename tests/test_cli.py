"""`codesieve gates` and `--help`: the registry in the shape DESIGN.md gives."""

from __future__ import annotations

import json
import os
import pickle
import socket
import subprocess
import sys
import tempfile

import pytest
from conftest import SAMPLES

CLI = [sys.executable, "-m", "codesieve"]


def test_gates_json_lists_registry() -> None:
    res = subprocess.run(CLI + ["gates", "--json"], capture_output=True, text=True, check=True)
    reg = json.loads(res.stdout)
    assert set(reg) == {"gates", "rules", "scorers", "configs"}
    assert {"default", "starcoder2", "opencoder"} <= set(reg["configs"])
    names = {g["name"] for g in reg["gates"]}
    assert {"language", "rules", "dedup", "quality"} <= names
    for item in reg["gates"] + reg["rules"]:
        assert set(item) >= {"name", "params", "doc"}
        assert item["doc"], f"{item['name']} has no docstring"
    rules = {r["name"]: r for r in reg["rules"]}
    assert "max_line_length" in rules
    assert {"min", "max", "langs", "per_lang"} <= set(rules["max_line_length"]["params"])


def test_gates_text_and_help() -> None:
    res = subprocess.run(CLI + ["gates"], capture_output=True, text=True, check=True)
    assert "max_line_length" in res.stdout and "dedup" in res.stdout
    res = subprocess.run(CLI + ["run", "--help"], capture_output=True, text=True, check=True)
    for opt in ("--config", "--input", "--output", "--workers", "--ray-address", "--executor", "--gates",
                "--limit-rows", "--quiet"):
        assert opt in res.stdout


def test_bad_cli_value_is_one_line() -> None:
    res = subprocess.run(CLI + ["run", "--config", "x", "--input", "y", "--output", "z", "--workers", "0"],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "--workers" in res.stderr and "Traceback" not in res.stderr


def test_command_line_imports_only_what_the_command_needs() -> None:
    """`run`'s own options parse without importing a gate; a gate's option (`--dedup-index`)
    still parses, and `run --help` still lists it."""
    code = (
        "import sys; from codesieve.pipeline.cli import parse_args\n"
        "a = parse_args(['run', '--config', 'c', '--input', 'i', '--output', 'o', '--quiet'])\n"
        "print(a.command, a.quiet, 'codesieve.filters' in sys.modules, 'codesieve.pipeline.dryrun' in sys.modules)\n"
        "b = parse_args(['run', '--config', 'c', '--input', 'i', '--output', 'o', '--dedup-index', 'd'])\n"
        "print(b.gateopt_dedup__index_dir)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.split("\n")[:2] == ["run True False False", "d"]
    res = subprocess.run(CLI + ["run", "--help"], capture_output=True, text=True, check=True)
    assert "--dedup-index" in res.stdout
    res = subprocess.run(CLI + ["--version"], capture_output=True, text=True, check=True)
    assert res.stdout.startswith("codesieve ")
    res = subprocess.run(CLI + ["report", "somewhere", "--bogus"], capture_output=True, text=True)
    assert res.returncode == 2 and "unrecognized arguments: --bogus" in res.stderr


def test_run_and_its_workers_leave_pandas_unimported() -> None:
    """pyarrow imports pandas (~0.3 CPU-s) on its first conversion only to look for pandas
    objects: a `run` (local executor, the sample corpus) and a Ray worker's start-up (its
    pickled arguments, then `worker_start`, as Ray runs them) do not import it, and an
    explicit pandas conversion afterwards still works."""
    pytest.importorskip("pandas")
    run = (
        "import sys\nfrom codesieve.pipeline.cli import main\n"
        f"rc = main(['run', '--config', 'default', '--input', {str(SAMPLES)!r}, '--output', sys.argv[1],"
        " '--executor', 'local', '--quiet'])\n"
        "print(rc, 'pandas' in sys.modules)\n"
        "import pandas as pd, pyarrow as pa\n"
        "print(pa.Table.from_pandas(pd.DataFrame({'a': [1, 2]})).to_pandas()['a'].tolist())\n"
    )
    with tempfile.TemporaryDirectory() as out:
        res = subprocess.run([sys.executable, "-c", run, out], capture_output=True, text=True, check=True)
        assert res.stdout.split("\n")[-3:] == ["0 False", "[1, 2]", ""], res.stdout
        assert any(name.startswith("tier=") for name in os.listdir(out)), "the run wrote its tiers"
    from codesieve.pipeline.cli import RUN_MODULES, worker_warm
    from codesieve.pipeline.config import load_config

    cfg = load_config("default")
    start = (
        "import pickle, sys\nwarm = pickle.loads(sys.stdin.buffer.read())\n"
        "print('pyarrow' in sys.modules)\n"
        "from codesieve.pipeline.executors import worker_start\n"
        f"worker_start({RUN_MODULES!r}, warm)\n"
        "print('pandas' in sys.modules, 'codesieve.scorers.gate' in sys.modules)\n"
    )
    res = subprocess.run([sys.executable, "-c", start], input=pickle.dumps(worker_warm(cfg, cfg.gate_names())),
                         capture_output=True, check=True)
    assert res.stdout.decode().split("\n")[-3:] == ["False", "False True", ""], res.stdout


def test_run_loads_openblas_with_one_thread() -> None:
    """`run` / `dry-run` start OpenBLAS with one thread (its second one only spun); other
    commands (`train-scorer` fits models) and a user's own setting keep theirs."""
    code = (
        "import sys, os\nfrom codesieve.pipeline.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "import numpy, threadpoolctl\n"
        "print(os.environ.get('OPENBLAS_NUM_THREADS'), [p['num_threads'] for p in threadpoolctl.threadpool_info()"
        " if p['internal_api'] == 'openblas'])\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}

    def blas(*argv: str, **extra: str) -> str:
        res = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, check=True,
                             env={**env, **extra})
        return res.stdout.strip().splitlines()[-1]

    assert blas("run", "--help") == "1 [1]"
    assert blas("dry-run", "--help") == "1 [1]"
    assert blas("train-scorer", "--help").startswith("None")
    assert blas("run", "--help", OPENBLAS_NUM_THREADS="2") == "2 [2]"


def test_run_checks_input_and_finished_output_before_starting_workers(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A typo in --input, an output another run writes and one of another config are one-line
    errors, a finished output is "nothing to do": all without starting Ray (the default executor)."""
    from codesieve.pipeline import executors
    from codesieve.pipeline.cli import main

    started: list[str] = []

    def make_executor(kind: str, *args, **kwargs):
        started.append(kind)
        return executors.LocalExecutor()

    monkeypatch.setattr(executors, "make_executor", make_executor)
    out = str(tmp_path / "out")
    assert main(["run", "--config", "default", "--input", str(tmp_path / "typo"), "--output", out]) == 2
    err = capsys.readouterr().err
    assert started == [] and err.startswith("codesieve: error: --input") and err.count("\n") == 1
    first = ["run", "--config", "default", "--input", str(SAMPLES), "--output", out, "--gates", "rules"]
    assert main(first + ["--executor", "local", "--quiet"]) == 0 and started == ["local"]
    assert main(first) == 0 and started == ["local"]  # the default executor (ray) was never made
    assert "nothing to do" in capsys.readouterr().err
    other = ["run", "--config", "starcoder2", "--input", str(SAMPLES), "--output", out, "--gates", "rules"]
    assert main(other) == 2 and started == ["local"]
    assert "another config" in capsys.readouterr().err
    busy = tmp_path / "busy"
    (busy / ".codesieve").mkdir(parents=True)
    (busy / ".codesieve" / "lock").write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid()}))
    assert main(["run", "--config", "default", "--input", str(SAMPLES), "--output", str(busy)]) == 2
    assert started == ["local"] and "another codesieve run" in capsys.readouterr().err
