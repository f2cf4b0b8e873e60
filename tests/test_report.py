"""`codesieve report` on a real run (data_samples + hostile documents), checked in headless Chromium."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from tools_run import chromium_or_skip, default_run

from codesieve.pipeline.report import write_report
from codesieve.pipeline.results import load_manifest


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = default_run(tmp_path_factory.mktemp("tools"))
    dest = tmp_path_factory.mktemp("report")
    rep = write_report(str(out), str(dest))
    return out, dest, rep


def test_report_numbers_match_the_manifest(report):
    out, dest, rep = report
    manifest = load_manifest(str(out))
    assert sum(t["rows"] for t in rep["tiers"]) == manifest["rows_in"]
    assert rep["reused"] == {} and "A resumed run" not in (dest / "report.html").read_text()  # a fresh run
    for t in rep["tiers"]:
        assert t["rows"] == manifest["tiers"].get(str(t["tier"]), {}).get("rows", 0)
    # the funnel: each gate's input is the previous gate's output, and removals match stats
    for a, b in zip(rep["funnel"], rep["funnel"][1:]):
        assert b["rows_in"] == a["rows_out"]
    for step in rep["funnel"][1:]:
        gate = manifest["gates"].get(step["gate"])
        if gate:
            assert step["rows_in"] - step["rows_out"] == gate["rows_failed"], step
    # per-rule removals agree with the manifest's reason counts; unique <= removed
    reasons = manifest["gates"]["rules"]["reasons"]
    for r in rep["rules"]:
        assert r["removed"] == reasons.get(r["rule"], 0)
        assert 0 <= r["unique"] <= r["removed"]
    assert sum(r["unique"] for r in rep["rules"]) <= manifest["gates"]["rules"]["rows_failed"]
    assert rep["languages"] and len(rep["languages"]) <= 30
    assert rep["dedup"]["clusters"] > 0
    assert json.loads((dest / "report.json").read_text())["rows_in"] == manifest["rows_in"]


def test_report_escapes_document_text(report):
    _, dest, _ = report
    html = (dest / "report.html").read_text()
    assert "&lt;script&gt;document.title=" in html  # the hostile sample is shown, as text
    assert "<script" not in html.lower() and "onerror=\"" not in html and "<svg onload" not in html
    assert "</textarea></pre>" not in html


def test_report_is_deterministic(report, tmp_path):
    out, dest, _ = report
    write_report(str(out), str(tmp_path))
    assert (tmp_path / "report.html").read_bytes() == (dest / "report.html").read_bytes()
    assert (tmp_path / "report.json").read_bytes() == (dest / "report.json").read_bytes()


def test_report_in_headless_chromium(report):
    binary = chromium_or_skip()
    from chromium import Browser

    _, dest, _ = report
    browser = Browser(binary)
    try:
        page = browser.open(str(dest / "report.html"))
        errors = browser.errors()
    finally:
        browser.close()
    assert errors == []
    assert page["title"].startswith("codesieve report") and "PWNED" not in page["title"]
    assert page["scripts"] == 0 and not page["pwned"]
    plots = [i for i in page["images"] if i["cls"] == "plot"]
    assert len(plots) >= 4 and len(plots) == len(page["images"])  # no injected <img>
    assert all(i["complete"] and i["data"] and i["w"] > 200 and i["h"] > 100 and i["shown"] > 200 for i in plots)
    assert any("<script>document.title='PWNED'" in t and "</textarea>" in t for t in page["pre"])


def test_report_cli_on_raw_shards(tmp_path):
    cmd = [sys.executable, "-m", "codesieve", "report", "data_samples", "--config", "default",
           "--limit-rows", "300", "--out", str(tmp_path)]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=str(pytest.importorskip("tools_run").ROOT))
    assert res.returncode == 0, res.stderr
    assert "report.html" in res.stdout and "tier" in res.stdout
    rep = json.loads((tmp_path / "report.json").read_text())
    assert rep["rows_in"] == 300 and rep["output"] == "data_samples"
    assert not list(tmp_path.glob("tier=*"))  # no dataset written


def test_report_errors_are_one_line(tmp_path):
    res = subprocess.run([sys.executable, "-m", "codesieve", "report", str(tmp_path)], capture_output=True, text=True)
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "manifest.json" in res.stderr and "Traceback" not in res.stderr
