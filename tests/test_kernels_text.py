"""The compiled shingle, number-blanking, literal-prefilter and encoded-run kernels
(codesieve/core/_kernels.c) against their numpy / RE2 / Python `re` references on real
documents: the shipped samples, every 25th row of the dev corpus's first shard when it is
present, and edge cases."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from test_kernels import _batch

from codesieve.core.batch import DocBatch
from codesieve.filters.decontam import NUMBER, _without_numbers, ngram_hashes
from codesieve.filters.dedup.shingles import ShingleConfig, shingle_hashes, shingle_hashes_numpy, string_bytes
from codesieve.filters.rules import features as F
from codesieve.filters.rules.literals import required_literals
from codesieve.filters.rules.starcoder2 import ENCODED_PATTERNS, encoded_match_lengths

pytestmark = pytest.mark.skipif(F._kernels is None, reason="compiled kernel not built (no C compiler)")

SOURCES = ["samples", "dev", "edge"]
EDGE_CODE = ["", " ", "a", "a b", "x_y z\u00e9\u4e2d 1 2 3 4 5 6", "ABC abc ABC abc", "\n\n  a[i]+=1; b\t\tc",
             "\u00e9" * 10, "a " * 4, "a " * 5, "a " * 6, "0x1F,0x2a 12abcg 1.2.3.4 _9 9_ \u00e91 1\u00e9 1..2 v1.2-b 3e10 x1.a"]


def _texts(source: str) -> pa.Array:
    if source == "edge":
        return pa.array(EDGE_CODE, pa.large_string())
    return _batch(source).text


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("cfg", [ShingleConfig(), ShingleConfig(ngram=10), ShingleConfig(tokens="code", lowercase=False),
                                 ShingleConfig(ngram=3, tokens="code", seed=7), ShingleConfig(ngram=1, seed=42)])
def test_shingle_kernel_matches_numpy(source: str, cfg: ShingleConfig) -> None:
    text = _texts(source)
    hashes, off = shingle_hashes(text, cfg)
    ref_hashes, ref_off = shingle_hashes_numpy(text, cfg)
    assert np.array_equal(off, ref_off)
    assert np.array_equal(hashes, ref_hashes)


@pytest.mark.parametrize("source", SOURCES)
def test_number_blanking_matches_re2_and_python(source: str) -> None:
    text = _texts(source)
    data, off = string_bytes(text)
    out = np.empty_like(data)
    F._kernels.blank_numbers(data, off, out)
    pat = re.compile(NUMBER, re.ASCII)
    for i, doc in enumerate(text.to_pylist()):
        assert bytes(out[off[i] : off[i + 1]]).decode() == pat.sub(lambda m: " " * len(m.group()), doc), doc[:80]
    hashes, hoff = ngram_hashes(text, 10)
    ref, ref_off = shingle_hashes(_without_numbers(text), ShingleConfig(ngram=10))
    assert np.array_equal(hoff, ref_off) and np.array_equal(hashes, ref)


LINE_PATTERNS = [
    r"(?i)your code here|(?:#|//|/\*|^\s*\*|--|<!--|^\s*;|^\s*\")[^\n]*\b(?:todo|fixme)\b",
    r"^\s*pass\s*(?:#.*)?$", r"^\s*print\b", r"^\s*(?:import\s|from\s+\S+\s+import\b)",
    r"^(?:(?:static\s+)?(?:int|void)\s+)?main\s*\([^;]*$", r"^\s*#\s*if", r"^\s*#\s*endif\b",
    r"^\s*#\s*(?:include|define|undef|ifdef|ifndef|if|elif|else|endif|pragma|error|warning|line)\b",
    r"(?i)assert", r"(?i)todo|fixme", r"ab+c",
]


def test_required_literals() -> None:
    assert required_literals(LINE_PATTERNS[0]) == (["fixme", "todo", "your code here"], True)
    assert required_literals(r"^\s*pass\s*(?:#.*)?$") == (["pass"], False)
    assert required_literals(r"^\s*#\s*(?:if|endif)\b") == (["#"], False)  # punctuation counts 3 letters
    assert required_literals(r"ab+c") == (["ab"], False)
    assert required_literals(r"abc?d") == (["ab"], False)
    assert required_literals(r"a{0,3}bcd") == (["bcd"], False)
    assert required_literals(r"(foo|bar)+baz?") == (["bar", "foo"], False)
    for none in (r"\S", r"[\pL\pN]", r"x\x41yz", r"a|\d+", r"foo(?i)bar", r"a*", r"(?:ab)?c?"):
        assert required_literals(none) is None, none


@pytest.mark.parametrize("source", SOURCES)
def test_literal_prefilter_matches_re2(source: str) -> None:
    batch = _batch(source)
    lines = batch.flat_lines
    for pattern in LINE_PATTERNS:
        fast = F.literal_prefilter(lines, pattern)
        assert fast is not None, pattern
        assert np.array_equal(fast, F.to_np(pc.match_substring_regex(lines, pattern)).astype(bool)), pattern


def test_segment_find_folds_ascii_and_flags_non_ascii() -> None:
    lines = pa.array(["x TODO y", "toDo", "to do", "\u212aelvin", "caf\u00e9", "tod", "fix me", "FIXME", "abctodo"])
    data, off = F.string_buffers(lines)
    out = np.empty(len(lines), np.uint8)
    F._kernels.segment_find(data, off, b"todo\0fixme\0", True, out)
    assert out.tolist() == [1, 1, 0, 1, 1, 0, 0, 1, 1]
    F._kernels.segment_find(data, off, b"todo\0fixme\0", False, out)
    assert out.tolist() == [0, 0, 0, 0, 0, 0, 0, 0, 1]
    # KELVIN SIGN folds to 'k' in RE2: the non-ASCII line is handed to RE2, which decides
    assert F.literal_prefilter(pa.array(["\u212aelvin", "kelvin", "x"]), "(?i)kelvin").tolist() == [True, True, False]


ENC_EDGE = ["", "A" * 70, "_" + "A" * 70 + "_", "x" + "ab, " * 8, "_" + "ab " * 8 + "_", "\\u00e9" * 8,
            "\u00e9" + "\\u00e9" * 9 + "\u00e9", "ab cd ef 01 23 45 67 89 aa", "_ab cd ef 01 23 45 67 89 aa",
            "(0x1f, 0x2e, 0x3d, 0x4c, 0x5b, 0x6a, 0x79, 0x88)", "\\x0a\\x0b" * 8, "0xab," * 8 + "\ufdd0" + "A" * 64]


@pytest.mark.parametrize("source", SOURCES)
def test_encoded_runs_give_the_full_text_matches(source: str) -> None:
    pattern = "|".join(f"(?:{p})" for p in ENCODED_PATTERNS)
    text = pa.array(ENC_EDGE, pa.large_string()) if source == "edge" else _batch(source).text
    lens, off = encoded_match_lengths(DocBatch(pa.table({"content": text})), pattern)
    ref_lens, ref_off = F.match_lengths(DocBatch(pa.table({"content": text})), pattern)
    for i, doc in enumerate(text.to_pylist()):
        got = lens[off[i] : off[i + 1]].tolist()
        py = [m.end() - m.start() for m in re.finditer(pattern, doc)]
        assert got == py, doc[:80]
        if "\ufdd0" not in doc:  # the full-text path brackets matches with U+FDD0 and miscounts such texts
            assert got == ref_lens[ref_off[i] : ref_off[i + 1]].tolist()


def test_text_kernels_refuse_bad_input() -> None:
    data = np.frombuffer(b"abc def", np.uint8)
    bad_off = np.array([0, 9], np.int64)
    with pytest.raises(ValueError, match="offsets out of range"):
        F._kernels.shingle_pack(data, bad_off, np.zeros(256, np.uint32), (5, 0), np.empty(2, np.int64), np.empty(9, np.uint64))
    off = np.array([0, 7], np.int64)
    with pytest.raises(ValueError, match="too small"):
        F._kernels.shingle_pack(data, off, np.full(256, 0x40000000, np.uint32), (2, 0), np.empty(2, np.int64), np.empty(5, np.uint64))
    with pytest.raises(ValueError, match="0 byte"):
        F._kernels.segment_find(data, off, b"abc", False, np.empty(1, np.uint8))
    with pytest.raises(ValueError, match="too small"):
        F._kernels.encoded_runs(np.frombuffer(b"A" * 80, np.uint8), np.array([0, 80], np.int64),
                                np.empty(10, np.uint8), np.empty(2, np.int64), np.empty(1, np.int64))


DUP_EDGE = ["a\n a \na\t\n\u00a0a\u3000\n\u3000a\nb\x1c\n\x1cb\n}\n}\n\n\n", "x\ny\nx\r\n\u00e9 \n \u00e9\n\u00e9\u00a0\n\u00e9",
            "", "\n\n", "same\nsame", "\u2028a\na\u2028\n\u0085b\nb"]


@pytest.mark.parametrize("source", SOURCES)
def test_duplicate_lines_kernel_matches_sort_and_dictionary(source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from codesieve.filters.rules import general
    from codesieve.filters.rules.general import DuplicateLineFraction

    def batch() -> DocBatch:
        return DocBatch(pa.table({"content": pa.array(DUP_EDGE)})) if source == "edge" else _batch(source)

    rules = [DuplicateLineFraction(DuplicateLineFraction.Params(skip_symbol_lines=s)) for s in (False, True)]
    kernel = [r.measure(batch()) for r in rules]
    monkeypatch.setattr(general, "repeated_trimmed_lines", lambda *_: None)  # hash + sort
    sort = [r.measure(batch()) for r in rules]
    monkeypatch.setattr(general, "string_hashes", lambda _strings: None)  # Arrow's dictionary_encode
    table = [r.measure(batch()) for r in rules]
    for k, s, t in zip(kernel, sort, table):
        assert np.array_equal(k, s) and np.array_equal(k, t)
    if source == "edge":
        ref = [rules[0].reference(t, "", None) for t in DUP_EDGE]
        assert np.allclose(kernel[0], ref)
    else:
        assert (kernel[0] > 0).sum() > 10


HEAD_EDGE = ["// Code generated by protoc. DO NOT EDIT.\nx", "a\nb\nc\nd\ne\n// do not edit", "\u00e9\n// AUTO-GENERATED",
             "x\n//# sourceMappingURL=a.js.map\n", "var __defProp = Object.defineProperty;", "sourceMappingURL=" + "x" * 500, ""]


@pytest.mark.parametrize("source", SOURCES)
def test_head_and_tail_rules_with_literal_candidates_match_re2(source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from codesieve.filters.rules.refined import CompiledOutput
    from codesieve.filters.rules.starcoder2 import AutogeneratedMarker

    def batch() -> DocBatch:
        return DocBatch(pa.table({"content": pa.array(HEAD_EDGE)})) if source == "edge" else _batch(source)

    rules = [CompiledOutput(CompiledOutput.Params()), AutogeneratedMarker(AutogeneratedMarker.Params())]
    fast = [r.measure(batch()) for r in rules]
    monkeypatch.setattr(F, "required_literals", lambda _pattern: None)  # RE2 on every head and tail
    slow = [r.measure(batch()) for r in rules]
    for f, s in zip(fast, slow):
        assert np.array_equal(f, s)
    if source == "edge":
        assert fast[0].tolist() == [0, 0, 0, 1, 1, 0, 0] and fast[1].tolist() == [1, 0, 1, 0, 0, 0, 0]


#: licence headers for each branch of the three header grammars (`scorers.text._HEAD_COMMENT`,
#: `filters.langid.content._HEAD_KEEP` + `_HEAD_BLOCK`, `filters.dedup.license.HEADER`)
EDGE_HEADERS = [
    "# Copyright 2020 X\n# Licensed under MIT\n\nimport os\n",
    "#!/usr/bin/env python\n# -*- coding: utf-8 -*-\n# Copyright (c) 2019\n\nx = 1\n",
    "\ufeff/* Copyright 2010\n * License: BSD */\n/* second */  /* third\n*/ int x;",
    "<?php\n/**\n * @license MIT\n */\nnamespace A;",
    "<?xml version='1.0'?>\n<!-- Copyright 2001 -->\n<!-- more --><root/>",
    "/* unterminated copyright\n int x;", "/*/ copyright */ x", "/**/ copyright", "<!--->copyright-->x",
    "/* a --> Copyright */\nx", "<!-- Copyright --><!-- unterminated", "/* (c) 2001 */ /* open\n",
    "// Copyright " + "\u00e9" * 100 + "\n// more\n#\n\t\n//x\ncode", "//" + "\u4e2d" * 59 + "licence\nx",
    "dnl Copyright\ndnl more\nAC_INIT", "dnlx copyright\n", "dnl", "  \r\n# copyright\r\n#\r\nx",
    "\n\n(* Copyright *)\ncode\n", "-- Copyright\n--> end\n; licence\n% LICENSE\nx", "#include <stdio.h>\n// copyright\n",
    "# copyright no newline", " " * 100 + "# copyright\nx", "#!\n# Copyright\n", "#!/bin/sh", "\ufeff#!/bin/sh\n#copyright\n",
    "#= License\n#\n# more\n  #  x\nend", "\t * All Rights Reserved\n\tcode", "% SPDX-License-Identifier: MIT\n",
    "<!--\nCopyright\n-->\n\n<!-- b -->\n<!-- c", "\f\v# licence\n", "\r# licence\n", "\ufeff\n\n/* Licence */", "",
    '"""Copyright 2001\nMIT License"""\nimport os', "'''\nlicense: GPL\n'''\n\n'''more''' x = 1", '"""unterminated licence',
    "/* Copyright */ int x; // tail\nint y;", "\r\n\t# Copyright", "// all rights reserved", "#!/bin/sh\n# Licence\nx\n",
]


def _same(a: pa.Array, b: pa.Array) -> bool:
    """Equal strings (string vs large_string aside: the prefixes of `core.batch.utf8_prefix` are large)."""
    return a.cast(pa.large_string()).equals(b.cast(pa.large_string()))


def _header_texts(source: str) -> pa.Array:
    return pa.array(EDGE_HEADERS, pa.large_string()) if source == "edge" else _batch(source).text


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("max_chars", [4096, 40])
def test_license_kernel_matches_re2(source: str, max_chars: int) -> None:
    from codesieve.filters.dedup.license import strip_license_headers, strip_license_headers_re2
    from codesieve.filters.langid import content as C
    from codesieve.scorers import text as T

    texts = _header_texts(source)
    prefix = pc.utf8_slice_codeunits(texts, 0, T.window(max_chars))
    got = T._collapsed(texts, max_chars, prefix)
    assert _same(got, T._collapsed_reference(texts, max_chars, prefix))
    # each step alone (`_collapsed` strips first, so collapse also sees the unstripped headers)
    short = pc.utf8_slice_codeunits(texts, 0, max_chars)
    assert T._strip_window(texts, max_chars, short).equals(T.strip_license_header(texts, max_chars, short))
    window = pc.utf8_slice_codeunits(texts, 0, C.HEADER_WINDOW)
    assert _same(T._collapse_window(window, max_chars), C.collapse_license_header_reference(window, max_chars))
    assert _same(C.collapse_license_header(texts, max_chars), C.collapse_license_header_reference(texts, max_chars))
    dedup = strip_license_headers(texts)
    assert dedup.equals(strip_license_headers_re2(texts).cast(dedup.type))
    if source != "dev":  # the samples and edge cases hold licence headers of every kind
        assert not got.equals(pc.utf8_slice_codeunits(texts, 0, max_chars)) and not dedup.equals(texts)


def test_gather_spans_joins_and_refuses_bad_spans() -> None:
    data = np.frombuffer(b"hello world", np.uint8)
    off = np.empty(3, np.int64)
    spans = np.array([[[0, 5], [-33, 0], [6, 11]], [[6, 6], [-11, 0], [0, 1]]], np.int64)
    assert F._kernels.gather_spans(data, spans, off) == b"hello world\nh" and off.tolist() == [0, 11, 13]
    with pytest.raises(ValueError):
        F._kernels.gather_spans(data, np.array([[[3, 20]]], np.int64), np.empty(2, np.int64))
    with pytest.raises(ValueError):
        F._kernels.license_spans(data, np.array([0, 11], np.int64), 3, np.empty(8, np.int64))


# --- r6 (issue 14): line split, heads, indentation, NUL rows, fold prefilter -----------------

LINE_EDGE = ["", "\n", "a", "a\n", "\na", "a\nb\n\nc", "\u00e9\n\u4e2d\u6587\n\U0001f600x", "x" * 17 + "\n" + "y" * 9,
             "\r\n\r\n", "1234567\n12345678\n123456789\n", "\u00e9" * 5 + "\n" * 9 + "z"]


def _line_texts(source: str) -> pa.Array:
    return pa.array(LINE_EDGE, pa.large_string()) if source == "edge" else _batch(source).text


@pytest.mark.parametrize("source", SOURCES)
def test_line_split_kernel_matches_arrow(source: str) -> None:
    from codesieve.core.batch import split_lines, split_lines_arrow

    text = _line_texts(source)
    for t in (text, text.slice(1), text.cast(pa.string()), text.slice(2, max(0, len(text) - 3))):
        lines, chars = split_lines(t)
        ref = split_lines_arrow(t)
        assert lines.type == ref.type and lines.equals(ref)
        assert np.array_equal(chars, F.to_np(pc.utf8_length(ref.flatten())).astype(np.int64))


@pytest.mark.parametrize("source", SOURCES)
def test_heads_indentation_and_nul_rows_match_arrow(source: str) -> None:
    from codesieve.pipeline.io import nul_rows

    text = _line_texts(source)
    batch = DocBatch(pa.table({"content": text}))
    for k in (1, 5):
        assert F.head_text(batch, k).to_pylist() == F.head_text_arrow(batch, k).to_pylist()
    ref = batch.line_len - F.to_np(pc.utf8_length(pc.utf8_ltrim(batch.flat_lines, characters=" \t")))
    assert np.array_equal(F.indentation(batch), ref)
    with_nul = pa.array(text.to_pylist() + ["a\x00b", "\x00", "x"], pa.large_string())
    for t in (with_nul, with_nul.slice(3)):
        assert np.array_equal(nul_rows(t), F.to_np(pc.match_substring(t, "\x00")))


@pytest.mark.parametrize("source", SOURCES)
def test_utf8_prefix_matches_arrow_slice(source: str) -> None:
    from codesieve.core.batch import utf8_prefix

    text = _line_texts(source)
    for t in (text, text.slice(1), text.cast(pa.string())):
        for k in (0, 1, 7, 8, 9, 100, 3000):
            assert utf8_prefix(t, k).to_pylist() == pc.utf8_slice_codeunits(t, 0, k).to_pylist(), k


HTML_EDGE = ["<p>a<!-- x --></p>", "<SCRIPT src=x>var a;</script >b", "<style>p{}</STYLE>c<b>d</b>", "no tags",
             "<scr<!-- -->ipt>x</script>", "caf\u00e9 <\u212a>", ""]


@pytest.mark.parametrize("source", SOURCES)
def test_html_hidden_parts_prefiltered_like_re2(source: str) -> None:
    from codesieve.filters.rules.formats import _HTML_HIDDEN, _replace_where_found

    text = pa.array(HTML_EDGE) if source == "edge" else _batch(source).text
    for repl in ("", " "):
        fast = ref = text
        for pat in _HTML_HIDDEN:
            fast, ref = _replace_where_found(fast, pat, repl), pc.replace_substring_regex(ref, pat, repl)
            assert fast.to_pylist() == ref.to_pylist(), pat


@pytest.mark.parametrize("source", SOURCES)
def test_tag_free_chars_kernel_matches_re2_path(source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from codesieve.filters.rules import formats

    extra = ["<a<b>c", "a<b", "x>y<z>w", "<>", "\u00e9<\u00e9>\u00e9 ", "a\x0bb\r\nc"]
    text = pa.array(HTML_EDGE + extra) if source == "edge" else _batch(source).text

    def html() -> DocBatch:  # every document taken for HTML: code exercises odd '<' and '>' too
        return DocBatch(pa.table({"content": text, "lang": pa.array(["HTML"] * len(text))}))

    fast = [formats._visible_chars(html(), cw) for cw in (False, True)]
    monkeypatch.setattr(formats, "_kernels", None)  # RE2 removes the tags, whitespace counted apart
    for cw, got in zip((False, True), fast):
        assert np.array_equal(got, formats._visible_chars(html(), cw))


def test_only_k_and_s_fold_to_non_ascii_in_re2() -> None:
    """`FOLDS_TO_NON_ASCII` is exact: of the characters a required literal can hold, RE2's
    (?i) matches a non-ASCII code point only for k and s (so other folded literals can skip
    non-ASCII strings)."""
    chars = pa.array([chr(c) for c in range(128, 0x110000) if not 0xD800 <= c <= 0xDFFF])
    plain = "abcdefghijklmnopqrstuvwxyz0123456789 _#\"'<>!%&,:;=@`~/-"
    hit = F.to_np(pc.match_substring_regex(chars, "(?i)[" + re.escape(plain) + "]"))  # one RE2 pass
    found = chars.filter(pa.array(hit)).to_pylist()
    folding = {c for c in plain for u in found if F.to_np(pc.match_substring_regex(pa.array([u]), "(?i)" + re.escape(c)))[0]}
    assert folding == {c for c in F.FOLDS_TO_NON_ASCII if c.islower()}
    assert F.literal_prefilter(pa.array(["caf\u00e9 todo", "\u00e9\u00e9", "TODO"]), "(?i)todo").tolist() == [True, False, True]
