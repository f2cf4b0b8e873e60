"""Language id on the cases of issue 11, with real files (tests/fixtures/language/SOURCES.md):
TypeScript declarations, pom.xml bodies, Perl vs Shell, zsh completions, Tcl tests,
test-expectation / data files, the input language column, calibration, binary test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from codesieve.core.base import UnitContext
from codesieve.core.batch import DocBatch
from codesieve.core.errors import UserError
from codesieve.filters.langid.binary import binary_mask
from codesieve.filters.langid.content import load_content_model
from codesieve.filters.langid.evidence import magic_lang
from codesieve.filters.langid.train import threshold_for
from codesieve.filters.language import LanguageGate

FIX = Path(__file__).parent / "fixtures" / "language"
SAMPLES = Path(__file__).parents[1] / "data_samples"
CTX = UnitContext(unit=0, work_dir="/tmp")


def _text(name: str) -> str:
    return (FIX / name).read_text(encoding="utf-8")


def _batch(rows: list[tuple[str | None, str]], **extra: list) -> DocBatch:
    paths, texts = zip(*rows)
    cols = {"id": [f"d{i}" for i in range(len(rows))], "content": pa.array(texts, pa.string()),
            "path": pa.array(paths, pa.string())}
    return DocBatch(pa.table({**cols, **extra}))


def _run(rows, extra: dict | None = None, **params):
    res = LanguageGate(LanguageGate.Params(**params)).apply(_batch(rows, **(extra or {})), CTX)
    reasons = [[r for r, f in zip(res.reason_names, row) if f] for row in res.fails]
    return res.columns, reasons


#: (fixture, language) read from content alone (no path)
CONTENT_CASES = [
    ("clsx.d.ts", "TypeScript"),  # `declare namespace`, no `:`-typed code body
    ("ora_index.d.ts", "TypeScript"),
    ("jline_reader_pom.xml", "XML"),  # a pom.xml body is XML, not "Maven POM"
    ("uri_split.pm", "Perl"),  # no shebang
    ("slf4j_release.sh", "Shell"),  # no shebang
    ("_etckeeper", "Shell"),  # zsh `#compdef`
    ("expect_cat.test", "Tcl"),  # tcltest script: `package require tcltest`, `cleanupTests`
]


@pytest.mark.parametrize("fixture,expected", CONTENT_CASES)
def test_content_only_cases(fixture, expected):
    model = load_content_model()
    pred = model.predict(pa.array([_text(fixture)]))
    assert pred.lang == [expected]
    assert "Maven POM" not in model.labels and "Ignore List" not in model.labels


def test_content_cases_through_the_gate():
    rows = [(None, _text(f)) for f, _ in CONTENT_CASES]
    cols, reasons = _run(rows, calibrated=False)
    assert cols["lang"].to_pylist() == [lang for _, lang in CONTENT_CASES]
    # calibrated: an answer is kept or unknown, never another language; self-named texts are kept
    cols, reasons = _run(rows)
    for (_fixture, lang), got, why in zip(CONTENT_CASES, cols["lang"].to_pylist(), reasons):
        assert (got, why) in ((lang, []), (None, ["low_confidence"]))
    named = [got for (f, _), got in zip(CONTENT_CASES, cols["lang"].to_pylist()) if f in ("_etckeeper", "expect_cat.test")]
    assert named == ["Shell", "Tcl"]


def test_magic_lines_name_the_language_outright():
    texts = pa.array([
        _text("_etckeeper"),
        "#autoload\n\nlocal expl\n_wanted files expl file _files\n",
        _text("expect_cat.test"),
        "set testdir [file dirname $argv0]\nsource $testdir/tester.tcl\ndo_test like-1.0 {\n  execsql {SELECT 1}\n} {1}\n",
        "# -*- mode: tcl; tab-width: 4 -*-\nproc f {} { return 1 }\n",
        "# -*- coding: utf-8 -*-\nx = 1\n",  # a coding line is no modeline
        "/* vim: set ts=8 ft=c: */\nint x;\n",
    ])
    assert magic_lang(texts).tolist() == ["Shell", "Shell", "Tcl", "Tcl", "Tcl", None, "C"]
    cols, _ = _run([("Completion/_etckeeper", _text("_etckeeper"))])
    assert cols["lang"].to_pylist() == ["Shell"] and cols["lang_score"].to_pylist() == [1.0]


@pytest.mark.parametrize(
    "path,fixture,expected",
    [
        ("test/picture.ok", "flac_picture.ok", "Test Output"),
        ("debian/libvorbisfile3.symbols", "libvorbisfile3.symbols", "Symbols List"),
        ("tests/run.log", "flac_picture.ok", "Log"),
        ("reader/pom.xml", "jline_reader_pom.xml", "XML"),
        ("types/clsx.d.ts", "clsx.d.ts", "TypeScript"),
    ],
)
def test_names_decide_data_and_expectation_files(path, fixture, expected):
    cols, _ = _run([(path, _text(fixture))])
    assert cols["lang"].to_pylist() == [expected]
    assert cols["lang_score"].to_pylist() == [1.0]  # by name: the content model is not asked


def test_data_files_are_not_code_under_the_default_allow_list():
    import yaml

    raw = yaml.safe_load((Path(__file__).parents[1] / "configs" / "default.yaml").read_text())
    entry = next(g for g in raw["gates"] if g["gate"] == "language")
    params = {k: v for k, v in entry.items() if k != "gate"}
    rows = [("test/picture.ok", _text("flac_picture.ok")), ("reader/pom.xml", _text("jline_reader_pom.xml"))]
    _, reasons = _run(rows, **params)
    assert reasons == [["lang_not_allowed"], []]


def test_input_language_column_modes():
    rows = [("src/app.js", _text("uri_split.pm")), ("lib/Split.pm", _text("uri_split.pm")),
            ("_etckeeper", _text("_etckeeper")), ("bin/x", "\x00\x01binary")]
    given = {"language": ["Perl", "Python", "unknown", "C"]}
    cols, reasons = _run(rows, given, input_lang={"mode": "trust"})
    # trusted where set; `unknown` rows identified as usual; binary stays binary
    assert cols["lang"].to_pylist() == ["Perl", "Python", "Shell", None]
    assert reasons[3] == ["binary"]
    cols, _ = _run(rows, given, input_lang={"mode": "check"})
    assert cols["lang"].to_pylist() == ["JavaScript", "Perl", "Shell", None]
    assert cols["lang_input"].to_pylist() == ["Perl", "Python", None, None]  # only disagreements
    cols, _ = _run(rows, given, input_lang={"mode": "ignore"})
    assert cols["lang"].to_pylist() == ["JavaScript", "Perl", "Shell", None] and "lang_input" not in cols
    gate = LanguageGate(LanguageGate.Params(input_lang={"mode": "check"}))
    assert "lang_input" in [f.name for f in gate.output_fields()]
    with pytest.raises(UserError, match="input_lang.column: no input column 'lang_upstream'"):
        _run(rows, input_lang={"mode": "trust", "column": "lang_upstream"})
    with pytest.raises(UserError, match="input_lang.mode"):
        LanguageGate.build({"input_lang": {"mode": "believe"}}, "language")


def test_threshold_for_reaches_the_target_precision():
    rng = np.random.default_rng(0)
    score = rng.random(5000).astype(np.float32)
    correct = rng.random(5000) < score  # right more often when surer
    t = threshold_for(correct, score, 0.98)
    assert correct[score >= t].mean() >= 0.98
    below = score < t
    assert correct[(score >= t - 0.02) & below].mean() < 0.98  # and not much higher than needed
    assert threshold_for(np.zeros(10, bool), np.ones(10, np.float32), 0.98) > 1.0  # never reached


def test_calibrated_unknown_and_shipped_thresholds():
    model = load_content_model()
    assert model.thresholds or model.default_threshold > 0  # the recipe calibrated it
    texts = [_text(f) for f, _ in CONTENT_CASES] + ["ok\n", "see above: 3 items, 2 done\n"]
    pred = model.predict(pa.array(texts))
    sure = model.confident(pred)
    cols, reasons = _run([(None, t) for t in texts], content_min_chars=1)
    for i, ok in enumerate(sure):
        assert (cols["lang"][i].as_py() is None) == (not ok)
        assert ("low_confidence" in reasons[i]) == (not ok)
    _, reasons = _run([(None, t) for t in texts], content_min_chars=1, calibrated=False)
    assert not any("low_confidence" in r for r in reasons)


def test_binary_mask_matches_a_plain_reference_on_real_files():
    table = pq.read_table(sorted(SAMPLES.glob("*.parquet"))[0], columns=["content"])
    texts = table["content"].combine_chunks()
    texts = pa.concat_arrays([texts, pa.array(["ok" * 10, "\ufffd" * 30 + "x" * 70, "a\x00b"])])

    def reference(t: str, head: int) -> bool:
        b = t.encode()[:head]
        bad = b.count("\ufffd".encode())
        return b.count(b"\x00") > 0 or bad / max(len(b) - 2 * bad, 1) > 0.1

    for head in (8192, 64):
        expected = np.array([reference(t, head) for t in texts.to_pylist()])
        assert (binary_mask(texts, head, 0, 0.1) == expected).all()
        assert (binary_mask(texts.slice(7, 50), head, 0, 0.1) == expected[7:57]).all()
        large = texts.cast(pa.large_string())
        assert (binary_mask(large, head, 0, 0.1) == expected).all()
    assert expected[-3:].tolist() == [False, True, True] and expected.sum() >= 3


def test_licence_header_is_cut_to_its_first_line():
    from codesieve.filters.langid.content import collapse_license_header

    header = _text("taglib_trefcounter.h")  # two licence comments, then the code
    texts = pa.array([header, _text("jline_reader_pom.xml"), _text("header_c.h"), "/* a note */\nint x;\n"])
    out = collapse_license_header(texts, 2048).to_pylist()
    assert "class" not in header[:2048] and "class RefCounter" in out[0]
    assert out[0].startswith("/* */\n") and "#ifndef TAGLIB_REFCOUNTER_H" in out[0]
    assert out[1].startswith('<?xml version="1.0" encoding="UTF-8"?>\n<!-- -->\n') and "<project" in out[1][:300]
    assert out[3] == "/* a note */\nint x;\n"  # no licence words: untouched
    assert len(out[0]) <= 2048


@pytest.mark.parametrize(
    "fixture,model_said,expected",
    [
        ("taglib_trefcounter.h", "C", "C++"),  # the first `class` is past the model's prefix
        ("header_c.h", "C", "C"),
        ("purify_index.d.ts", "JavaScript", "TypeScript"),  # `export { X, type Y }`
        ("validator_isMailtoURI.js", "TypeScript", "JavaScript"),  # no type syntax (`: void 0` is a ternary)
        ("clsx.d.ts", "TypeScript", "TypeScript"),
        ("elementpath_analyze-string.xsd", "Text", "XML"),  # an XML declaration
        ("cabundle_autoload.php", "C++", "PHP"),  # `<?php` names the language
        ("pptx_category_props.feature", "YAML", "Gherkin"),  # `Feature:` then scenarios / steps
        ("ramsey_uuid_question.md", "YAML", "Markdown"),  # front matter, then a document
        ("pykwalify_fail_mapping.yaml", "YAML", "YAML"),  # `---` documents in a row stay YAML
        ("collections4_assembly_bin.xml", "HTML", "XML"),  # licence comment, then a non-HTML root
        ("cmocka_header.html", "HTML", "HTML"),  # comment, DOCTYPE html, `<head>`
        ("unity_test_production_code.c", "C++", "C"),  # `#include`, `f(void)`, no C++ construct
        ("fastglob_utils_index.d.ts", "JavaScript", "TypeScript"),  # only `import` / `export` lines
        ("mockito_hamcrest_package-info.java", "Text", "Java"),  # a Java package declaration
        ("tix_warning.xpm", "Perl", "C"),  # `/* XPM */`: a C array
        ("critcl_preload.c", "C", "C"),  # `critcl::runtime::precopy` in comments is no C++
        ("undici_cookies_index.js", "JavaScript", "JavaScript"),  # `{(a: string) => void}` only in JSDoc
        ("trpc_contentTypeParsers.ts", "Markdown", "TypeScript"),  # opens with `import type {..} from`
    ],
)
def test_content_rules_settle_confusable_pairs(fixture, model_said, expected):
    from codesieve.filters.langid.evidence import LONG_WINDOW, RULE_SCORE, refine_prediction

    text = pa.array([_text(fixture)])
    labels = ["C", "C++", "JavaScript", "TypeScript", "Text", "XML", "PHP", "Gherkin", "Markdown", "YAML", "HTML", "Java"]
    prefix, long = pc.utf8_slice_codeunits(text, 0, 2048), pc.utf8_slice_codeunits(text, 0, LONG_WINDOW)
    langs, score, _ = refine_prediction(prefix, [model_said], np.array([0.6], np.float32), labels, long)
    assert langs == [expected]
    moved = 1.0 if fixture.endswith((".php", ".feature", ".xpm")) else RULE_SCORE  # markers name themselves; rules move
    assert score[0] == pytest.approx(0.6 if model_said == expected else moved)
