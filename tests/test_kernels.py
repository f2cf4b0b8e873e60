"""The compiled byte scan (codesieve/_kernels.c) against its numpy/RE2 references on real
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


def _batches() -> list[DocBatch]:
    tables = [pq.read_table(f, columns=["content"]) for f in sorted(glob.glob(str(ROOT / "data_samples" / "*.parquet")))]
    dev = sorted(glob.glob(str(DEV / "*.parquet")))
    if dev:  # every 10th row of the first shard: minified JS, CJK docs, U+FFFD, CRLF files
        t = pq.read_table(dev[0], columns=["content"])
        tables.append(t.take(pa.array(np.arange(0, min(t.num_rows, 30000), 10))))
    edge = pa.table({"content": ["", " ", "a", "\ufffd\ufffd x\ufffd", "漢字 かな カナ 한글 abc", "x\r\ny\t\tz  \n",
                                 "\u00e9t\u00e9 \u0661\u0662 \U0001f600"]})
    return [DocBatch(t, "content") for t in [*tables, edge]]


@pytest.mark.parametrize("batch", _batches(), ids=lambda b: f"{b.num_rows}rows")
def test_byte_scan_matches_references(batch: DocBatch) -> None:
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


def test_decontam_set_lookup_matches_isin() -> None:
    from codesieve.filters.decontam import _without_numbers, benchmark_ngrams, in_sorted_set
    from codesieve.filters.dedup.shingles import ShingleConfig, shingle_hashes

    bench = benchmark_ngrams(("humaneval",), (), ("prompt", "canonical_solution"), 10)
    texts = pa.concat_arrays([b.text.cast(pa.large_string()) for b in _batches()])
    hashes, _ = shingle_hashes(_without_numbers(texts), ShingleConfig(ngram=10, tokens="words", lowercase=True))
    planted = np.concatenate([hashes, bench[::7], bench[-1:] + np.uint64(1)])  # real hits and a near miss
    assert np.array_equal(in_sorted_set(planted, bench), np.isin(planted, bench))
    assert in_sorted_set(planted, bench).sum() >= len(bench[::7])


def test_comment_shortcut_matches_full_parse() -> None:
    """Files without a comment-start character are not parsed: same comments as parsing."""
    from codesieve.filters.langid import natural

    dev = sorted(glob.glob(str(DEV / "*.parquet")))
    paths = dev[:1] or sorted(glob.glob(str(ROOT / "data_samples" / "*.parquet")))
    t = pq.read_table(paths[0], columns=["content", "language"])
    checked = skipped = 0
    for lang in natural.GRAMMARS:
        texts = pc.utf8_slice_codeunits(t.filter(pc.equal(t.column("language"), lang)).column("content"), 0, 2048)
        texts = texts.to_pylist()[:80]
        assert natural._comments_of(texts, lang) == natural._comments_of(texts, lang, shortcut=False), lang
        starts = natural.COMMENT_STARTS.get(lang, "/")
        skipped += sum(not any(c in x for c in starts) for x in texts)
        checked += len(texts)
    assert checked > 200 and skipped > 0
