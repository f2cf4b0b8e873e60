"""Format-specific rules from The Stack v2 / StarCoder2 (§3): XML headers, HTML with
little visible text, size of data files, and which plain-text files are worth keeping.

Sizes of JSON/YAML files and the line cap on Text/data files are per-language bounds
of the general `num_chars` / `num_lines` rules (see the configs).
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from codesieve.core.base import Rule, RuleParams
from codesieve.core.batch import DocBatch, segment_reduce, string_buffers
from codesieve.core.registry import register_rule
from codesieve.filters.rules.features import feature, head_chars, literal_candidates, safe_div, to_np


class XmlParams(RuleParams):
    head_chars: int = Field(100, gt=0, description="search this many first characters (StarCoder2: 100)")


@register_rule("xml_header")
class XmlHeader(Rule):
    """1.0 when `<?xml version=` occurs in the first `head_chars` characters, else 0.0
    (StarCoder2 drops these outside XSLT: XML data mislabeled as code)."""

    Params = XmlParams

    def measure(self, batch: DocBatch) -> np.ndarray:
        head = head_chars(batch, self.params.head_chars)
        return to_np(pc.match_substring(head, "<?xml version=")).astype(np.float64)

    def reference(self, text: str, path: str, lang: str | None) -> float:
        return float("<?xml version=" in text[: self.params.head_chars])


#: HTML parts that are never visible: comments, scripts, styles, then every tag
_HTML_HIDDEN = [
    r"(?s)<!--.*?-->",
    r"(?is)<script\b[^>]*>.*?</script\s*>",
    r"(?is)<style\b[^>]*>.*?</style\s*>",
    r"(?s)<[^>]*>",
]


try:
    from codesieve.core import _kernels  # compiled by `pip install -e .` (setup.py); optional
except ImportError:  # pragma: no cover - a build without a C compiler
    _kernels = None

_RE2_SPACE = np.zeros(256, bool)
_RE2_SPACE[[ord(c) for c in "\t\n\f\r "]] = True


class HtmlParams(RuleParams):
    count_whitespace: bool = Field(
        False, description="count whitespace of the visible text too (The Stack v2 code: true)"
    )


def _replace_where_found(text: pa.Array, pattern: str, repl: str) -> pa.Array:
    """`replace_substring_regex(text, pattern, repl)`, with RE2 run only on the strings
    holding one of the pattern's required literals (`literal_candidates`)."""
    cand = literal_candidates(text, pattern)
    if cand is None:
        return pc.replace_substring_regex(text, pattern, repl)
    if not cand.any():
        return text
    done = pc.replace_substring_regex(text.filter(pa.array(cand)), pattern, repl)
    return pc.replace_with_mask(text, pa.array(cand), done)


def _visible_chars(batch: DocBatch, count_whitespace: bool = False) -> np.ndarray:
    """Visible characters of HTML documents (nan for the others: only they are scanned):
    comments, scripts and styles removed by RE2, then tags skipped and characters counted by
    the compiled `tag_free_chars` (the `<[^>]*>` replace and a whitespace count without it)."""

    def compute() -> np.ndarray:
        out = np.full(batch.num_rows, np.nan)
        rows = np.flatnonzero(to_np(pc.fill_null(pc.equal(batch.lang, "HTML"), False)))
        if len(rows) == 0:
            return out
        text = batch.text.take(pa.array(rows))
        hidden = _HTML_HIDDEN if _kernels is None else _HTML_HIDDEN[:-1]  # the kernel skips tags itself
        for pat in hidden:  # hidden parts vanish (counted: no space added for them)
            text = _replace_where_found(text, pat, "" if count_whitespace else " ")
        if _kernels is not None:
            data, off = string_buffers(text)
            counts = np.empty(len(text), np.int64)
            _kernels.tag_free_chars(data, off, count_whitespace, counts)
            out[rows] = counts
            return out
        out[rows] = to_np(pc.utf8_length(text))
        if not count_whitespace:  # minus RE2's [\t\n\f\r ] (ASCII: one byte, one character each)
            data, off = string_buffers(text)
            ws = _RE2_SPACE[data[off[0] : off[-1]]].astype(np.int64)
            out[rows] -= segment_reduce(ws, off - off[0], np.add, 0)
        return out

    return feature(batch, f"html_visible:{count_whitespace}", compute)


def _ref_visible(text: str, count_whitespace: bool = False) -> int:
    flags = {"(?s)": re.DOTALL, "(?is)": re.IGNORECASE | re.DOTALL}
    for pat in _HTML_HIDDEN:
        prefix = pat[: pat.index(")") + 1]
        text = re.sub(pat[len(prefix) :], "" if count_whitespace else " ", text, flags=flags[prefix])
    return len(text) if count_whitespace else len(re.sub(r"[\t\n\f\r ]+", "", text))


@register_rule("html_visible_text_fraction")
class HtmlVisibleTextFraction(Rule):
    """Share of an HTML document's characters that are visible text (outside tags,
    scripts, styles and comments; whitespace not counted), 0..1."""

    native_langs = ("HTML",)
    Params = HtmlParams

    def measure(self, batch: DocBatch) -> np.ndarray:
        vis = _visible_chars(batch, self.params.count_whitespace)
        return np.where(np.isnan(vis), np.nan, safe_div(np.nan_to_num(vis), batch.char_len))

    def reference(self, text: str, path: str, lang: str | None) -> float:
        if lang != "HTML":
            return float("nan")
        return _ref_visible(text, self.params.count_whitespace) / len(text) if text else 0.0


@register_rule("html_visible_text_chars")
class HtmlVisibleTextChars(Rule):
    """Visible (non-whitespace) text characters of an HTML document."""

    native_langs = ("HTML",)
    Params = HtmlParams

    def measure(self, batch: DocBatch) -> np.ndarray:
        return _visible_chars(batch, self.params.count_whitespace)

    def reference(self, text: str, path: str, lang: str | None) -> float:
        return float(_ref_visible(text, self.params.count_whitespace)) if lang == "HTML" else float("nan")


#: StarCoder2 keeps a Text file only if it is one of these (file stem, lower-case) ...
TEXT_NAMES = ["readme", "notes", "todo", "description", "cmakelists"]
#: ... or its name contains one of these
TEXT_SUBSTRINGS = ["requirement"]


class TextNameParams(RuleParams):
    names: list[str] = Field(default_factory=lambda: list(TEXT_NAMES), description="allowed stems")
    substrings: list[str] = Field(default_factory=lambda: list(TEXT_SUBSTRINGS), description="allowed parts")


@register_rule("text_name_allowed")
class TextNameAllowed(Rule):
    """1.0 when a Text file's name is README/notes/TODO/... or mentions requirements, else 0.0."""

    Params = TextNameParams
    native_langs = ("Text",)

    def _pattern(self) -> str:
        names = "|".join(re.escape(n) for n in self.params.names)
        subs = "|".join(re.escape(s) for s in self.params.substrings) or "(?!)"
        return f"(?i)^(?:(?:{names})(?:\\.[^.]*)?|.*(?:{subs}).*)$"

    def measure(self, batch: DocBatch) -> np.ndarray:
        hit = pc.fill_null(pc.match_substring_regex(batch.filename, self._pattern()), False)
        return to_np(hit).astype(np.float64)

    def reference(self, text: str, path: str, lang: str | None) -> float:
        name = (path or "").rsplit("/", 1)[-1]
        return float(bool(name) and re.match(self._pattern(), name) is not None)
