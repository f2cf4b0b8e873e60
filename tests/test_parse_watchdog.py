"""The per-document parse watchdog (`codesieve.core.parsewatch`) on the real hanging document.

`fixtures/perl_scanner_hang.patch` sends the Perl grammar of tree-sitter-language-pack
0.13.0 into an endless loop inside its external scanner. Perl is not parsed in normal runs;
`CODESIEVE_TEST_PARSE_PERL=1` puts it back (tests only), so the document really wedges the
parser (through the rules gate's `syntax_error_fraction`, added to the default config here).
With `input.parse_timeout_s: 3` the run must end with that row in tier 0
(`parse_timeout`) and every other row exactly as in a run without it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).parent / "fixtures" / "perl_scanner_hang.patch"
ENV = {**os.environ, "CODESIEVE_TEST_PARSE_PERL": "1"}


def _input(folder: Path, with_hang: bool) -> Path:
    """60 real sample files (JavaScript, PHP, Perl tests...) and, optionally, the hanging one."""
    t = pq.read_table(ROOT / "data_samples" / "code-00000.parquet").slice(0, 60).select(["id", "content", "path"])
    if with_hang:
        hang = pa.table({"id": ["hang"], "content": [FIXTURE.read_text(encoding="utf-8")],
                         "path": ["lib/Mail/Patch.pm"]})
        t = pa.concat_tables([t.slice(0, 30), hang.cast(t.schema), t.slice(30)])
    folder.mkdir()
    pq.write_table(t, folder / "part-0.parquet")
    return folder


def _config(tmp: Path) -> Path:
    from codesieve.pipeline.config import resolve_config_path

    raw = yaml.safe_load(resolve_config_path("default").read_text())
    raw["input"]["parse_timeout_s"] = 3
    # NL detection reads comments from a lexer: the rules gate's tree-sitter statistic is
    # what parses every document here (max 1 never fails a row; it only measures)
    rules = next(g for g in raw["gates"] if g.get("gate") == "rules")
    rules["rules"].append({"rule": "syntax_error_fraction", "max": 1.0})
    path = tmp / "cfg.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _run(cfg: Path, inp: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "codesieve", "run", "--config", str(cfg), "--input", str(inp), "--output", str(out),
           "--quiet", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=ENV, cwd=ROOT)


def _rows(out: Path) -> dict[str, dict]:
    from codesieve.pipeline.io import output_dataset

    return {r["id"]: r for r in output_dataset(str(out)).to_table().to_pylist()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict]]:
    """The same input without the hanging document, Perl parsed."""
    tmp = tmp_path_factory.mktemp("ref")
    cfg = _config(tmp)
    r = _run(cfg, _input(tmp / "in", False), tmp / "out", "--executor", "local")
    assert r.returncode == 0, r.stderr[-2000:]
    return cfg, _rows(tmp / "out")


def _check(rows: dict[str, dict], ref: dict[str, dict]) -> None:
    hang = rows.pop("hang")
    assert (hang["tier"], hang["stage_failed"], hang["reasons"]) == (0, "input", ["parse_timeout"])
    assert rows == ref  # every other row as if the document were not there


@pytest.mark.slow
def test_local_run_stops_and_the_rerun_quarantines_the_document(tmp_path, reference) -> None:
    """In-process, the watchdog ends the run itself (exit status 1, the wedged traceback in
    the evidence file); the rerun resumes, says so in one line and finishes."""
    cfg, ref = reference
    inp, out = _input(tmp_path / "in", True), tmp_path / "out"
    first = _run(cfg, inp, out, "--executor", "local")
    assert first.returncode == 1 and first.stderr == "", first.stderr[-2000:]
    dumps = list((out / ".codesieve" / "work" / "parse_timeouts").glob("dump-*"))
    assert any("treesitter.py" in p.read_text() or "natural.py" in p.read_text() for p in dumps)
    second = _run(cfg, inp, out, "--executor", "local")
    assert second.returncode == 0, second.stderr[-2000:]
    assert "wedged the parser" in second.stderr and "Traceback" not in second.stderr
    _check(_rows(out), ref)
    manifest = json.loads((out / ".codesieve" / "manifest.json").read_text())
    assert manifest["quarantine"]["parse_timeout"] == 1


@pytest.mark.slow
def test_ray_run_finishes_with_the_document_in_tier_0(tmp_path, reference) -> None:
    """On Ray the wedged worker ends itself; Ray reruns the unit, which quarantines the row."""
    cfg, ref = reference
    out = tmp_path / "out"
    r = _run(cfg, _input(tmp_path / "in", True), out, "--workers", "1")
    assert r.returncode == 0, r.stderr[-2000:]
    _check(_rows(out), ref)
