"""Bad input gets a one-line error naming the file/field, or the row goes to tier 0 with
its reason. Nothing is lost and no traceback reaches the user."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import CONFIGS

from codesieve.pipeline.config import load_config
from codesieve.pipeline.executors import LocalExecutor
from codesieve.pipeline.io import output_dataset
from codesieve.pipeline.runner import run

CLI = [sys.executable, "-m", "codesieve"]
GOOD = "def add(a, b):\n    return a + b\n\n\nprint(add(1, 2))\n"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + list(args), capture_output=True, text=True)


def assert_one_line_error(res: subprocess.CompletedProcess, *needles: str) -> None:
    assert res.returncode == 2, res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def run_config_text(tmp_path: Path, yaml_text: str) -> subprocess.CompletedProcess:
    """`codesieve run` with the config `yaml_text` (as bad.yaml) on one good JSONL row."""
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml_text)
    (tmp_path / "x.jsonl").write_text(json.dumps({"content": GOOD}) + "\n")
    return cli("run", "--config", str(cfg), "--input", str(tmp_path / "x.jsonl"),
               "--output", str(tmp_path / "out"), "--executor", "local")


def run_folder(folder: Path, out: Path) -> pa.Table:
    cfg = load_config(CONFIGS / "default.yaml")
    run(cfg, str(folder), str(out), LocalExecutor(), quiet=True)
    return output_dataset(str(out)).to_table()


def test_corrupt_parquet_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "broken.parquet").write_bytes(b"PAR1" + b"\x00" * 100)
    res = cli("run", "--config", str(CONFIGS / "default.yaml"), "--input", str(tmp_path / "in"),
              "--output", str(tmp_path / "out"), "--executor", "local")
    assert_one_line_error(res, "broken.parquet", "Parquet")


def test_missing_text_column(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    pq.write_table(pa.table({"code": [GOOD]}), tmp_path / "in" / "a.parquet")
    res = cli("run", "--config", str(CONFIGS / "default.yaml"), "--input", str(tmp_path / "in"),
              "--output", str(tmp_path / "out"), "--executor", "local")
    assert_one_line_error(res, "a.parquet", "'content'", "code")


def test_wrong_text_type(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    pq.write_table(pa.table({"content": [1, 2, 3]}), tmp_path / "in" / "ints.parquet")
    res = cli("run", "--config", str(CONFIGS / "default.yaml"), "--input", str(tmp_path / "in"),
              "--output", str(tmp_path / "out"), "--executor", "local")
    assert_one_line_error(res, "ints.parquet", "int64", "content")


def test_missing_input_and_bad_options(tmp_path: Path) -> None:
    res = cli("run", "--config", str(CONFIGS / "default.yaml"), "--input", str(tmp_path / "nope"),
              "--output", str(tmp_path / "out"), "--executor", "local")
    assert_one_line_error(res, "nope", "no such file")
    res = cli("run", "--config", str(CONFIGS / "default.yaml"), "--input", str(tmp_path),
              "--output", str(tmp_path / "out"), "--executor", "local")
    assert_one_line_error(res, "no input files")
    (tmp_path / "x.jsonl").write_text(json.dumps({"content": GOOD}) + "\n")
    res = cli("run", "--config", str(CONFIGS / "default.yaml"), "--input", str(tmp_path / "x.jsonl"),
              "--output", str(tmp_path / "out"), "--executor", "local", "--gates", "rules,nosuch")
    assert_one_line_error(res, "--gates", "nosuch", "language")


@pytest.mark.parametrize(
    "yaml_text, needles",
    [
        ("gates:\n  - gate: nosuch\n", ["gates[0].gate", "nosuch", "language", "rules"]),
        ("gates:\n  - gate: rules\n    rules:\n      - rule: no_such_rule\n",
         ["gates[0].rules[0].rule", "no_such_rule", "max_line_length"]),
        ("gates:\n  - gate: rules\n    rules:\n      - rule: max_line_length\n        max: lots\n",
         ["gates[0].rules[0].max", "lots"]),
        ("gates:\n  - gate: rules\n    rulez: []\n", ["gates[0].rulez", "allowed: rules"]),
        ("input:\n  unit_rows: -5\ngates:\n  - gate: rules\n", ["input.unit_rows", "-5"]),
        ("inputs: {}\ngates: []\n", ["inputs", "allowed"]),
        ("gates: [\n", ["invalid YAML", "line"]),
        ("!!python/object/apply:os.system ['echo pwned']\n", ["invalid YAML"]),
    ],
)
def test_bad_config_is_one_line(tmp_path: Path, yaml_text: str, needles: list[str]) -> None:
    res = run_config_text(tmp_path, yaml_text)
    assert_one_line_error(res, "bad.yaml", *needles)
    assert "pwned" not in res.stdout


def test_bad_rows_are_quarantined_in_tier0(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    big = "x = 1\n" * (100_000_000 // 6 + 1)  # a 100 MB document
    pq.write_table(
        pa.table({
            "content": pa.array([GOOD.encode(), b"bad \xff\xfe utf8", b"nul\x00byte", None, big.encode()], pa.binary()),
            "path": ["ok.py", "bad.py", "nul.py", "null.py", "big.py"],
        }),
        folder / "rows.parquet",
    )
    lines = [
        json.dumps({"content": GOOD, "path": "j.py"}).encode(),
        b'{"content": "unterminated',
        json.dumps({"content": 42, "path": "num.py"}).encode(),
        b'{"content": "caf\xe9 latin-1", "path": "l1.py"}',
        b"",
    ]
    (folder / "rows.jsonl.gz").write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    table = run_folder(folder, tmp_path / "out")
    assert table.num_rows == 9
    by_path = {p: (t, r) for p, t, r in zip(table.column("path").to_pylist(), table.column("tier").to_pylist(),
                                            table.column("reasons").to_pylist())}
    assert by_path["bad.py"] == (0, ["invalid_utf8"])
    assert by_path["nul.py"] == (0, ["nul_byte"])
    assert by_path["null.py"] == (0, ["null_text"])
    assert by_path["big.py"] == (0, ["too_large"])
    assert by_path["num.py"] == (0, ["text_not_string"])
    assert by_path["l1.py"] == (0, ["invalid_utf8"])
    assert by_path["ok.py"][0] > 0 and by_path["j.py"][0] > 0
    bad_json = table.filter(pc.is_null(table.column("path")))
    assert bad_json.column("reasons").to_pylist() == [["bad_json"]]
    assert pc.count_distinct(table.column("id")).as_py() == 9


def test_empty_shards_are_fine(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    pq.write_table(pa.table({"content": pa.array([], pa.string())}), folder / "empty.parquet")
    (folder / "empty.jsonl").write_bytes(b"")
    (folder / "zero.parquet").write_bytes(b"")
    pq.write_table(pa.table({"content": [GOOD], "path": ["a.py"]}), folder / "one.parquet")
    table = run_folder(folder, tmp_path / "out")
    assert table.num_rows == 1


def test_duplicate_input_ids_fail_loudly(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    pq.write_table(pa.table({"id": ["a", "a"], "content": [GOOD, GOOD + "\n"]}), folder / "d.parquet")
    res = cli("run", "--config", str(CONFIGS / "default.yaml"), "--input", str(folder),
              "--output", str(tmp_path / "out"), "--executor", "local", "--quiet")
    assert_one_line_error(res, "ids are not unique", "'a'")
