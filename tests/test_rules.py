"""Heuristic rules on real files from the dev corpus (tests/fixtures/rules/snippets.parquet):
every rule fails a real file and passes another under its configured threshold, the
vectorized `measure` equals the per-document `reference`, and the named cases (minified
bundle, protobuf stubs, lock file, base64 blob, data dump, normal code) land where they
should under configs/default.yaml."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import codesieve.filters  # noqa: F401  (registers the rules)
from codesieve.core.base import Rule
from codesieve.core.batch import DocBatch
from codesieve.core.registry import RULES
from codesieve.filters.rules.gate import RulesGate, build_rule
from codesieve.pipeline.config import load_config

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "rules"
SNIPPETS = pq.read_table(FIXTURES / "snippets.parquet")
NAMES = SNIPPETS["name"].to_pylist()


def _builder():
    spec = importlib.util.spec_from_file_location("build_fixtures", FIXTURES / "build_fixtures.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


CASES = _builder().rule_cases()


def batch_of(names: list[str] | None = None, large: bool = False) -> DocBatch:
    table = SNIPPETS if names is None else SNIPPETS.take(pa.array([NAMES.index(n) for n in names]))
    if large:
        table = table.set_column(
            table.column_names.index("content"), "content", table["content"].cast(pa.large_string())
        )
    return DocBatch(table)


def row(name: str) -> dict:
    return SNIPPETS.slice(NAMES.index(name), 1).to_pylist()[0]


def default_rules() -> RulesGate:
    cfg = load_config(ROOT / "configs" / "default.yaml")
    return next(g for g in cfg.gates if g.name == "rules")  # type: ignore[return-value]


def test_at_least_40_documented_rules() -> None:
    assert len(RULES) >= 40
    for name, cls in RULES.items():
        assert (cls.__doc__ or "").strip(), f"{name} has no docstring"
        assert hasattr(cls, "reference"), f"{name} has no per-document reference"


@pytest.mark.parametrize("large", [False, True], ids=["string", "large_string"])
@pytest.mark.parametrize("name", sorted(RULES))
def test_vectorized_equals_reference(name: str, large: bool) -> None:
    rule: Rule = RULES[name](RULES[name].Params())
    batch = batch_of(large=large)
    got = rule.measure(batch)
    assert got.shape == (batch.num_rows,)
    for i, r in enumerate(SNIPPETS.to_pylist()):
        want = rule.reference(r["content"], r["path"], r["lang"])
        if math.isnan(want):
            assert math.isnan(got[i]), (r["name"], got[i])
        else:
            assert got[i] == pytest.approx(want, rel=1e-9, abs=1e-12), (r["name"], got[i], want)


@pytest.mark.parametrize("rule_name", sorted(CASES))
def test_rule_fails_and_passes_real_files(rule_name: str) -> None:
    rule = build_rule({"rule": rule_name, **CASES[rule_name]}, rule_name)
    for kind, expect in (("fail", True), ("pass", False)):
        name = f"{rule_name}:{kind}"
        if name not in NAMES:
            continue
        batch = batch_of([name])
        values = rule.measure(batch)
        assert bool(rule.decide(values, batch)[0]) is expect, (name, values[0], CASES[rule_name])


def test_rules_without_a_dev_failure_case() -> None:
    # no assembly file of the dev corpus fails StarCoder2's alnum bound; nothing small is 3 MB
    alnum = build_rule({"rule": "alnum_fraction", "min": 0.5}, "t")
    b = batch_of(["whitespace_fraction:fail", "alnum_fraction:pass"])
    assert alnum.decide(alnum.measure(b), b).tolist() == [True, False]
    size = build_rule({"rule": "file_bytes", "max": 10_000}, "t")
    b = batch_of(["minified_bundle", "python_code"])
    assert size.decide(size.measure(b), b).tolist() == [True, False]


def test_measure_does_not_depend_on_the_batch() -> None:
    whole = batch_of()
    for name in sorted(RULES):
        rule = RULES[name](RULES[name].Params())
        together = rule.measure(whole)
        for i in (0, 3, 9, 40):
            alone = rule.measure(batch_of([NAMES[i]]))[0]
            assert (math.isnan(alone) and math.isnan(together[i])) or alone == pytest.approx(together[i]), (
                name
            )


def test_empty_batch_and_edge_documents() -> None:
    table = pa.table(
        {
            "content": ["", "\n", "x", "héllo wörld\tñ", "a\nb\n", "   \n\t\n"],
            "path": [None, "a.py", "b", "c.txt", "d.c", "e.go"],
            "lang": [None, "Python", None, "Text", "C", "Go"],
        }
    )
    for name in sorted(RULES):
        rule = RULES[name](RULES[name].Params())
        assert len(rule.measure(DocBatch(table.slice(0, 0)))) == 0, name
        got = rule.measure(DocBatch(table))
        for i, r in enumerate(table.to_pylist()):
            want = rule.reference(r["content"], r["path"], r["lang"])
            assert (math.isnan(want) and math.isnan(got[i])) or got[i] == pytest.approx(want), (
                name,
                r,
                got[i],
            )


# --- the named real files under configs/default.yaml ----------------------------------


def fails_default(name: str) -> list[str]:
    gate = default_rules()
    res = gate.apply(batch_of([name]), None)  # type: ignore[arg-type]
    return [n for n, f in zip(res.reason_names, res.fails[0]) if f]


@pytest.mark.parametrize(
    "name, reason",
    [
        ("minified_bundle", "generated_path"),
        ("minified_bundle", "max_line_length"),
        ("protobuf_pb2", "generated_path"),
        ("protobuf_pb_go", "generated_path"),
        ("protobuf_pb_go", "autogenerated_marker"),
        ("lock_file", "generated_path"),
        ("base64_blob", "encoded_data_max_run"),
        ("data_dump", "num_chars"),
        ("autogenerated", "autogenerated_marker"),
        ("xml_pom", "xml_header"),
        ("license_text", "text_name_allowed"),
    ],
)
def test_bad_files_fail_the_default_gate(name: str, reason: str) -> None:
    assert reason in fails_default(name)


@pytest.mark.parametrize(
    "name",
    [
        "python_code",
        "go_code",
        "go_test",
        "c_header",
        "java_code",
        "javascript_code",
        "rust_code",
        "typescript_code",
        "cpp_code",
        "shell_code",
        "ruby_code",
        "php_code",
    ],
)
def test_normal_code_passes_the_default_gate(name: str) -> None:
    assert fails_default(name) == []


def test_values_and_reasons_follow_config_order() -> None:
    gate = default_rules()
    batch = batch_of(["minified_bundle", "python_code", "go_test"])
    res = gate.apply(batch, None)  # type: ignore[arg-type]
    assert set(res.columns) == {f"h_{r.name}" for r in gate.rules}
    assert res.reason_names == [r.name for r in gate.rules]
    first = res.reason_names[int(np.argmax(res.fails[0]))]
    assert first == "generated_path"  # listed first in default.yaml
    assert res.columns["h_test_file"].to_pylist() == [0.0, 0.0, 1.0]
    assert res.passed.tolist() == [False, True, True]


def test_language_specific_rules_are_nan_elsewhere() -> None:
    batch = batch_of(["python_code", "go_code", "c_header"])
    py = RULES["python_pass_fraction"](RULES["python_pass_fraction"].Params()).measure(batch)
    assert not math.isnan(py[0]) and math.isnan(py[1]) and math.isnan(py[2])
    c = RULES["c_preprocessor_fraction"](RULES["c_preprocessor_fraction"].Params()).measure(batch)
    assert math.isnan(c[0]) and c[2] > 0
    ts = RULES["syntax_error_fraction"](RULES["syntax_error_fraction"].Params()).measure(batch)
    assert ts.tolist()[:2] == [0.0, 0.0]


@pytest.mark.parametrize(("config", "at_least"), [("default", 14), ("starcoder2", 12), ("opencoder", 60)])
def test_configs_load_with_enough_rules(config: str, at_least: int) -> None:
    cfg = load_config(ROOT / "configs" / f"{config}.yaml")
    rules = next(g for g in cfg.gates if g.name == "rules")
    assert len(rules.rules) >= at_least  # type: ignore[attr-defined]
    assert cfg.gate_names()[0] == "language"


def test_sliced_arrow_input() -> None:
    # Arrow slices keep a non-zero offset into shared buffers: byte-level features must honour it
    whole = batch_of()
    part = DocBatch(SNIPPETS.slice(20, 30))
    for name in sorted(RULES):
        rule = RULES[name](RULES[name].Params())
        np.testing.assert_allclose(
            rule.measure(part), rule.measure(whole)[20:50], equal_nan=True, err_msg=name
        )


TS_LANGS = ["Python", "JavaScript", "TypeScript", "Java", "C", "C++", "Go", "Rust", "Ruby", "PHP", "Shell"]


def test_tree_sitter_rules_cover_the_main_languages() -> None:
    names = [
        "python_code",
        "javascript_code",
        "typescript_code",
        "java_code",
        "c_header",
        "cpp_code",
        "go_code",
        "rust_code",
        "ruby_code",
        "php_code",
        "shell_code",
    ]
    batch = batch_of(names)
    assert sorted(batch.lang.to_pylist()) == sorted(TS_LANGS)
    comments = RULES["comment_fraction"](RULES["comment_fraction"].Params()).measure(batch)
    errors = RULES["syntax_error_fraction"](RULES["syntax_error_fraction"].Params()).measure(batch)
    assert not np.isnan(comments).any() and not np.isnan(errors).any()
    assert (comments > 0).sum() >= 9  # real files carry license headers / doc comments
    assert (errors < 0.05).all()  # and parse


def test_broken_python_fails_parse_rules() -> None:
    # CPython rejects Python 2 `print` statements; tree-sitter's grammar still accepts them
    texts = ["print 'python 2'\n", "def f(:\n    pass\n", "def f(x):\n    return x\n"]
    batch = DocBatch(pa.table({"content": texts, "path": ["a.py", "b.py", "c.py"], "lang": ["Python"] * 3}))
    parse = RULES["python_parse_failure"](RULES["python_parse_failure"].Params()).measure(batch)
    assert parse.tolist() == [1.0, 1.0, 0.0]
    err = RULES["syntax_error_fraction"](RULES["syntax_error_fraction"].Params()).measure(batch)
    assert err[0] == 0 and err[1] > 0 and err[2] == 0
