"""Natural language of comments (code files) or of the whole text (prose files).

lingua-language-detector carries its models inside the wheel (no download). To keep it
cheap the detector is built once per process over a configured language set, sees at most
`max_chars` code points per document; code files give their comments (`comments.comment_text`,
a lexer over a prefix; `comment_text` below is the tree-sitter path it was checked against).
"""

from __future__ import annotations

from functools import cache, lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from codesieve.core.parsewatch import parse_loop, parsing
from codesieve.filters.treesitter import GRAMMARS, _parser_and_query

#: comment markers stripped before detection (they are not words of any language)
_COMMENT_MARKS = r"(?m)(^\s*(//+|#+|/\*+|\*+/?|--+|;+|%+|\"\"\"|''')|\*+/)"
#: URLs, e-mail addresses, @handles and identifiers with digits/underscores/camelCase say
#: nothing about the natural language and fool short-text detectors
_NOT_WORDS = r"(\S+://\S+|www\.\S+|\S+@\S+|@\w+|\w*[\d_]\w*|\w*\p{Ll}\p{Lu}\w*)"


@lru_cache(maxsize=8)
def _detector(iso_codes: tuple[str, ...], low_accuracy: bool):
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    codes = [getattr(IsoCode639_1, c.upper()) for c in iso_codes]
    builder = LanguageDetectorBuilder.from_iso_codes_639_1(*codes).with_preloaded_language_models()
    if low_accuracy:
        builder = builder.with_low_accuracy_mode()
    return builder.build()


def warm(iso_codes: tuple[str, ...], low_accuracy: bool) -> None:
    """Build the detector that `detect(..., iso_codes, ..., low_accuracy)` uses."""
    _detector(tuple(iso_codes), low_accuracy)


#: the characters every comment of a grammar starts with (`//` `/*` -> "/", `#`, Lua/Haskell
#: `--`, Haskell `{-`, Ruby `=begin`); a prefix holding none of them has no
#: comment, so it is not parsed. Languages not listed: "/" (C family, JS/TS, Go, Rust, Java).
#: tests/test_kernels.py checks the shortcut against full parses on real files.
COMMENT_STARTS: dict[str, str] = {"Python": "#", "Shell": "#", "Lua": "-", "Haskell": "-{",
                                  "Ruby": "#=", "PHP": "/#"}


@cache
def _comment_parser(lang: str):
    """(parser, query capturing only comment nodes) for `lang`, or None without a grammar."""
    pq = _parser_and_query(lang)
    if pq is None:
        return None
    import tree_sitter as ts
    from tree_sitter_language_pack import get_language

    patterns = []
    for ctype in GRAMMARS[lang][1]:
        try:
            ts.Query(get_language(GRAMMARS[lang][0]), f"({ctype}) @comment")
            patterns.append(f"({ctype}) @comment")
        except Exception:
            continue
    return pq[0], ts.Query(get_language(GRAMMARS[lang][0]), " ".join(patterns)) if patterns else pq[1]


@parse_loop
def _comments_of(texts: list[str], lang: str, shortcut: bool = True) -> list[str]:
    """Comment text of each document in source order ('' when none or no grammar).
    `shortcut`: skip the parse of texts without a `COMMENT_STARTS` character."""
    pq = _comment_parser(lang)
    if pq is None:
        return [""] * len(texts)
    import tree_sitter as ts

    parser, query = pq
    starts = COMMENT_STARTS.get(lang, "/")
    out = []
    for text in texts:
        if shortcut and not any(c in text for c in starts):
            out.append("")
            continue
        data = text.encode("utf-8", "surrogatepass")
        with parsing(data):
            tree = parser.parse(data)
        nodes = ts.QueryCursor(query).captures(tree.root_node).get("comment", [])
        # captures come in no guaranteed order: sort so the output is deterministic
        spans = sorted({(nd.start_byte, nd.end_byte) for nd in nodes})
        out.append("\n".join(data[a:b].decode("utf-8", "replace") for a, b in spans))
    return out


def comment_text(texts: pa.Array, langs: pa.Array, parse_chars: int) -> list[str]:
    """Comment text per document, from tree-sitter on the first `parse_chars` code points.

    The language gate uses the lexer of `filters.langid.comments` instead (30x faster); this
    is what it was checked against (benchmarks/nl_comments.py).

    Documents whose language has no grammar in `filters.treesitter.GRAMMARS` get ''.
    Parsing is grouped by language (one parser per group); a per-document loop, since
    tree-sitter parses one buffer at a time (benchmarks/langid_speed.py measures it).
    """
    out = [""] * len(texts)
    by_lang: dict[str, list[int]] = {}
    for i, lang in enumerate(langs.to_pylist()):
        if lang in GRAMMARS:
            by_lang.setdefault(lang, []).append(i)
    for lang, idx in sorted(by_lang.items()):
        sub = pc.utf8_slice_codeunits(texts.take(pa.array(idx)), 0, parse_chars).to_pylist()
        for i, c in zip(idx, _comments_of(sub, lang)):
            out[i] = c
    return out


def detect(
    texts: list[str], iso_codes: tuple[str, ...], max_chars: int, min_letters: int, low_accuracy: bool = False
) -> tuple[pa.Array, np.ndarray]:
    """(ISO 639-1 code or null, confidence in [0, 1]) per text.

    Texts with fewer than `min_letters` letters after stripping comment markers, URLs and
    identifiers get null / nan.
    """
    n = len(texts)
    codes: list[str | None] = [None] * n
    score = np.full(n, np.nan, dtype=np.float32)
    if n == 0:
        return pa.array(codes, pa.string()), score
    arr = pc.utf8_slice_codeunits(pa.array(texts, pa.string()), 0, max_chars)
    arr = pc.replace_substring_regex(arr, _COMMENT_MARKS, " ")
    arr = pc.replace_substring_regex(arr, _NOT_WORDS, " ")
    # letters = code points left after dropping the non-letter runs (one RE2 match per run,
    # not one per letter as count_substring_regex(r"\p{L}") makes: 3x faster, same counts)
    letters = pc.utf8_length(pc.replace_substring_regex(arr, r"\P{L}+", "")).to_numpy(zero_copy_only=False)
    todo = np.flatnonzero(letters >= min_letters)
    if len(todo) == 0:
        return pa.array(codes, pa.string()), score
    detector = _detector(tuple(iso_codes), low_accuracy)
    # lingua's answer depends on the text alone: ask once per distinct text (on dev, 4,397
    # distinct of 8,013: shared licence headers and boilerplate comments)
    sub = arr.take(pa.array(todo))
    uniq = pc.unique(sub)
    first = pc.index_in(sub, uniq).to_numpy(zero_copy_only=False)
    # one text at a time on this thread: lingua's `_in_parallel` form gives the same values
    # but its rayon pool spins idle threads (dev, local run: NL 2.0 -> 1.6 CPU-s, same wall
    # time); the loop itself is ~1 us per distinct text
    results = [detector.compute_language_confidence_values(t) for t in uniq.to_pylist()]
    best = [(res[0].language.iso_code_639_1.name.lower(), res[0].value) if res else (None, np.nan) for res in results]
    for i, k in zip(todo, first):
        codes[i], score[i] = best[k]
    return pa.array(codes, pa.string()), score
