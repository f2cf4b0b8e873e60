"""Default-gate rules refined against the false positives an expert review found (issue 10):
whitespace that is not indentation, `main` definitions in alternative preprocessor
branches, and compiled build output (transpiler/bundler output, source-map trailers).

All vectorized over the batch (Arrow compute + numpy); `reference` is the per-document
definition the tests compare with.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from codesieve.core.base import Rule, RuleParams
from codesieve.core.batch import DocBatch
from codesieve.core.registry import register_rule
from codesieve.filters.rules.basic import ref_lines
from codesieve.filters.rules.features import (
    count_chars,
    feature,
    head_chars,
    indentation,
    lang_subset,
    line_matches,
    literal_candidates,
    per_doc_sum,
    regex_search,
    safe_div,
    to_np,
)
from codesieve.filters.rules.lang_specific import C_FAMILY

_WS = "\t\n\v\f\r "


@register_rule("inner_whitespace_fraction")
class InnerWhitespaceFraction(Rule):
    """Share of whitespace among the characters that are neither indentation (leading
    spaces/tabs of a line) nor line breaks (\\n, \\r), 0..1: padding, column alignment and
    blank runs inside lines, not how deeply code is nested."""

    def measure(self, batch: DocBatch) -> np.ndarray:
        def compute() -> np.ndarray:
            indent_doc = per_doc_sum(batch, indentation(batch))
            breaks = count_chars(batch, "\n") + count_chars(batch, "\r")
            ws = count_chars(batch, _WS) - indent_doc - breaks
            return safe_div(ws, batch.char_len - indent_doc - breaks)

        return feature(batch, "inner_ws", compute).copy()

    def reference(self, text: str, path: str, lang: str | None) -> float:
        indent = sum(len(ln) - len(ln.lstrip(" \t")) for ln in text.split("\n"))
        breaks = text.count("\n") + text.count("\r")
        ws = sum(1 for c in text if c in _WS) - indent - breaks
        rest = len(text) - indent - breaks
        return ws / rest if rest > 0 else 0.0


_MAIN = r"^(?:(?:static\s+)?(?:int|void)\s+)?main\s*\([^;]*$"
_IF = r"^\s*#\s*if"
_ENDIF = r"^\s*#\s*endif\b"


@register_rule("c_main_definitions")
class CMainDefinitions(Rule):
    """`main` definitions of a C-family file (line-initial `int main(...`), where all the
    ones inside `#if`/`#ifdef` ... `#endif` blocks count as one: alternative builds
    (`#ifdef STANDALONE ... #else ... #endif`, `#ifdef TEST1`) are one program; two
    unconditional mains are concatenated sources. nan for other languages."""

    native_langs = C_FAMILY

    def measure(self, batch: DocBatch) -> np.ndarray:
        out = np.full(batch.num_rows, np.nan)
        rows, sub = lang_subset(batch, tuple(self.native_langs))  # langs/skip_langs only decide
        if len(rows) == 0:
            return out
        delta = line_matches(sub, _IF).astype(np.int64) - line_matches(sub, _ENDIF).astype(np.int64)
        depth = np.cumsum(delta)
        start = sub.line_offsets[:-1]
        before = np.concatenate([[0], depth])[start]  # depth carried over from earlier documents
        depth = depth - np.repeat(before, np.diff(sub.line_offsets)) - line_matches(sub, _IF)
        main = line_matches(sub, _MAIN)
        plain = per_doc_sum(sub, main & (depth <= 0))
        cond = per_doc_sum(sub, main & (depth > 0))
        out[rows] = plain + (cond > 0)
        return out

    def reference(self, text: str, path: str, lang: str | None) -> float:
        if lang not in self.native_langs:
            return float("nan")
        depth, plain, cond = 0, 0, 0
        for ln in ref_lines(text):
            if re.search(_ENDIF, ln):
                depth -= 1
            is_if = re.search(_IF, ln) is not None
            if re.search(_MAIN, ln):
                if depth > 0:
                    cond += 1
                else:
                    plain += 1
            depth += is_if
        return float(plain + (cond > 0))


#: helpers that transpilers/bundlers emit at the top of their output
COMPILED_HEAD_MARKERS = [
    "var __defProp = Object.defineProperty",  # esbuild
    'Object.defineProperty(exports, "__esModule"',  # tsc / Babel CommonJS output
    "Object.defineProperty(exports, '__esModule'",
    "exports.__esModule = true",
    "function _interopRequireDefault(",  # Babel
    "__webpack_require__",  # webpack
    "var __awaiter = (this && this.__awaiter)",  # tsc helpers
    "var __importDefault = (this && this.__importDefault)",
    "var __createBinding = (this && this.__createBinding)",
]
#: a source-map trailer on one of the last lines: //# sourceMappingURL=..., /*# ... */
SOURCE_MAP_TRAILER = r"(?m)^\s*(?://|/\*)\s*[#@]\s*sourceMappingURL="


class CompiledParams(RuleParams):
    head_chars: int = Field(3000, gt=0, description="characters searched for transpiler/bundler helpers")
    tail_chars: int = Field(400, gt=0, description="last characters searched for a sourceMappingURL trailer")
    markers: list[str] = Field(default_factory=lambda: list(COMPILED_HEAD_MARKERS), description="head markers")


@register_rule("compiled_output")
class CompiledOutput(Rule):
    """1.0 for compiled build output: a `sourceMappingURL` trailer in the last
    `tail_chars`, or a transpiler/bundler helper (`var __defProp =`, `__esModule`
    definition, `_interopRequireDefault`, `__webpack_require__`, tsc's `__awaiter`...) in
    the first `head_chars`; else 0.0."""

    Params = CompiledParams

    def measure(self, batch: DocBatch) -> np.ndarray:
        p = self.params
        rows = np.arange(batch.num_rows)
        cand = literal_candidates(batch.text, SOURCE_MAP_TRAILER)  # "sourceMappingURL=" anywhere
        if cand is not None:
            rows = np.flatnonzero(cand)
        hit = np.zeros(batch.num_rows, dtype=bool)
        if len(rows):  # Arrow's negative slice walks the whole text: only where the marker is
            tail = pc.utf8_slice_codeunits(batch.text.take(pa.array(rows)), -p.tail_chars)
            hit[rows] = regex_search(tail, SOURCE_MAP_TRAILER)
        head = head_chars(batch, p.head_chars)
        if p.markers:
            try:  # one pass over the heads for all markers (10x the per-marker searches)
                hit |= regex_search(head, "|".join(re.escape(m) for m in p.markers))
            except pa.ArrowInvalid:  # a marker RE2 cannot take escaped: one search each
                for m in p.markers:
                    hit |= to_np(pc.match_substring(head, m)).astype(bool)
        return hit.astype(np.float64)

    def reference(self, text: str, path: str, lang: str | None) -> float:
        p = self.params
        if re.search(SOURCE_MAP_TRAILER, text[-p.tail_chars :]):
            return 1.0
        head = text[: p.head_chars]
        return float(any(m in head for m in p.markers))
