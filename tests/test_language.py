"""The `language` gate on real snippets: ambiguous extensions, shebangs, no path, binary
content, non-English comments, and the shipped content model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from codesieve.core.base import UnitContext
from codesieve.core.batch import DocBatch
from codesieve.filters.langid.content import MODEL_PATH, load_content_model
from codesieve.filters.language import LanguageGate

FIX = Path(__file__).parent / "fixtures" / "language"
CTX = UnitContext(unit=0, work_dir="/tmp")


def _batch(rows: list[tuple[str | None, str]]) -> DocBatch:
    paths, texts = zip(*rows)
    table = pa.table({
        "id": [f"d{i}" for i in range(len(rows))],
        "content": pa.array(texts, pa.string()),
        "path": pa.array(paths, pa.string()),
    })
    return DocBatch(table)


def _gate(**params) -> LanguageGate:
    return LanguageGate(LanguageGate.Params(**params))


def _run(rows, **params):
    """The gate's columns (late ones computed on its passing rows, as `run` would for
    rows passing every gate) and each row's failed checks."""
    gate, batch = _gate(**params), _batch(rows)
    res = gate.apply(batch, CTX)
    reasons = [[r for r, f in zip(res.reason_names, row) if f] for row in res.fails]
    passed = batch.take(res.passed)
    for name, col in res.columns.items():
        passed = passed.with_column(name, col.filter(pa.array(res.passed)))
    late = gate.late_columns(passed, CTX)
    where = np.flatnonzero(res.passed)
    cols = dict(res.columns)
    for name, col in late.items():
        full = np.full(len(rows), None, dtype=object)
        full[where] = col.to_pylist()
        cols[name] = pa.array(full.tolist(), col.type)
    return cols, reasons


def _fixture(name: str) -> str:
    return (FIX / name).read_text(encoding="utf-8")


AMBIGUOUS_CASES = [
    ("src/ringbuf.h", "header_c.h", "C"),
    ("include/geometry/polygon.h", "header_cpp.h", "C++"),
    ("Sources/DownloadTask.h", "header_objc.h", "Objective-C"),
    ("Sources/DownloadTask.m", "impl_objc.m", "Objective-C"),
    ("toolbox/running_stats.m", "script_matlab.m", "MATLAB"),
    ("bin/wordfreq.pl", "module_perl.pl", "Perl"),
    ("kb/family.pl", "family_prolog.pl", "Prolog"),
    ("src/queue.ts", "service_typescript.ts", "TypeScript"),
    ("translations/app_de.ts", "translation_qt.ts", "XML"),
    ("rtl/counter.v", "counter_verilog.v", "Verilog"),
    ("theories/Lists.v", "lists_coq.v", "Coq"),
    # a `#if __cplusplus` guard does not make a header with namespaces and <memory> C
    ("include/geos/util.h", "geos_util.h", "C++"),
    ("test_output/macros_junit.txt", "doctest_assertion_macros_junit.txt", "XML"),  # `<?xml` first
    ("docs/all_the_keys.txt", "blessed_all_the_keys.txt", "reStructuredText"),  # `.. csv-table::`
]


@pytest.mark.parametrize("path,fixture,expected", AMBIGUOUS_CASES)
def test_ambiguous_extensions(path, fixture, expected):
    cols, reasons = _run([(path, _fixture(fixture))])
    assert cols["lang"].to_pylist() == [expected]
    assert reasons == [[]]


def test_ambiguous_cases_in_one_batch_match_one_by_one():
    rows = [(p, _fixture(f)) for p, f, _ in AMBIGUOUS_CASES]
    cols, _ = _run(rows)
    assert cols["lang"].to_pylist() == [e for _, _, e in AMBIGUOUS_CASES]


def test_special_names_and_shebangs():
    rows = [
        ("tools/backup_script", _fixture("backup_script")),
        ("bin/manage_tool", _fixture("manage_tool")),
        ("Makefile", "all:\n\t$(CC) -o app main.c\n"),
        ("docker/Dockerfile", "FROM debian:12\nRUN apt-get update\n"),
        ("CMakeLists.txt", "cmake_minimum_required(VERSION 3.20)\nproject(app C)\n"),
        ("scripts/run.py", _fixture("manage_tool")),
    ]
    cols, _ = _run(rows)
    assert cols["lang"].to_pylist() == ["Shell", "Python", "Makefile", "Dockerfile", "CMake", "Python"]
    assert np.allclose(cols["lang_score"].to_numpy(), 1.0)


@pytest.mark.parametrize(
    "fixture,expected",
    [("manage_tool", "Python"), ("comments_chinese.go", "Go"), ("header_c.h", "C"), ("comments_russian.js", "JavaScript")],
)
def test_no_path_uses_content_model(fixture, expected):
    cols, reasons = _run([(None, _fixture(fixture))], calibrated=False)
    assert cols["lang"].to_pylist() == [expected]
    assert 0.0 < cols["lang_score"][0].as_py() <= 1.0
    assert reasons == [[]]
    # calibrated (the default): the same answer, or unknown when below its language's threshold
    cols, reasons = _run([(None, _fixture(fixture))])
    assert (cols["lang"][0].as_py(), reasons[0]) in ((expected, []), (None, ["low_confidence"]))


#: (fixture, language): texts the fastText model alone gets wrong and a content rule settles
CONTENT_RULE_CASES = [
    ("condense_example.cpp", "C++"),  # `using namespace` / `Writer<...>`: the model says C
    ("user_guide.rst", "reStructuredText"),  # titles, `.. note::`, `:func:`: the model says Text
    ("changelog_notes.md", "Markdown"),  # `## 1.5.2` headings: the model says Shell
    ("numbers.json", "JSON"),  # an array of numbers: the model says M4
    ("fix_crash.patch", "Diff"),
    ("cjs_module.js", "JavaScript"),
]


def test_content_rules_correct_the_model_without_a_path():
    model = load_content_model()
    texts = pa.array([_fixture(f) for f, _ in CONTENT_RULE_CASES])
    expected = [lang for _, lang in CONTENT_RULE_CASES]
    pred = model.predict(texts)
    assert pred.lang == expected
    assert ((pred.score > 0) & (pred.score <= 1)).all()
    assert model.predict(texts).lang == pred.lang  # deterministic
    # the rules only move answers: fastText alone errs on the first four
    assert model.model_only(texts).lang[:4] != expected[:4]
    # through the gate (calibration off: prose thresholds may keep nothing, see test_langid_cases)
    cols, reasons = _run([(None, _fixture(f)) for f, _ in CONTENT_RULE_CASES], calibrated=False)
    assert cols["lang"].to_pylist() == expected
    assert reasons == [[]] * len(expected)


def test_content_rules_respect_vetoes_and_shebangs():
    model = load_content_model()
    # reST markup inside a Python module's docstring stays Python
    assert model.predict(pa.array([_fixture("docstring_rst.py")])).lang == ["Python"]
    # a shebang line in the text names the interpreter
    text = "#!/bin/sh\nset -e\nif [ -e /etc/app.conf ]; then\n\t. /etc/app.conf\nfi\n" * 3
    assert model.predict(pa.array([text])).lang == ["Shell"]
    # a chunked column gives the same answers
    chunks = pa.chunked_array([[_fixture("numbers.json")], [_fixture("fix_crash.patch")]])
    assert model.predict(chunks).lang == ["JSON", "Diff"]


def test_binary_content_is_rejected():
    blob = "GIF89a\x00\x01\x00\x01\x00\x80\x00\x00" + "\x00" * 64
    garbled = "\ufffd" * 50 + "PNG" + "\ufffd" * 50
    cols, reasons = _run([("img/logo.gif", blob), (None, garbled), ("src/a.c", "int main(void) { return 0; }\n")])
    assert reasons[0] == ["binary"] and reasons[1] == ["binary"] and reasons[2] == []
    assert cols["lang"].to_pylist()[:2] == [None, None]


def test_non_english_comments_and_prose():
    rows = [
        ("lib/messwerte.py", _fixture("comments_german.py")),
        ("cache/cache.go", _fixture("comments_chinese.go")),
        ("src/format.js", _fixture("comments_russian.js")),
        ("docs/INSTALL.md", _fixture("notes_french.md")),
    ]
    cols, _ = _run(rows, nl_languages=["en", "de", "zh", "ru", "fr", "es"])
    assert cols["nl_lang"].to_pylist() == ["de", "zh", "ru", "fr"]
    assert all(s > 0.5 for s in cols["nl_score"].to_pylist())


def test_no_comments_gives_null_natural_language():
    cols, _ = _run([("src/a.c", "int main(void) { return 0; }\n")])
    assert cols["nl_lang"].to_pylist() == [None]
    assert cols["nl_score"].null_count == 1


def test_reasons_allow_list_deny_list_and_confidence():
    rows = [
        ("src/app.py", _fixture("manage_tool")),
        ("docs/README.md", _fixture("notes_french.md")),
        ("assets/data.min.js", "var a=1;"),
        ("weird.unknownext", "zzzz"),
        (None, "x"),  # too short for the content model: not code
    ]
    _, reasons = _run(
        rows, allow=["Python", "JavaScript"], deny_extensions=[".unknownext"], content_min_chars=16
    )
    assert reasons[0] == []
    assert reasons[1] == ["lang_not_allowed"]
    assert reasons[2] == []
    assert reasons[3] == ["not_code", "extension_denied"]
    assert reasons[4] == ["not_code"]
    _, reasons = _run(rows[1:2], allow=["Python"], allow_prose=True)
    assert reasons == [[]]
    _, reasons = _run([(None, "hello there, a short note.")], min_score=0.999)
    assert reasons == [["low_confidence"]]


def test_mislabelled_extension_is_recorded():
    python = _fixture("comments_german.py")  # no shebang: the extension decides
    rows = [("src/format.js", python), ("src/app.py", python)]
    cols, reasons = _run(rows, check_fraction=1.0, mislabel_min_score=0.5)
    assert cols["lang"].to_pylist() == ["JavaScript", "Python"]  # the path's answer is kept
    assert cols["lang_content"].to_pylist() == ["Python", None]
    assert reasons == [[], []]


def test_shipped_model_is_small_and_loads_offline():
    assert MODEL_PATH.exists() and MODEL_PATH.stat().st_size < 5_000_000
    model = load_content_model()
    assert {"Python", "C", "JavaScript", "Go"} <= set(model.labels)
    pred = model.predict(pa.array([_fixture("comments_german.py")]))
    assert pred.lang == ["Python"]


def test_output_fields_and_empty_batch():
    gate = _gate()
    names = [f.name for f in gate.output_fields()]
    assert names[:2] == ["lang", "lang_score"] and {"nl_lang", "nl_score"} <= set(names)
    assert gate.late_fields() == ["nl_lang", "nl_score"] and _gate(nl_detect=False).late_fields() == []
    res = gate.apply(_batch([("a.py", "x")]).take(np.zeros(1, dtype=bool)), CTX)
    assert res.fails.shape == (0, 5)
    assert all(len(v) == 0 for v in res.columns.values())


def test_default_config_entry_validates():
    import yaml

    from codesieve.pipeline.config import build_config

    raw = yaml.safe_load((Path(__file__).parents[1] / "configs" / "default.yaml").read_text())
    entry = next(g for g in raw["gates"] if g["gate"] == "language")
    build_config({**raw, "gates": [entry]})


@pytest.mark.parametrize(
    "path,expected",
    [
        ("lib/config.h.in", "C"),  # autoconf template of an ambiguous header: content decides
        ("man/zlib.3", "Roff"),
        ("go.mod", "Go Module"),
        ("dist/index.mjs", "JavaScript"),
        ("lib/URI/Escape.pm", "Perl"),
        ("Makefile.am", "Makefile"),
        ("src/main.rs", "Rust"),
    ],
)
def test_path_table(path, expected):
    cols, _ = _run([(path, "/* x */\nint x;\n")], content_model=False)
    assert cols["lang"].to_pylist() == [expected]


def test_comment_extraction_is_deterministic():
    from codesieve.filters.langid.natural import comment_text

    script = "\n".join(f"# step {i}: {w} the archive\necho {i}" for i, w in enumerate(["pack", "sign", "ship"] * 20))
    texts = pa.array([script, _fixture("comments_german.py")])
    langs = pa.array(["Shell", "Python"])
    first = comment_text(texts, langs, 4096)
    assert all(comment_text(texts, langs, 4096) == first for _ in range(5))
    assert first[0].startswith("# step 0: pack") and first[0].endswith("# step 59: ship the archive")
