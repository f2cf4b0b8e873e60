"""`codesieve dry-run` on the real sample shards: its numbers agree with what `codesieve
run` removes, the single-rule report (quantiles, sweep, examples) is consistent, snippets
are escaped, and mistakes are one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.compute as pc
import pytest
from conftest import CONFIGS, SAMPLES

from codesieve.pipeline.cli import main as cli
from codesieve.pipeline.dryrun import escape_snippet
from codesieve.pipeline.executors import LocalExecutor
from codesieve.pipeline.io import output_dataset
from codesieve.pipeline.runner import run

DEFAULT = str(CONFIGS / "default.yaml")


def dry(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "dry.json"
    assert cli(["dry-run", "--config", DEFAULT, "--input", str(SAMPLES), *args, "--json", str(out)]) == 0
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def run_table(tmp_path_factory: pytest.TempPathFactory):
    from codesieve.pipeline.config import load_config

    out = tmp_path_factory.mktemp("run") / "out"
    run(
        load_config(DEFAULT), str(SAMPLES), str(out), LocalExecutor(), gates=["language", "rules"], quiet=True
    )
    return output_dataset(str(out)).to_table(columns=["id", "stage_failed", "reasons"])


def test_all_rules_agree_with_run(tmp_path: Path, run_table) -> None:
    got = dry(tmp_path, "--all-rules")
    failed = run_table.filter(pc.equal(run_table["stage_failed"], "rules"))
    assert got["removed_rows"] == failed.num_rows > 0
    reasons = failed["reasons"].to_pylist()
    for check in got["checks"]:
        name = check["check"]
        assert check["rows"] == sum(name in r for r in reasons), name
        assert check["unique_rows"] == sum(r == [name] for r in reasons), name
        assert check["first_rows"] == sum(r[0] == name for r in reasons), name
    # rows reaching the rules gate = rows the language gate let through
    lang_failed = run_table.filter(pc.equal(run_table["stage_failed"], "language")).num_rows
    assert got["rows_reaching"] == got["rows_scanned"] - lang_failed
    rows = [c["rows"] for c in got["checks"]]
    assert rows == sorted(rows, reverse=True)


def test_one_rule_report(tmp_path: Path, run_table, capsys: pytest.CaptureFixture[str]) -> None:
    got = dry(tmp_path, "--rule", "max_line_length", "--threshold", "500", "1000", "5000")
    text = capsys.readouterr().out
    failed = run_table.filter(pc.equal(run_table["stage_failed"], "rules"))
    assert got["removed_rows"] == sum("max_line_length" in r for r in failed["reasons"].to_pylist())
    assert [s["threshold"] for s in got["sweep"]] == [500, 1000, 5000]
    sweep_rows = [s["rows"] for s in got["sweep"]]
    assert sweep_rows == sorted(sweep_rows, reverse=True)
    q = list(got["quantiles"].values())
    assert q == sorted(q) and len(q) == 11
    assert sum(r["removed"] for r in got["per_lang"]) == got["removed_rows"]
    fail_ex, pass_ex = got["examples_failing"], got["examples_passing"]
    assert 0 < len(fail_ex) <= 5 and 0 < len(pass_ex) <= 5
    assert all(
        e["value"] > 1000 for e in fail_ex if e["lang"] not in ("HTML", "JSON", "Markdown", "Text", "XML")
    )
    assert [e["margin"] for e in fail_ex] == sorted(e["margin"] for e in fail_ex)
    assert "sweep" in text and "nearest the threshold" in text


def test_rule_outside_the_config_uses_the_given_threshold(tmp_path: Path) -> None:
    got = dry(tmp_path, "--rule", "top_3gram_fraction", "--threshold", "0.3", "--limit-rows", "300")
    assert got["params"]["max"] == 0.3 and got["direction"] == "max"
    assert 290 <= got["rows_scanned"] <= 300  # quarantined rows are not scanned
    assert got["removed_rows"] == got["sweep"][0]["rows"]


def test_rule_sweeps_its_own_direction_over_per_language_overrides(tmp_path: Path) -> None:
    """Issue 10: num_chars has a global `min` and a per-language (JSON/YAML) `max`: the
    sweep fails files *below* each threshold, so it shrinks as the threshold falls."""
    got = dry(tmp_path, "--rule", "num_chars", "--threshold", "20", "100", "1000", "--lang-column", "language")
    assert got["direction"] == "min"
    rows = [s["rows"] for s in got["sweep"]]
    assert rows == sorted(rows) and rows[-1] > rows[0]


def test_lang_column_skips_language_gate(tmp_path: Path) -> None:
    got = dry(tmp_path, "--all-rules", "--lang-column", "language", "--limit-rows", "200")
    assert got["rows_reaching"] == got["rows_scanned"] <= 200


def test_snippets_are_escaped() -> None:
    s = escape_snippet("ok\x1b[31mred\x07\nline2\u202e\nline3\nline4")
    assert "\x1b" not in s and "\x07" not in s and "\u202e" not in s
    assert "\\x1b" in s and "\\n" in s and "line4" not in s


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--rule", "no_such_rule"], "unknown rule"),
        (["--gate", "dedup"], "global"),
        (["--scorer", "x"], "unknown scorer"),
    ],
)
def test_errors_are_one_line(args: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["dry-run", "--config", DEFAULT, "--input", str(SAMPLES), *args]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1


def test_dry_run_on_a_finished_output_re_decides_stored_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On an output folder, dry-run reads the stored h_* columns: no rule measures again,
    and the numbers equal a dry run on the raw input."""
    from codesieve.core.base import Rule
    from codesieve.pipeline.config import load_config

    out = tmp_path / "out"
    run(load_config(DEFAULT), str(SAMPLES), str(out), LocalExecutor(), gates=["language", "rules"], quiet=True)
    raw_rule = dry(tmp_path, "--rule", "max_line_length", "--threshold", "200")
    raw_all = dry(tmp_path, "--all-rules")

    def forbid(*_a, **_k):
        raise AssertionError("measured again")

    from codesieve.core.registry import RULES

    monkeypatch.setattr(Rule, "measure", forbid)
    for cls in RULES.values():
        monkeypatch.setattr(cls, "measure", forbid)
    j = tmp_path / "stored.json"
    assert cli(["dry-run", "--config", DEFAULT, "--input", str(out), "--rule", "max_line_length",
                "--threshold", "200", "--json", str(j)]) == 0
    stored_rule = json.loads(j.read_text())
    assert cli(["dry-run", "--config", DEFAULT, "--input", str(out), "--all-rules", "--json", str(j)]) == 0
    stored_all = json.loads(j.read_text())
    for key in ("rows_reaching", "removed_rows", "removed_bytes", "sweep", "quantiles"):
        assert stored_rule[key] == raw_rule[key], key
    assert stored_all["checks"] == raw_all["checks"]
    assert stored_all["removed_rows"] == raw_all["removed_rows"] > 0
