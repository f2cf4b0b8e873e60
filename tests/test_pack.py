"""`codesieve pack-repos` on small real repositories (tests/fixtures/pack/repos.parquet).

The fixture holds the source files of five packages from the dev corpus (none reserved):
pypi/jmespath@1.0.1 (Python), npm/cross-spawn@7.0.3 (JavaScript), pypi/setproctitle@1.3.3
(C), debian/golang-github-davecgh-go-spew@1.1.1-3 (Go) and
debian/librust-semver-dev@1.0.14-1 (Rust; `error.rs` and `parse.rs` use each other: a cycle).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from codesieve.pipeline.imports import dependencies, dependency_order
from codesieve.pipeline.pack import REPO, SEP, repo_samples

FIXTURE = Path(__file__).parent / "fixtures" / "pack" / "repos.parquet"
SEMVER = "usr/share/cargo/registry/semver-1.0.14/src/"


def repo(name: str) -> dict[str, str]:
    t = pq.read_table(FIXTURE)
    t = t.filter(pc.equal(t["repo_name"], name))
    return dict(zip(t["path"].to_pylist(), t["content"].to_pylist()))


def ordered(name: str) -> tuple[list[str], dict[str, list[str]], int]:
    deps = dependencies(repo(name))
    order, broken = dependency_order(deps)
    return order, deps, broken


@pytest.mark.parametrize("name", ["pypi/jmespath@1.0.1", "npm/cross-spawn@7.0.3", "pypi/setproctitle@1.3.3",
                                  "debian/golang-github-davecgh-go-spew@1.1.1-3"])
def test_acyclic_repos_put_every_dependency_first(name):
    order, deps, broken = ordered(name)
    assert broken == 0 and sorted(order) == sorted(deps)
    pos = {p: i for i, p in enumerate(order)}
    edges = [(p, d) for p, ds in deps.items() for d in ds]
    assert len(edges) >= 5
    assert all(pos[d] < pos[p] for p, d in edges)


def test_known_edges_are_found():
    _, deps, _ = ordered("pypi/jmespath@1.0.1")
    assert deps["jmespath/__init__.py"] == ["jmespath/parser.py", "jmespath/visitor.py"]
    assert "jmespath/lexer.py" in deps["jmespath/parser.py"]  # from jmespath import lexer
    _, deps, _ = ordered("npm/cross-spawn@7.0.3")
    assert deps["index.js"] == ["lib/enoent.js", "lib/parse.js"]  # require('./lib/parse')
    _, deps, _ = ordered("pypi/setproctitle@1.3.3")
    assert deps["src/spt_status.h"] == ["src/c.h"]  # #include "c.h"
    _, deps, _ = ordered("debian/golang-github-davecgh-go-spew@1.1.1-3")
    assert "spew/dump.go" in deps["spew/dump_test.go"]  # import "github.com/davecgh/go-spew/spew"


def test_cycle_is_broken_deterministically():
    order, deps, broken = ordered("debian/librust-semver-dev@1.0.14-1")
    assert SEMVER + "parse.rs" in deps[SEMVER + "error.rs"] and SEMVER + "error.rs" in deps[SEMVER + "parse.rs"]
    assert broken == 1
    pos = {p: i for i, p in enumerate(order)}
    # the tie is broken by path: error.rs first, then parse.rs, then lib.rs which declares both
    assert pos[SEMVER + "error.rs"] < pos[SEMVER + "parse.rs"] < pos[SEMVER + "lib.rs"]
    assert order[-1] == SEMVER + "lib.rs" or pos[SEMVER + "lib.rs"] > max(pos[d] for d in deps[SEMVER + "lib.rs"])
    shuffled = dict(reversed(list(repo("debian/librust-semver-dev@1.0.14-1").items())))
    assert dependency_order(dependencies(shuffled))[0] == order


def test_java_imports():
    files = {"src/main/java/org/ex/App.java": "package org.ex;\nimport org.ex.util.Strings;\nimport java.util.List;\n",
             "src/main/java/org/ex/util/Strings.java": "package org.ex.util;\nimport org.ex.model.*;\n",
             "src/main/java/org/ex/model/User.java": "package org.ex.model;\n"}
    deps = dependencies(files)
    assert deps["src/main/java/org/ex/App.java"] == ["src/main/java/org/ex/util/Strings.java"]
    assert deps["src/main/java/org/ex/util/Strings.java"] == ["src/main/java/org/ex/model/User.java"]
    assert dependency_order(deps)[0][-1] == "src/main/java/org/ex/App.java"


def test_split_rule_keeps_every_byte_and_the_budget():
    files = list(repo("pypi/jmespath@1.0.1").items())
    samples, split = repo_samples("pypi/jmespath@1.0.1", files, 4096)
    assert split > 0
    assert all(s["text"].startswith(f"{REPO}pypi/jmespath@1.0.1\n{SEP}") for s in samples)
    assert all(len(s["text"].encode()) <= 4096 for s in samples)
    # put the pieces back together: every file's content comes back whole, in order
    rebuilt: dict[str, str] = {}
    seen: list[str] = []
    for s in samples:
        body = s["text"].split("\n", 1)[1]
        for block in body.split(SEP)[1:]:
            path, content = block.split("\n", 1)
            rebuilt[path] = rebuilt.get(path, "") + content
            if not seen or seen[-1] != path:
                seen.append(path)
    assert seen == [p for p, _ in files]
    for path, content in files:
        assert rebuilt[path] in (content, content + "\n")


def test_pack_repos_cli_end_to_end(tmp_path):
    out = tmp_path / "out"
    run = [sys.executable, "-m", "codesieve", "run", "--config", "default", "--input", str(FIXTURE),
           "--output", str(out), "--executor", "local", "--quiet"]
    assert subprocess.run(run, capture_output=True, text=True).returncode == 0
    cmd = [sys.executable, "-m", "codesieve", "pack-repos", "--input", str(out), "--output", str(tmp_path / "p"),
           "--max-bytes", "32768"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    m = json.loads((tmp_path / "p" / "pack.json").read_text())
    assert m["repos"] == 5 and m["cycles_broken"] >= 1
    t = pq.read_table(tmp_path / "p" / m["shards"][0])
    assert t.num_rows == m["samples"] and max(t["bytes"].to_pylist()) <= 32768
    semver = [r for r in t.to_pylist() if r["repo_name"].startswith("debian/librust-semver")]
    paths = [p for r in sorted(semver, key=lambda r: r["part"]) for p in r["paths"]]
    assert paths.index(SEMVER + "error.rs") < paths.index(SEMVER + "parse.rs") < paths.index(SEMVER + "lib.rs")
    bad = subprocess.run(cmd[:-2] + ["--tiers", "nonsense"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--tiers nonsense" in bad.stderr
