"""The compiled `token_split_bmp` (fastText input of texts with non-ASCII characters,
`scorers.text._tokens_unicode`) against `prepare`'s two RE2 replaces (`_tokens_re2`) on the
non-ASCII documents of the shipped samples, of the dev corpus when present, and edge cases
(CJK and typographic punctuation, Unicode spaces, combining marks, code points above U+FFFF)."""

from __future__ import annotations

import glob
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from codesieve.scorers import text as T

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT.parent / "shared" / "corpus" / "dev"

pytestmark = pytest.mark.skipif(not hasattr(T._kernels, "token_split_bmp"), reason="compiled kernel not built")


def test_bmp_pad_is_re2s_punctuation_class() -> None:
    """ASCII entries equal the ASCII kernel's table; some known letters / symbols."""
    pad = T._bmp_pad()
    assert np.array_equal(pad[:128], T._PAD[:128])
    assert [pad[ord(c)] for c in "é漢、。—«·½\u00a0\u3000\u0301"] == [0, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1]


def _non_ascii(source: str) -> pa.Array:
    if source == "edge":
        return pa.array(["é, à; «x» — y…", "漢字、かな。「カナ」", "emoji 😀! and ü?", "\u00a0\u2003\u3000·\r\n—\n",
                         "a\u0301\u0660\u00b2\u00aa\u00bd½\ufffd", "€$£¥ 𝔘 ∑∫≤"], pa.large_string())
    if source == "samples":
        files = sorted(glob.glob(str(ROOT / "data_samples" / "*.parquet")))
        t = pa.concat_tables([pq.read_table(f, columns=["content"]) for f in files])
    else:
        dev = sorted(glob.glob(str(DEV / "*.parquet")))
        if not dev:
            pytest.skip("dev corpus not present")
        t = pq.read_table(dev[0], columns=["content"])
    text = pc.utf8_slice_codeunits(t.column("content").combine_chunks(), 0, 4096)
    return text.filter(pc.invert(pc.string_is_ascii(text)))


@pytest.mark.parametrize("source", ["samples", "dev", "edge"])
@pytest.mark.parametrize("lines", [True, False])
def test_unicode_token_split_matches_re2(source: str, lines: bool) -> None:
    """`token_split_bmp` (+ RE2 for texts above U+FFFF) equals `prepare`'s two RE2 replaces."""
    s = _non_ascii(source)
    assert len(s) > 0
    assert T._tokens_unicode(s, lines) == T._tokens_re2(s, lines)
