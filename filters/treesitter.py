"""Tree-sitter parsing shared by rules (syntax errors, comment share) and language id
(comment text for natural-language detection).

Grammars come from `tree-sitter-language-pack<1`, which bundles them (no download).
Matching runs as tree-sitter queries in C; Python only touches the captured nodes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from codesieve.core.parsewatch import parse_loop, parsing

#: Linguist-style language name -> (grammar name, comment node types)
GRAMMARS: dict[str, tuple[str, tuple[str, ...]]] = {
    "Python": ("python", ("comment",)),
    "JavaScript": ("javascript", ("comment",)),
    "TypeScript": ("typescript", ("comment",)),
    "TSX": ("tsx", ("comment",)),
    "Java": ("java", ("line_comment", "block_comment")),
    "C": ("c", ("comment",)),
    "C++": ("cpp", ("comment",)),
    "Go": ("go", ("comment",)),
    "Rust": ("rust", ("line_comment", "block_comment")),
    "Ruby": ("ruby", ("comment",)),
    "PHP": ("php", ("comment",)),
    "Shell": ("bash", ("comment",)),
    "C#": ("csharp", ("comment",)),
    "Lua": ("lua", ("comment",)),
    "Haskell": ("haskell", ("comment",)),
}
if os.environ.get("CODESIEVE_TEST_PARSE_PERL") == "1":  # tests only: the grammar that hangs (see below)
    GRAMMARS["Perl"] = ("perl", ("comment",))
# Not parsed: Perl. The bundled grammar's external scanner (tree-sitter-language-pack
# 0.13.0, the last release < 1) loops forever on some inputs, e.g. a patch file with a
# mail header (tests/test_treesitter_hang.py); the loop sits inside the scanner, so neither
# a progress callback nor a timeout can stop it, and one such document wedged a 1M-row run.
# Perl files therefore get no syntax-error or comment features (as a language without a
# grammar) and no comment-language detection.


@dataclass
class ParseStats:
    """Per-document parse results (arrays aligned with the input texts)."""

    error_frac: np.ndarray  # bytes inside ERROR/MISSING nodes / total bytes
    comment_frac: np.ndarray  # bytes inside comment nodes / total bytes
    comments: list[str]  # concatenated comment text ('' when none)


@cache
def _parser_and_query(lang: str) -> tuple[Any, Any] | None:
    if lang not in GRAMMARS:
        return None
    import tree_sitter as ts
    from tree_sitter_language_pack import get_language, get_parser

    grammar, comment_types = GRAMMARS[lang]
    try:
        language = get_language(grammar)
        parser = get_parser(grammar)
    except Exception:  # grammar missing from this build of the pack
        return None
    patterns = ["(ERROR) @error"]
    try:
        ts.Query(language, "(MISSING) @error")
        patterns.append("(MISSING) @error")
    except Exception:
        pass
    for ctype in comment_types:
        try:
            ts.Query(language, f"({ctype}) @comment")
            patterns.append(f"({ctype}) @comment")
        except Exception:
            continue
    return parser, ts.Query(language, " ".join(patterns))


def supported(lang: str | None) -> bool:
    return lang is not None and _parser_and_query(lang) is not None


def _covered(spans: list[tuple[int, int]]) -> int:
    """Bytes covered by a union of [start, end) spans."""
    total, cur_end = 0, -1
    for s, e in sorted(spans):
        if s >= cur_end:
            total += e - s
            cur_end = e
        elif e > cur_end:
            total += e - cur_end
            cur_end = e
    return total


@parse_loop
def parse_stats(texts: list[str], lang: str, max_bytes: int = 1_000_000) -> ParseStats:
    """Parse every text as `lang`; documents over `max_bytes` are not parsed (nan)."""
    n = len(texts)
    err = np.full(n, np.nan)
    com = np.full(n, np.nan)
    comments = [""] * n
    pq = _parser_and_query(lang)
    if pq is None:
        return ParseStats(err, com, comments)
    import tree_sitter as ts

    parser, query = pq
    for i, text in enumerate(texts):
        data = text.encode("utf-8", "surrogatepass")
        if not data or len(data) > max_bytes:
            if not data:
                err[i] = com[i] = 0.0
            continue
        with parsing(data):
            tree = parser.parse(data)
        root = tree.root_node
        caps = ts.QueryCursor(query).captures(root)
        errors = [(nd.start_byte, max(nd.end_byte, nd.start_byte + 1)) for nd in caps.get("error", [])]
        # captures come back unordered: sort, or the joined comment text varies run to run
        cnodes = sorted(caps.get("comment", []), key=lambda nd: nd.start_byte)
        err[i] = min(_covered(errors) / len(data), 1.0)
        com[i] = _covered([(nd.start_byte, nd.end_byte) for nd in cnodes]) / len(data)
        if cnodes:
            comments[i] = "\n".join(data[nd.start_byte : nd.end_byte].decode("utf-8", "replace") for nd in cnodes)
    return ParseStats(err, com, comments)
