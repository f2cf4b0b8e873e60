"""Language-specific rules: tree-sitter syntax errors and comment share, Python signals
(OpenCoder's `qsc_codepython_*`), C/C++ preprocessor density and `main` count, test files.

Tree-sitter and CPython's parser are per-document C calls inside a Python loop (there is
no batched parser API); they only run on the documents of their languages.
"""

from __future__ import annotations

import ast
import re
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from codesieve.core.base import Rule, RuleParams
from codesieve.core.batch import DocBatch
from codesieve.core.registry import register_rule
from codesieve.filters import treesitter
from codesieve.filters.rules.basic import ref_lines
from codesieve.filters.rules.features import feature, lang_subset, line_matches, per_doc_sum, to_np
from codesieve.filters.rules.general import _line_rule

TREE_SITTER_LANGS = tuple(treesitter.GRAMMARS)
C_FAMILY = ("C", "C++", "Objective-C", "Objective-C++", "Cuda")


def lang_rows(batch: DocBatch, lang: str) -> np.ndarray:
    """Indices of the documents labelled `lang`."""
    return np.flatnonzero(to_np(pc.fill_null(pc.equal(batch.lang, lang), False)))


class ParseParams(RuleParams):
    max_bytes: int = Field(1_000_000, gt=0, description="larger documents are not parsed (value nan)")


def _parse(batch: DocBatch, lang: str, max_bytes: int) -> tuple[np.ndarray, treesitter.ParseStats]:
    def compute() -> tuple[np.ndarray, treesitter.ParseStats]:
        rows = lang_rows(batch, lang)
        texts = batch.text.take(pa.array(rows)).to_pylist() if len(rows) else []
        return rows, treesitter.parse_stats(texts, lang, max_bytes=max_bytes)

    return feature(batch, f"ts:{lang}:{max_bytes}", compute)


class _TreeSitterRule(Rule):
    Params = ParseParams
    native_langs = TREE_SITTER_LANGS
    stat = "error_frac"

    def measure(self, batch: DocBatch) -> np.ndarray:
        out = np.full(batch.num_rows, np.nan)
        langs = self.params.langs if self.params.langs is not None else self.native_langs
        present = set(pc.unique(batch.lang).drop_null().to_pylist())
        for lang in langs:
            if lang in present and treesitter.supported(lang):
                rows, stats = _parse(batch, lang, self.params.max_bytes)
                out[rows] = getattr(stats, self.stat)
        return out

    def reference(self, text: str, path: str, lang: str | None) -> float:
        if lang not in TREE_SITTER_LANGS or not treesitter.supported(lang):
            return float("nan")
        return float(getattr(treesitter.parse_stats([text], lang, self.params.max_bytes), self.stat)[0])


@register_rule("syntax_error_fraction")
class SyntaxErrorFraction(_TreeSitterRule):
    """Share of the document's bytes inside tree-sitter ERROR/MISSING nodes, 0..1
    (nan for languages without a grammar)."""

    stat = "error_frac"


@register_rule("comment_fraction")
class CommentFraction(_TreeSitterRule):
    """Share of the document's bytes inside comments (tree-sitter comment nodes), 0..1
    (nan for languages without a grammar). Per-language bounds give comment/code ratios."""

    stat = "comment_frac"


# --- Python ------------------------------------------------------------------------------


def python_parses(text: str) -> bool:
    """True when CPython's own parser accepts `text` (Python 3 grammar)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(text, "<doc>", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            return False
    return True


@register_rule("python_parse_failure")
class PythonParseFailure(Rule):
    """1.0 when CPython's parser rejects a Python file (Python 2, broken, templated), else
    0.0; nan for other languages and for files over `max_bytes`."""

    Params = ParseParams
    native_langs = ("Python",)

    def measure(self, batch: DocBatch) -> np.ndarray:
        out = np.full(batch.num_rows, np.nan)
        rows = lang_rows(batch, "Python")
        if len(rows) == 0:
            return out
        sizes = batch.byte_len[rows]
        rows = rows[sizes <= self.params.max_bytes]
        texts = batch.text.take(pa.array(rows)).to_pylist()
        out[rows] = [0.0 if python_parses(t) else 1.0 for t in texts]
        return out

    def reference(self, text: str, path: str, lang: str | None) -> float:
        if lang != "Python" or len(text.encode("utf-8", "surrogatepass")) > self.params.max_bytes:
            return float("nan")
        return 0.0 if python_parses(text) else 1.0


PythonPassFraction = _line_rule(
    "python_pass_fraction",
    r"^\s*pass\s*(?:#.*)?$",
    "Share of non-blank Python lines that are `pass`, 0..1.",
    ("Python",),
)
PythonPrintFraction = _line_rule(
    "python_print_fraction",
    r"^\s*print\b",
    "Share of non-blank Python lines starting with `print`, 0..1.",
    ("Python",),
)
PythonImportFraction = _line_rule(
    "python_import_fraction",
    r"^\s*(?:import\s|from\s+\S+\s+import\b)",
    "Share of non-blank Python lines that are imports, 0..1.",
    ("Python",),
)


class CountParams(RuleParams):
    pattern: str = Field("", description="RE2 pattern; the value counts matching lines")


def _count_rule(name: str, default_pattern: str, doc: str, langs: tuple[str, ...]) -> type[Rule]:
    class P(CountParams):
        pattern: str = Field(default_pattern, description="RE2 pattern; the value counts matching lines")

    def measure(self: Rule, batch: DocBatch) -> np.ndarray:
        out = np.full(batch.num_rows, np.nan)
        allowed = self.params.langs if self.params.langs is not None else self.native_langs
        rows, sub = lang_subset(batch, tuple(allowed))
        if len(rows):
            out[rows] = per_doc_sum(sub, line_matches(sub, self.params.pattern))
        return np.where(self.applies(batch), out, np.nan)

    def reference(self: Rule, text: str, path: str, lang: str | None) -> float:
        allowed = self.params.langs if self.params.langs is not None else self.native_langs
        if lang not in allowed or lang in self.params.skip_langs:
            return float("nan")
        pat = re.compile(self.params.pattern)
        return float(sum(1 for ln in ref_lines(text) if pat.search(ln)))

    attrs = {"measure": measure, "reference": reference, "__doc__": doc, "Params": P, "native_langs": langs}
    return register_rule(name)(type(name.title().replace("_", ""), (Rule,), attrs))


PythonNumFunctions = _count_rule(
    "python_num_functions",
    r"^\s*(?:async\s+)?def\s",
    "Number of `def` lines in a Python file (0 = a function-free script or data module).",
    ("Python",),
)
CMainCount = _count_rule(
    "c_main_count",
    r"^(?:(?:static\s+)?(?:int|void)\s+)?main\s*\([^;]*$",
    "Number of `main` definitions (line-initial `int main(...`) in a C-family file.",
    C_FAMILY,
)
CPreprocessorFraction = _line_rule(
    "c_preprocessor_fraction",
    r"^\s*#\s*(?:include|define|undef|ifdef|ifndef|if|elif|else|endif|pragma|error|warning|line)\b",
    "Share of non-blank C-family lines that are preprocessor directives, 0..1.",
    C_FAMILY,
)

#: test-file names per ecosystem (Go, Java/Kotlin, JS/TS, Python, Ruby, Rust/C dirs)
TEST_PATHS = [
    r"_test\.go$",
    r"(?:Test|Tests|IT)\.(?:java|kt)$",
    r"\.(?:test|spec)\.[cm]?[jt]sx?$",
    r"(?:^|/)__tests__/",
    r"(?:^|/)test_[^/]*\.py$|_test\.py$",
    r"_spec\.rb$|_test\.rb$",
]


class TestPathParams(RuleParams):
    patterns: list[str] = Field(
        default_factory=lambda: list(TEST_PATHS), description="RE2 patterns on the path"
    )


@register_rule("test_file")
class TestFile(Rule):
    """1.0 when the path names a unit-test file (Go `_test.go`, Java `*Test.java`, JS
    `*.test.js`/`*.spec.ts`, Python `test_*.py`, ...), else 0.0."""

    Params = TestPathParams

    def _pattern(self) -> str:
        return "(?:" + "|".join(self.params.patterns) + ")"

    def measure(self, batch: DocBatch) -> np.ndarray:
        return to_np(pc.fill_null(pc.match_substring_regex(batch.path, self._pattern()), False)).astype(
            np.float64
        )

    def reference(self, text: str, path: str, lang: str | None) -> float:
        return float(bool(path) and re.search(self._pattern(), path) is not None)
