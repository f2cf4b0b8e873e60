"""StarCoder2's basic size and shape filters: line count and lengths, character classes.

Every rule here also has a per-document pure-Python `reference` (same definition), used
by the tests to check the vectorized `measure` and by `benchmarks/rules_speed.py` as the
baseline.
"""

from __future__ import annotations

import re
from typing import Literal

import numpy as np
import pyarrow.compute as pc
from pydantic import Field

from codesieve.core.base import Rule, RuleParams
from codesieve.core.batch import DocBatch
from codesieve.core.registry import register_rule
from codesieve.filters.rules.features import count_chars, feature, lang_subset, safe_div


def ref_lines(text: str, newlines: str = "lf") -> list[str]:
    """Lines as DocBatch counts them: split on '\\n' (`newlines="any"`: on \\r\\n, \\r or
    \\n), a final newline ends the last line."""
    if newlines == "any":
        text = re.sub(r"\r\n?", "\n", text)
    lines = text.split("\n")
    if len(lines) > 1 and text.endswith("\n"):
        lines.pop()
    return lines


class LineParams(RuleParams):
    newlines: Literal["lf", "any"] = Field(
        "lf", description="line breaks: lf = \\n only; any = \\r\\n, \\r or \\n (as The Stack v2 filter code splits)"
    )


def line_batch(batch: DocBatch, newlines: str) -> DocBatch:
    """`batch` itself, or (newlines='any') a copy whose \\r\\n and lone \\r are \\n."""
    if newlines == "lf":
        return batch
    return feature(
        batch, "crlf_batch",
        lambda: batch.with_column(batch.text_column, pc.replace_substring_regex(batch.text, "\r\n?", "\n")),
    )


@register_rule("num_lines")
class NumLines(Rule):
    """Number of lines in the document."""

    Params = LineParams

    def measure(self, batch: DocBatch) -> np.ndarray:
        return line_batch(batch, self.params.newlines).num_lines.astype(np.float64)

    def reference(self, text: str, path: str, lang: str | None) -> float:
        return float(len(ref_lines(text, self.params.newlines)))


@register_rule("max_line_length")
class MaxLineLength(Rule):
    """Longest line, in characters (line breaks excluded)."""

    Params = LineParams

    def measure(self, batch: DocBatch) -> np.ndarray:
        b = line_batch(batch, self.params.newlines)
        return b.per_doc(b.line_len, np.maximum).astype(np.float64)

    def reference(self, text: str, path: str, lang: str | None) -> float:
        if self.params.newlines == "any":
            text = re.sub(r"\r\n?", "\n", text)
        return float(max(len(line) for line in text.split("\n")))


@register_rule("avg_line_length")
class AvgLineLength(Rule):
    """Mean line length in characters (line breaks excluded)."""

    Params = LineParams

    def measure(self, batch: DocBatch) -> np.ndarray:
        b = line_batch(batch, self.params.newlines)
        lines = np.maximum(b.num_lines, 1)
        return (b.char_len - (b.num_lines - 1).clip(min=0)) / lines

    def reference(self, text: str, path: str, lang: str | None) -> float:
        if self.params.newlines == "any":
            text = re.sub(r"\r\n?", "\n", text)
        n = len(ref_lines(text))
        return (len(text) - max(n - 1, 0)) / max(n, 1)


@register_rule("alpha_fraction")
class AlphaFraction(Rule):
    """Share of characters that are alphabetic (Unicode letters), 0..1."""

    def measure(self, batch: DocBatch) -> np.ndarray:
        return safe_div(count_chars(batch, r"\pL"), batch.char_len)

    def reference(self, text: str, path: str, lang: str | None) -> float:
        return sum(c.isalpha() for c in text) / len(text) if text else 0.0


@register_rule("alnum_fraction")
class AlnumFraction(Rule):
    """Share of characters that are letters or digits, 0..1 (StarCoder2 uses it instead
    of `alpha_fraction` for assembly and WebAssembly)."""

    def measure(self, batch: DocBatch) -> np.ndarray:
        if self.params.langs is None:
            return safe_div(count_chars(batch, r"\pL\pN"), batch.char_len)
        out = np.full(batch.num_rows, np.nan)  # only the configured languages are counted
        rows, sub = lang_subset(batch, tuple(self.params.langs))
        if len(rows):
            out[rows] = safe_div(count_chars(sub, r"\pL\pN"), sub.char_len)
        return out

    def reference(self, text: str, path: str, lang: str | None) -> float:
        return sum(c.isalpha() or c.isnumeric() for c in text) / len(text) if text else 0.0
