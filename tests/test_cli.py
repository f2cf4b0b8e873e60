"""`codesieve gates` and `--help`: the registry in the shape DESIGN.md gives."""

from __future__ import annotations

import json
import subprocess
import sys

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
