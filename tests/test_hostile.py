"""Hostile use (issue: nothing lost, nothing mixed, nothing silent): shared output folders,
output inside the input, symlink loops, skipped files, values that make no sense."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import SAMPLES
from test_bad_input import GOOD, assert_one_line_error, cli

FAST = ["--executor", "local", "--quiet", "--gates", "language,rules"]


def _shard(folder: Path, name: str = "a.parquet", rows: int = 200) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    t = pq.read_table(SAMPLES / "code-00000.parquet").slice(0, rows)
    pq.write_table(t, folder / name)
    return folder / name


def _manifest(out: Path) -> dict:
    return json.loads((out / ".codesieve" / "manifest.json").read_text())


def test_output_of_another_config_is_refused_unless_overwrite(tmp_path: Path) -> None:
    inp, out = tmp_path / "in", tmp_path / "out"
    _shard(inp)
    assert cli("run", "--config", "default", "--input", str(inp), "--output", str(out), *FAST).returncode == 0
    res = cli("run", "--config", "starcoder2", "--input", str(inp), "--output", str(out), *FAST[:3])
    assert_one_line_error(res, str(out), "another config", "--overwrite")
    res = cli("run", "--config", "starcoder2", "--input", str(inp), "--output", str(out), *FAST[:3], "--overwrite")
    assert res.returncode == 0, res.stderr
    assert _manifest(out)["config_source"].endswith("starcoder2.yaml")
    _shard(inp, "b.parquet", 50)  # another input now
    res = cli("run", "--config", "starcoder2", "--input", str(inp), "--output", str(out), *FAST[:3])
    assert_one_line_error(res, "another input")


def test_a_live_lock_refuses_and_a_stale_one_is_taken_over(tmp_path: Path) -> None:
    inp, out = tmp_path / "in", tmp_path / "out"
    _shard(inp)
    (out / ".codesieve").mkdir(parents=True)
    lock = out / ".codesieve" / "lock"
    import socket

    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid()}))  # alive: this test
    res = cli("run", "--config", "default", "--input", str(inp), "--output", str(out), *FAST)
    assert_one_line_error(res, "another codesieve run", str(os.getpid()))
    dead = 2 ** 22 + 12345  # above the default pid_max: no such process
    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": dead}))
    res = cli("run", "--config", "default", "--input", str(inp), "--output", str(out), *FAST)
    assert res.returncode == 0, res.stderr
    assert not lock.exists()


def test_output_inside_the_input_is_excluded_and_equal_is_refused(tmp_path: Path) -> None:
    inp = tmp_path / "in"
    _shard(inp)
    out = inp / "out"
    for _ in range(2):  # the second run must not read its own tier files as input
        res = cli("run", "--config", "default", "--input", str(inp), "--output", str(out), *FAST)
        assert res.returncode == 0, res.stderr
    m = _manifest(out)
    assert m["rows_in"] == m["rows_out"] == 200
    res = cli("run", "--config", "default", "--input", str(inp), "--output", str(inp), *FAST)
    assert_one_line_error(res, "inside --output")


def test_symlink_loop_is_read_once(tmp_path: Path) -> None:
    inp, out = tmp_path / "in", tmp_path / "out"
    _shard(inp, rows=5)
    os.symlink(inp, inp / "loop")
    os.symlink(inp / "a.parquet", inp / "again.parquet")  # the same file under a second name
    res = cli("run", "--config", "default", "--input", str(inp), "--output", str(out), *FAST)
    assert res.returncode == 0, res.stderr
    assert _manifest(out)["rows_in"] == 5


def test_skipped_files_are_counted_and_suffixes_match_loosely(tmp_path: Path) -> None:
    inp, out = tmp_path / "in", tmp_path / "out"
    _shard(inp, "A.PARQUET", 10)
    (inp / "b.ndjson").write_text(json.dumps({"content": GOOD, "path": "b.py"}) + "\n")
    (inp / "c.json").write_text(json.dumps({"content": GOOD}))
    (inp / "d.parquet").write_bytes(b"")
    _shard(inp / "_tmp", "e.parquet", 3)
    _shard(inp / ".hidden", "f.parquet", 3)
    res = cli("run", "--config", "default", "--input", str(inp), "--output", str(out), *FAST)
    assert res.returncode == 0, res.stderr
    m = _manifest(out)
    assert m["rows_in"] == 11
    skipped = m["input"]["skipped"]
    assert skipped["unknown_format"]["examples"] == ["c.json"]
    assert skipped["empty_file"]["examples"] == ["d.parquet"]
    assert skipped["hidden_or_underscore"]["files"] == 2


@pytest.mark.parametrize(
    "args,needles",
    [(["--gates", " "], ["--gates"]), (["--output", ""], ["--output", "empty"])],
)
def test_empty_options_are_errors(tmp_path: Path, args: list[str], needles: list[str]) -> None:
    inp = tmp_path / "in"
    _shard(inp, rows=3)
    base = ["run", "--config", "default", "--input", str(inp), "--output", str(tmp_path / "out"), "--executor", "local"]
    for a in args[::2]:
        i = base.index(a) if a in base else None
        if i is not None:
            del base[i:i + 2]
    assert_one_line_error(cli(*base, *args), *needles)


@pytest.mark.parametrize(
    "yaml_text,needles",
    [
        ("gates:\n  - gate: rules\n    rules:\n      - rule: num_lines\n        min: 10\n        max: 5\n",
         ["gates[0].rules[0]", "min (10.0) is above max (5.0)"]),
        ("gates:\n  - gate: rules\n    rules:\n      - rule: num_lines\n        max: .nan\n", ["gates[0].rules[0].max"]),
        ("gates:\n  - gate: rules\n    rules:\n      - rule: num_lines\n        max: -3\n",
         ["gates[0].rules[0].max", "outside the values num_lines can take"]),
        ("gates:\n  - gate: rules\n    rules:\n      - rule: num_lines\n        per_lang: {Python: {min: -1}}\n",
         ["per_lang.Python.min"]),
        ("output:\n  keep_text_from_tier: 99\ngates:\n  - gate: rules\n", ["output.keep_text_from_tier", "99"]),
        ("input:\n  unit_rows: true\ngates:\n  - gate: rules\n", ["input.unit_rows"]),
        ("input:\n  text_column: lang\ngates:\n  - gate: language\n", ["input.text_column", "lang"]),
        ("input:\n  formats: {'.json': nosuch}\ngates:\n  - gate: rules\n", ["input.formats", "nosuch", "jsonl"]),
    ],
)
def test_senseless_config_values_are_one_line_errors(tmp_path: Path, yaml_text: str, needles: list[str]) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml_text)
    (tmp_path / "x.jsonl").write_text(json.dumps({"content": GOOD}) + "\n")
    res = cli("run", "--config", str(cfg), "--input", str(tmp_path / "x.jsonl"),
              "--output", str(tmp_path / "out"), "--executor", "local")
    assert_one_line_error(res, *needles)


def test_unwritable_output_is_one_line(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        target = "/proc/codesieve-out"  # root can write anywhere else
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        target = str(ro / "out")
    inp = tmp_path / "in"
    _shard(inp, rows=3)
    res = cli("run", "--config", "default", "--input", str(inp), "--output", target, "--executor", "local")
    assert_one_line_error(res, target)
    shutil.rmtree(inp)
