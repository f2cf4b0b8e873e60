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
from test_bad_input import GOOD, assert_one_line_error, cli, run_config_text

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


def test_skipped_files_are_counted_and_suffixes_match_loosely(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
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
    from codesieve.pipeline.cli import print_summary

    print_summary(m, str(out))  # what a run without --quiet prints at the end
    said = [x for x in capsys.readouterr().out.splitlines() if x.startswith("skipped input files")]
    assert said and "unknown_format 1 (e.g. c.json)" in said[0] and "empty_file 1 (e.g. d.parquet)" in said[0]


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
    assert_one_line_error(run_config_text(tmp_path, yaml_text), *needles)


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


def _jsonl(folder: Path, rows: list[str], name: str = "x.jsonl") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("\n".join(rows) + "\n")


def _run_rows(inp: Path, out: Path) -> list[dict]:
    res = cli("run", "--config", "default", "--input", str(inp), "--output", str(out), *FAST)
    assert res.returncode == 0, res.stderr
    from codesieve.pipeline.io import output_dataset

    return output_dataset(str(out)).to_table().to_pylist()


def test_bad_rows_of_jsonl_are_quarantined_alone(tmp_path: Path) -> None:
    good = [json.dumps({"content": GOOD, "path": f"m{i}.py"}) for i in range(5)]
    lone = '{"content": "x = 1\\ud800\\n", "path": "s.py"}'
    deep = '{"content": "y", "path": "d.py", "n": ' + "[" * 5000 + "]" * 5000 + "}"
    medium = '{"content": "z", "path": "e.py", "n": ' + '{"a":' * 120 + "1" + "}" * 120 + "}"
    _jsonl(tmp_path / "in", good + [lone, deep, medium])
    rows = _run_rows(tmp_path / "in", tmp_path / "out")
    assert len(rows) == 8
    by_path = {r["path"]: r for r in rows if r["path"]}
    assert by_path["s.py"]["reasons"] == ["invalid_utf8"] and by_path["s.py"]["tier"] == 0
    quarantined = [r for r in rows if r["stage_failed"] == "input"]
    assert sorted(r["reasons"][0] for r in quarantined) == ["invalid_utf8", "json_too_deep", "json_too_deep"]
    assert all(by_path[f"m{i}.py"]["stage_failed"] != "input" for i in range(5))


def test_a_mixed_type_field_does_not_change_other_columns(tmp_path: Path) -> None:
    rows = [json.dumps({"content": GOOD, "path": f"m{i}.py", "stars": 5}) for i in range(4)]
    rows.append(json.dumps({"content": GOOD, "path": "odd.py", "stars": "many"}))
    _jsonl(tmp_path / "in", rows)
    out = _run_rows(tmp_path / "in", tmp_path / "out")
    assert sorted(r["path"] for r in out) == ["m0.py", "m1.py", "m2.py", "m3.py", "odd.py"]  # not JSON-quoted
    assert {r["lang"] for r in out} == {"Python"}
    assert sorted(r["stars"] for r in out) == ['"many"', "5", "5", "5", "5"]  # that column only: JSON text


def test_carried_column_types_differing_between_shards_fail_loudly(tmp_path: Path) -> None:
    _jsonl(tmp_path / "in", [json.dumps({"content": GOOD, "path": "a.py", "stars": 5})], "a.jsonl")
    _jsonl(tmp_path / "in", [json.dumps({"content": GOOD, "path": "b.py", "stars": "many"})], "b.jsonl")
    res = cli("run", "--config", "default", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"), *FAST)
    assert_one_line_error(res, "'stars'", "one type")
    assert not (tmp_path / "out" / ".codesieve" / "manifest.json").exists()


@pytest.mark.parametrize(
    "row,needles",
    [
        ({"id": [1, 2], "content": GOOD}, ["x.jsonl", "'id'", "list"]),
        ({"id": {"a": 1}, "content": GOOD}, ["x.jsonl", "'id'", "struct"]),
        ({"content": GOOD, "tier": 1, "input_tier": 2}, ["'input_tier'", "rename"]),
    ],
)
def test_bad_columns_are_one_line_errors(tmp_path: Path, row: dict, needles: list[str]) -> None:
    _jsonl(tmp_path / "in", [json.dumps(row)])
    res = cli("run", "--config", "default", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"),
              "--executor", "local", "--quiet")
    assert_one_line_error(res, *needles)


def test_dedup_index_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    inp = tmp_path / "in"
    _shard(inp, rows=20)
    (tmp_path / "idx").write_text("not a folder")
    res = cli("run", "--config", "default", "--input", str(inp), "--output", str(tmp_path / "out"),
              "--executor", "local", "--quiet", "--dedup-index", str(tmp_path / "idx"))
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert len([x for x in res.stderr.splitlines() if x.strip()]) == 1 and "idx" in res.stderr


def test_many_small_files_are_grouped_into_few_units(tmp_path: Path) -> None:
    inp, out = tmp_path / "in", tmp_path / "out"
    inp.mkdir()
    for i in range(300):
        (inp / f"f{i:04d}.jsonl").write_text(json.dumps({"content": GOOD + f"# {i}\n", "path": f"m{i}.py"}) + "\n")
    res = cli("run", "--config", "default", "--input", str(inp), "--output", str(out), *FAST)
    assert res.returncode == 0, res.stderr
    m = _manifest(out)
    assert m["rows_in"] == m["rows_out"] == 300
    assert m["input"]["units"] == 1  # one task, not 300
    assert len(list(out.glob("tier=*/part-*.parquet"))) <= 3


def test_dedup_priority_on_a_missing_column_is_an_error(tmp_path: Path) -> None:
    inp = tmp_path / "in"
    _shard(inp, rows=30)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("gates:\n  - gate: dedup\n    priority: [nosuchcol]\n")
    res = cli("run", "--config", str(cfg), "--input", str(inp), "--output", str(tmp_path / "out"),
              "--executor", "local", "--quiet")
    assert_one_line_error(res, "priority", "nosuchcol")


def test_id_of_invalid_utf8_bytes_is_one_line(tmp_path: Path) -> None:
    import pyarrow as pa

    (tmp_path / "in").mkdir()
    ids = pa.array([b"ok", b"\xff\xfe"], pa.binary())
    pq.write_table(pa.table({"id": ids, "content": [GOOD, GOOD]}), tmp_path / "in" / "a.parquet")
    res = cli("run", "--config", "default", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"), *FAST)
    assert_one_line_error(res, "a.parquet", "'id'", "not UTF-8")


def test_a_file_size_limit_is_one_line(tmp_path: Path) -> None:
    """A full disk (here: RLIMIT_FSIZE, which fails writes with EFBIG as ENOSPC would)."""
    import resource
    import subprocess
    import sys

    inp = tmp_path / "in"
    _shard(inp, rows=300)

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))

    args = [sys.executable, "-m", "codesieve", "run", "--config", "default", "--input", str(inp),
            "--output", str(tmp_path / "out"), *FAST]
    res = subprocess.run(args, capture_output=True, text=True, preexec_fn=small_files)
    assert_one_line_error(res, "unit 0 (input a.parquet)", "File too large", "rerun")


@pytest.mark.parametrize("unit_rows", [5000, 1])  # small files grouped into one unit / one unit each
def test_parquet_shards_with_differing_column_types_fail_loudly(tmp_path: Path, unit_rows: int) -> None:
    import pyarrow as pa

    (tmp_path / "in").mkdir()
    pq.write_table(pa.table({"content": [GOOD], "stars": pa.array([5])}), tmp_path / "in" / "a.parquet")
    pq.write_table(pa.table({"content": [GOOD], "stars": pa.array(["many"])}), tmp_path / "in" / "b.parquet")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"input:\n  unit_rows: {unit_rows}\n  unit_bytes: {unit_rows}\ngates:\n  - gate: rules\n")
    res = cli("run", "--config", str(cfg), "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"),
              "--executor", "local", "--quiet")
    assert_one_line_error(res, "'stars'", "one type in every input file")
    assert not (tmp_path / "out" / ".codesieve" / "manifest.json").exists()


@pytest.mark.parametrize("n_part", [1, 3])
def test_id_uniqueness_check_is_partitioned(tmp_path: Path, n_part: int) -> None:
    """The driver's id check spills hashes by partition; repeats across files are found."""
    import pyarrow as pa

    from codesieve.pipeline.dest import Dest
    from codesieve.pipeline.manifest import _repeated_ids, _spill_id_hashes

    dest = Dest(str(tmp_path / "out"))
    ids = [[f"r{i}" for i in range(50)] + ["x"], [f"s{i}" for i in range(50)] + ["x", "y"], ["y", "r7"]]
    parts = []
    for k, chunk in enumerate(ids):
        (tmp_path / "out" / f"tier={k}").mkdir(parents=True)
        pq.write_table(pa.table({"id": chunk}), tmp_path / "out" / f"tier={k}" / "part-00000.parquet")
        parts.append(dest.part(k, 0))
    spill = tmp_path / "spill"
    spill.mkdir()
    assert _spill_id_hashes(dest, parts, n_part, str(spill)) == 105
    assert _repeated_ids(dest, parts, n_part, str(spill)) == ["r7", "x", "y"]
