"""General code-quality signals in the style of OpenCoder's `qsc_code_*` (Huang et al.
2024, "OpenCoder", appendix A / its released filter config): sizes, word statistics,
repetition (top and duplicated word n-grams, duplicated lines), character classes,
long strings and words, hex words, prompt comments and asserts.

Words are whitespace-separated tokens. N-gram repetition follows Gopher / RedPajama:
`top_<n>gram_fraction` is the character share of the most frequent n-gram's occurrences;
`dupe_<n>gram_fraction` the share of word characters covered by any repeated n-gram.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pyarrow.compute as pc
import regex
from pydantic import Field

from codesieve.core.base import Rule, RuleParams
from codesieve.core.batch import DocBatch, segment_reduce
from codesieve.core.registry import register_rule
from codesieve.filters.rules.basic import ref_lines
from codesieve.filters.rules.features import (
    count_chars,
    dupe_ngram_char_fraction,
    feature,
    group_counts,
    hex_word_chars,
    lang_subset,
    line_fraction,
    line_matches,
    match_lengths,
    nonblank_lines,
    per_doc_sum,
    repeated_trimmed_lines,
    safe_div,
    string_hashes,
    to_np,
    top_ngram_char_fraction,
    word_stats,
    words,
)

# --- sizes ------------------------------------------------------------------------------


@register_rule("num_chars")
class NumChars(Rule):
    """Document length in characters (Unicode code points)."""

    def measure(self, batch: DocBatch) -> np.ndarray:
        return batch.char_len.astype(np.float64)

    def reference(self, text: str, path: str, lang: str | None) -> float:
        return float(len(text))


@register_rule("file_bytes")
class FileBytes(Rule):
    """Document size in UTF-8 bytes."""

    def measure(self, batch: DocBatch) -> np.ndarray:
        return batch.byte_len.astype(np.float64)

    def reference(self, text: str, path: str, lang: str | None) -> float:
        return float(len(text.encode("utf-8", "surrogatepass")))


_WORD_SPLIT = re.compile(r"[\t\n\v\f\r ]+")


def ref_words(text: str) -> list[str]:
    """Words as the vectorized rules see them: runs of non-ASCII-whitespace characters."""
    return [w for w in _WORD_SPLIT.split(text) if w]


@register_rule("num_words")
class NumWords(Rule):
    """Number of whitespace-separated words."""

    def measure(self, batch: DocBatch) -> np.ndarray:
        return word_stats(batch)[0].copy()

    def reference(self, text: str, path: str, lang: str | None) -> float:
        return float(len(ref_words(text)))


#: scripts written without spaces between words: each character counts as a word
CJK_CLASS = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}"


class MeanWordParams(RuleParams):
    cjk_as_words: bool = Field(
        False, description="count each Han/Kana/Hangul character as a word (CJK prose has no spaces)"
    )


@register_rule("mean_word_length")
class MeanWordLength(Rule):
    """Mean length of whitespace-separated words, in characters (0 for no words); with
    `cjk_as_words`, chars / (words + CJK characters)."""

    Params = MeanWordParams

    def measure(self, batch: DocBatch) -> np.ndarray:
        n_words, chars = word_stats(batch)
        if self.params.cjk_as_words:
            n_words = n_words + count_chars(batch, CJK_CLASS)
        return safe_div(chars, n_words)

    def reference(self, text: str, path: str, lang: str | None) -> float:
        ws = ref_words(text)
        n = len(ws)
        if self.params.cjk_as_words:
            n += len(regex.findall(f"[{CJK_CLASS}]", text))
        return sum(map(len, ws)) / n if n else 0.0


# --- repetition -------------------------------------------------------------------------


def _ref_top_ngram(text: str, n: int) -> float:
    ws = ref_words(text)
    grams = Counter(tuple(ws[i : i + n]) for i in range(len(ws) - n + 1))
    if not grams:
        return 0.0
    top = max(grams.values())
    if top < 2:
        return 0.0
    longest = max(len(" ".join(g)) for g, c in grams.items() if c == top)
    return top * longest / len(text)


def _ref_dupe_ngram(text: str, n: int) -> float:
    ws = ref_words(text)
    total = sum(map(len, ws))
    grams = Counter(tuple(ws[i : i + n]) for i in range(len(ws) - n + 1))
    covered = [False] * len(ws)
    for i in range(len(ws) - n + 1):
        if grams[tuple(ws[i : i + n])] > 1:
            for k in range(i, i + n):
                covered[k] = True
    return sum(len(w) for w, c in zip(ws, covered) if c) / total if total else 0.0


def _make_ngram_rule(n: int, top: bool) -> type[Rule]:
    kind = "top" if top else "dupe"

    def measure(self: Rule, batch: DocBatch) -> np.ndarray:
        fn = top_ngram_char_fraction if top else dupe_ngram_char_fraction
        return fn(batch, n).copy()

    def reference(self: Rule, text: str, path: str, lang: str | None) -> float:
        return _ref_top_ngram(text, n) if top else _ref_dupe_ngram(text, n)

    doc = (
        f"Characters covered by the most frequent word {n}-gram (count x length) over the document's characters."
        if top
        else f"Share of word characters inside word {n}-grams that occur more than once in the document."
    )
    cls = type(
        f"{kind.title()}{n}gramFraction",
        (Rule,),
        {"measure": measure, "reference": reference, "__doc__": doc},
    )
    return register_rule(f"{kind}_{n}gram_fraction")(cls)


NGRAM_RULES = [_make_ngram_rule(n, True) for n in (2, 3, 4)] + [
    _make_ngram_rule(n, False) for n in range(5, 11)
]


class DupLineParams(RuleParams):
    skip_symbol_lines: bool = Field(
        False, description="leave out lines without a letter or digit (`}`, `})`, `*/`)"
    )


def _line_keys(batch: DocBatch) -> np.ndarray:
    """(document, trimmed line) keys per flat line: a 64-bit hash of the line plus the
    document (a false pair needs a 2^-64 collision), or dictionary codes without the kernel."""
    trimmed = pc.utf8_trim_whitespace(batch.flat_lines)
    doc = np.repeat(np.arange(batch.num_rows, dtype=np.int64), np.diff(batch.line_offsets))
    hashes = string_hashes(trimmed)  # 10x cheaper than a hash table of the lines
    if hashes is not None:
        return (hashes + doc.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)).view(np.int64)
    codes = to_np(pc.dictionary_encode(trimmed).indices).astype(np.int64)
    return doc * (int(codes.max(initial=0)) + 1) + codes


@register_rule("duplicate_line_fraction")
class DuplicateLineFraction(Rule):
    """Share of non-blank lines whose text (leading/trailing whitespace trimmed) occurs
    more than once in the document, every copy counted, 0..1 (OpenCoder's
    `frac_lines_dupe_lines` removes all whitespace; trimming is 2x cheaper and differs
    only for lines that differ in inner whitespace). `skip_symbol_lines`: lines with no
    letter or digit are not counted at all."""

    Params = DupLineParams

    def measure(self, batch: DocBatch) -> np.ndarray:
        skip = self.params.skip_symbol_lines

        def compute() -> np.ndarray:
            nb = nonblank_lines(batch)
            if skip:
                nb = nb & line_matches(batch, r"[\pL\pN]")
            dup = repeated_trimmed_lines(batch, nb)
            if dup is None:
                dup = np.zeros(len(nb), dtype=bool)
                dup[nb] = group_counts(_line_keys(batch)[nb]) > 1
            return safe_div(per_doc_sum(batch, dup), per_doc_sum(batch, nb))

        return feature(batch, f"dup_lines:{skip}", compute).copy()

    def reference(self, text: str, path: str, lang: str | None) -> float:
        keys = [ln.strip() for ln in text.split("\n")]
        keys = [k for k in keys if k and (not self.params.skip_symbol_lines or any(c.isalnum() for c in k))]
        counts = Counter(keys)
        return sum(1 for k in keys if counts[k] > 1) / len(keys) if keys else 0.0


# --- character classes -----------------------------------------------------------------


def _char_rule(name: str, char_class: str, test, doc: str) -> type[Rule]:
    def measure(self: Rule, batch: DocBatch) -> np.ndarray:
        return safe_div(count_chars(batch, char_class), batch.char_len)

    def reference(self: Rule, text: str, path: str, lang: str | None) -> float:
        return sum(1 for c in text if test(c)) / len(text) if text else 0.0

    cls = type(
        name.title().replace("_", ""), (Rule,), {"measure": measure, "reference": reference, "__doc__": doc}
    )
    return register_rule(name)(cls)


DigitFraction = _char_rule(
    "digit_fraction", r"\p{Nd}", str.isdecimal, "Share of characters that are decimal digits, 0..1."
)
WhitespaceFraction = _char_rule(
    "whitespace_fraction",
    "\t\n\v\f\r ",
    lambda c: c in "\t\n\v\f\r ",
    "Share of characters that are ASCII whitespace (tab, newline, vertical tab, form feed, CR, space), 0..1.",
)
ReplacementCharFraction = _char_rule(
    "replacement_char_fraction",
    "\ufffd",
    lambda c: c == "\ufffd",
    "Share of characters that are U+FFFD (bytes that were not valid UTF-8), 0..1.",
)


# --- strings, words, hex ---------------------------------------------------------------


class LongStringParams(RuleParams):
    min_words: int = Field(
        20, gt=0, description="a long string has more than this many words (OpenCoder: 20)"
    )


@register_rule("long_string_line_fraction")
class LongStringLineFraction(Rule):
    """Share of non-blank lines holding a one-line quoted string of more than
    `min_words` whitespace-separated words, 0..1."""

    Params = LongStringParams

    def _pattern(self) -> str:
        k = self.params.min_words
        return "|".join(f"{q}\\s*(?:[^\\s{q}]+\\s+){{{k},}}[^\\s{q}]+\\s*{q}" for q in ('"', "'"))

    def measure(self, batch: DocBatch) -> np.ndarray:
        return line_fraction(batch, self._pattern())

    def reference(self, text: str, path: str, lang: str | None) -> float:
        pat = re.compile(self._pattern())
        lines = [ln for ln in text.split("\n") if ln.strip()]
        return sum(1 for ln in lines if pat.search(ln)) / len(lines) if lines else 0.0


class LongWordParams(RuleParams):
    min_chars: int = Field(20, gt=0, description="a long word has more than this many chars (OpenCoder: 20)")


@register_rule("long_word_fraction")
class LongWordFraction(Rule):
    """Share of the document's characters inside whitespace-separated words longer than
    `min_chars` that are not URLs (OpenCoder looks only inside strings; we look at all
    words, which also catches minified code), 0..1."""

    Params = LongWordParams

    def measure(self, batch: DocBatch) -> np.ndarray:
        w = words(batch)
        url = to_np(pc.match_substring(w.flat, "://"))
        long = (w.lengths > self.params.min_chars) & ~url
        chars = segment_reduce(np.where(long, w.lengths, 0), w.offsets, np.add, 0)
        return safe_div(chars.astype(np.float64), batch.char_len)

    def reference(self, text: str, path: str, lang: str | None) -> float:
        n = sum(len(w) for w in ref_words(text) if len(w) > self.params.min_chars and "://" not in w)
        return n / len(text) if text else 0.0


HEX_WORD = r"\b0[xX][0-9a-fA-F]+\b"


@register_rule("hex_word_fraction")
class HexWordFraction(Rule):
    """Share of characters inside `0x...` hexadecimal literals, 0..1."""

    def measure(self, batch: DocBatch) -> np.ndarray:
        chars = hex_word_chars(batch)
        if chars is None:  # no compiled kernel: RE2 brackets the matches
            lens, off = match_lengths(batch, HEX_WORD)
            chars = segment_reduce(lens, off, np.add, 0).astype(np.float64)
        return safe_div(chars, batch.char_len)

    def reference(self, text: str, path: str, lang: str | None) -> float:
        return sum(len(m) for m in re.findall(HEX_WORD, text, flags=re.ASCII)) / len(text) if text else 0.0


# --- line signals ----------------------------------------------------------------------


class LinePatternParams(RuleParams):
    pattern: str = Field("", description="RE2 pattern searched in each line")


def _line_rule(name: str, default_pattern: str, doc: str, langs: tuple[str, ...] | None = None) -> type[Rule]:
    class P(LinePatternParams):
        pattern: str = Field(default_pattern, description="RE2 pattern searched in each line")

    def measure(self: Rule, batch: DocBatch) -> np.ndarray:
        if self.native_langs is None or self.params.langs is not None:
            return line_fraction(batch, self.params.pattern)
        out = np.full(batch.num_rows, np.nan)
        rows, sub = lang_subset(batch, self.native_langs)
        if len(rows):
            out[rows] = line_fraction(sub, self.params.pattern)
        return out

    def reference(self: Rule, text: str, path: str, lang: str | None) -> float:
        if self.native_langs is not None and self.params.langs is None and lang not in self.native_langs:
            return float("nan")
        pat = re.compile(self.params.pattern)
        lines = [ln for ln in ref_lines(text) if ln.strip()]
        return sum(1 for ln in lines if pat.search(ln)) / len(lines) if lines else 0.0

    attrs = {"measure": measure, "reference": reference, "__doc__": doc, "Params": P, "native_langs": langs}
    cls = type(name.title().replace("_", ""), (Rule,), attrs)
    return register_rule(name)(cls)


PromptCommentFraction = _line_rule(
    "prompt_comment_fraction",
    r"(?i)your code here|fixme|todo",
    "Share of non-blank lines with a prompt/placeholder comment (your code here, TODO, FIXME), 0..1.",
)
AssertLineFraction = _line_rule(
    "assert_line_fraction", r"(?i)assert", "Share of non-blank lines mentioning `assert`, 0..1."
)
