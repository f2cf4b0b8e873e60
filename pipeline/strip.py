"""Removing code from text documents, as Qwen2.5-Coder did for its text data
("all code segments were removed from the general Text data").

Vectorized with Arrow's RE2 regex replace, per markup language:
- Markdown (and plain Text): fenced blocks (``` or ~~~, any info string) and indented
  blocks (lines starting with 4 spaces or a tab after a blank line; CommonMark's rule,
  without the list-continuation exception);
- reStructuredText: literal blocks after a paragraph ending in `::` and the
  `code` / `code-block` / `sourcecode` directives with their indented bodies;
- any language: paragraphs the shipped content model labels as a programming language
  with probability >= `model_min_score` (for plain text with unmarked code).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# (\r tolerated everywhere: CRLF files are common in crawls)
FENCED = r"(?ms)^[ ]{0,3}(```|~~~)[^\n]*\n.*?^[ ]{0,3}(```|~~~)[ \t\r]*$\n?"
INDENTED = r"(\n[ \t\r]*\n)((?:    |\t)[^\n]*\n(?:[ \t\r]*\n|(?:    |\t)[^\n]*\n)*)"
RST_LITERAL = r"(::[ \t\r]*\n[ \t\r]*\n)((?:[ \t]+[^\n]*\n|[ \t\r]*\n)+)"
RST_DIRECTIVE = r"(?m)^\.\. (?:code-block|code|sourcecode)::[^\n]*\n((?:[ \t]+[^\n]*\n|[ \t\r]*\n)*)"
MARKDOWN_LANGS = ("Markdown", "Text")
RST_LANGS = ("reStructuredText",)


def _bytes(arr: pa.Array) -> np.ndarray:
    return pc.fill_null(pc.binary_length(arr), 0).to_numpy(zero_copy_only=False).astype(np.int64)


def strip_markup_code(text: pa.Array, lang: pa.Array) -> pa.Array:
    """Text with fenced/indented (Markdown) or literal/directive (reST) code blocks removed."""
    text = pc.fill_null(text.cast(pa.string()), "")
    lang = pc.fill_null(lang.cast(pa.string()), "")
    md = pc.replace_substring_regex(pc.replace_substring_regex(text, FENCED, ""), INDENTED, r"\1")
    rst = pc.replace_substring_regex(pc.replace_substring_regex(text, RST_DIRECTIVE, ""), RST_LITERAL, r"\1")
    out = pc.if_else(pc.is_in(lang, pa.array(MARKDOWN_LANGS)), md, text)
    return pc.if_else(pc.is_in(lang, pa.array(RST_LANGS)), rst, out)


def strip_model_code(text: pa.Array, min_score: float) -> pa.Array:
    """Drop paragraphs (blank-line separated) the content model labels as code.

    Only paragraphs of >= 3 lines are judged (shorter ones carry too little signal).
    """
    from codesieve.filters.langid.content import load_content_model

    model = load_content_model()
    paras = pc.split_pattern_regex(text, r"\n[ \t]*\n")
    flat = pc.list_flatten(paras)
    parents = pc.list_parent_indices(paras).to_numpy(zero_copy_only=False)
    lines = pc.count_substring(flat, "\n").to_numpy(zero_copy_only=False)
    ask = np.flatnonzero(lines >= 2)
    drop = np.zeros(len(flat), dtype=bool)
    if len(ask):
        pred = model.predict(flat.take(pa.array(ask)))
        prose = {"Text", "Markdown", "reStructuredText"}
        is_code = np.array([lg not in prose for lg in pred.lang]) & (np.asarray(pred.score) >= min_score)
        drop[ask[is_code]] = True
    if not drop.any():
        return text
    keep = pa.array(~drop)
    kept = pc.list_flatten(paras).filter(keep)
    counts = np.bincount(parents[~drop], minlength=len(text))
    offsets = np.zeros(len(text) + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    rebuilt = pa.ListArray.from_arrays(pa.array(offsets), kept)
    return pc.binary_join(rebuilt, "\n\n")


def strip_code(text: pa.Array, lang: pa.Array, model_min_score: float | None = 0.9) -> tuple[pa.Array, np.ndarray]:
    """(stripped text, bytes removed per document)."""
    text, lang = (a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a for a in (text, lang))
    before = _bytes(text)
    out = strip_markup_code(text, lang)
    out = out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out
    if model_min_score is not None and len(out):
        out = strip_model_code(out, model_min_score)
    return out, before - _bytes(out)
