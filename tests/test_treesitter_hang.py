"""A document that sends a grammar into an endless loop must not wedge a run.

`fixtures/perl_scanner_hang.patch` is a real Debian patch (memcached, with a one-word edit
from benchmarks/scale.py's resampling) on which the Perl grammar of
tree-sitter-language-pack 0.13.0 never returns: the loop is in the grammar's external
scanner, where no progress callback or timeout reaches. It stopped a 1M-row load run
after 199 of 200 units. Perl is therefore not parsed (filters/treesitter.py); these tests
run in a subprocess with a timeout, so a regression fails instead of hanging the suite.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FIXTURE = Path(__file__).parent / "fixtures" / "perl_scanner_hang.patch"

PARSE_ALL = """
import sys
import numpy as np
import pyarrow as pa
from codesieve.core.batch import DocBatch
from codesieve.filters.langid.natural import comment_text
from codesieve.filters.treesitter import parse_stats
from codesieve.scorers.features import ast_features
doc = open(sys.argv[1], encoding="utf-8").read()
assert comment_text(pa.array([doc]), pa.array(["Perl"]), 2048) == [""]
assert np.isnan(parse_stats([doc], "Perl").error_frac[0])
batch = DocBatch(pa.table({"content": [doc], "lang": ["Perl"]}))
assert ast_features(batch, 2048)["parsed"][0] == 0.0
print("ok")
"""


def test_every_tree_sitter_user_returns_on_the_hanging_document():
    r = subprocess.run([sys.executable, "-c", PARSE_ALL, str(FIXTURE)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "ok"


def test_a_run_with_the_document_as_perl_finishes(tmp_path):
    inp = tmp_path / "in"
    inp.mkdir()
    doc = FIXTURE.read_text(encoding="utf-8")
    rows = [{"id": "hang", "content": doc, "path": "lib/Mail/Patch.pm"},
            {"id": "ok", "content": "#!/usr/bin/perl\n# say hello\nprint \"hello\\n\";\n", "path": "bin/hello.pl"}]
    (inp / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "codesieve", "run", "--config", "default", "--input", str(inp),
                        "--output", str(out), "--executor", "local", "--quiet"],
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-2000:]
    manifest = json.loads((out / ".codesieve" / "manifest.json").read_text())
    assert manifest["rows_in"] == manifest["rows_out"] == 2
    assert manifest["gates"]["language"]["rows_in"] == 2
