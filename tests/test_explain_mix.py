"""`codesieve explain` and `codesieve mix` on a real default-config run over data_samples/."""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from tools_run import ROOT, default_run

from codesieve.pipeline.explain import explain, render_text
from codesieve.pipeline.io import output_dataset
from codesieve.pipeline.mix import load_recipe, mix
from codesieve.pipeline.strip import strip_code

RECIPE = ROOT / "configs" / "recipes" / "mix_example.yaml"


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return default_run(tmp_path_factory.mktemp("tools"))


def _first(out, expr):
    t = output_dataset(str(out)).to_table(columns=["id", "stage_failed", "reasons"], filter=expr)
    return t.sort_by("id").to_pylist()[0]


def test_explain_rule_failure_names_value_threshold_and_config_line(out):
    row = _first(out, pc.field("stage_failed") == "rules")
    info = explain(row["id"], str(out))
    assert info["tier"] == 1 and info["stage_failed"] == "rules" and info["reasons"] == row["reasons"]
    check = info["failed_checks"][0]
    assert check["check"] == row["reasons"][0] and check["value"] is not None
    lo, hi = check["min"], check["max"]
    assert (hi is not None and check["value"] > hi) or (lo is not None and check["value"] < lo)
    line = int(check["config"]["entry"].rsplit(":", 1)[1])
    text = (ROOT / "configs" / "default.yaml").read_text().splitlines()[line - 1]
    assert f"rule: {check['check']}" in text
    assert info["language"]["source"] in ("filename", "extension", "shebang", "heuristic", "ambiguous", "content")
    assert f"failed    {check['check']}" in render_text(info)


def test_explain_duplicate_points_at_the_kept_copy(out):
    row = _first(out, pc.field("stage_failed") == "dedup")
    info = explain(row["id"], str(out))
    kept = info["dedup"]["kept"][0]
    assert kept["id"] != row["id"] and kept["stage_failed"] != "dedup"
    assert info["dedup"]["size"] >= 2 and not info["dedup"]["this_is_kept"]


def test_explain_language_source_and_cli(out):
    res = subprocess.run([sys.executable, "-m", "codesieve", "explain", "!hostile-1", "--output", str(out), "--json"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    info = json.loads(res.stdout)
    assert info["language"]["lang"] == "Markdown" and info["language"]["source"] == "extension"
    res = subprocess.run([sys.executable, "-m", "codesieve", "explain", "no-such-id", "--output", str(out)],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "no-such-id" in res.stderr and res.stderr.count("\n") == 1


def test_mix_hits_the_recipe_proportions(out, tmp_path):
    m = mix([str(out)], load_recipe(str(RECIPE)), str(tmp_path))
    assert m["missing_categories"] == ["math"]  # no TeX in data_samples: code:text renormalized 7:2
    for cat in m["categories"].values():
        assert abs(cat["achieved_share"] - cat["target_share"]) < 0.01
    assert abs(m["achieved_bytes"] - m["target_bytes"]) / m["target_bytes"] < 0.01
    shards = pa.concat_tables([pq.read_table(tmp_path / s) for s in m["shards"]])
    assert shards.num_rows == m["rows"] and set(shards["tier"].to_pylist()) <= {5, 6, 7}  # the quality bands
    got = pc.sum(pc.binary_length(shards["content"])).as_py()
    assert got == m["achieved_bytes"]
    text = m["categories"]["text"]
    assert text["max_copies"] >= 2 and text["repeated_docs"] > 0  # text is scarce: repeated
    assert text["code_bytes_removed"] > 0
    texts = shards.filter(pc.equal(shards["category"], "text"))["content"].to_pylist()
    fences = [ln for t in texts for ln in t.splitlines() if ln.lstrip().startswith(("```", "~~~"))]
    assert fences == []  # no fenced code block is left in text documents
    json_share = m["categories"]["code"]["languages"].get("JSON", {}).get("share_of_category", 0)
    assert json_share <= 0.05 + 0.01


def test_mix_is_deterministic_and_seeded(out, tmp_path):
    recipe = load_recipe(str(RECIPE))
    mix([str(out)], recipe, str(tmp_path / "a"))
    mix([str(out)], recipe, str(tmp_path / "b"))
    assert (tmp_path / "a" / "part-00000.parquet").read_bytes() == (tmp_path / "b" / "part-00000.parquet").read_bytes()
    other = recipe.model_copy(update={"seed": 7})
    mix([str(out)], other, str(tmp_path / "c"))
    assert (tmp_path / "c" / "part-00000.parquet").read_bytes() != (tmp_path / "a" / "part-00000.parquet").read_bytes()


def test_mix_short_category_lowers_the_total(out, tmp_path):
    recipe = load_recipe(str(RECIPE))
    recipe = recipe.model_copy(update={"target": recipe.target.model_copy(update={"tokens": 10**8}), "max_repeat": 2.0})
    m = mix([str(out)], recipe, str(tmp_path))
    assert m["short"]["limiting_category"] == "text"
    assert m["categories"]["text"]["max_copies"] == 2
    for cat in m["categories"].values():
        assert abs(cat["achieved_share"] - cat["target_share"]) < 0.01


def test_strip_code_markdown_and_rst():
    md = "# T\n\nProse.\n\n```python\nimport os\n```\n\nMore.\n\n    x = 1\n    y()\n\nEnd.\n"
    rst = "Use::\n\n    import foo\n\nThen.\n\n.. code-block:: python\n\n   x = 1\n\nDone.\n"
    text, removed = strip_code(pa.array([md, rst, md]), pa.array(["Markdown", "reStructuredText", "Python"]), None)
    a, b, c = text.to_pylist()
    assert "import os" not in a and "x = 1" not in a and "Prose." in a and "End." in a
    assert "import foo" not in b and "x = 1" not in b and "Then." in b and "Done." in b
    assert c == md and removed[2] == 0
    assert removed[0] == len(md.encode()) - len(a.encode()) > 0


def test_bad_recipe_is_one_line(out, tmp_path):
    bad = tmp_path / "mix.yaml"
    bad.write_text("target: {tokens: 10}\ncategories: {code: 1}\ntiers: {passed: 1}\ncolour: red\n")
    res = subprocess.run([sys.executable, "-m", "codesieve", "mix", "--input", str(out), "--recipe", str(bad),
                          "--output", str(tmp_path / "o")], capture_output=True, text=True)
    assert res.returncode == 2 and "colour" in res.stderr and res.stderr.count("\n") == 1
