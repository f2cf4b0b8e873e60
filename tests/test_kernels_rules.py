"""r7 (issue 14) rules-gate kernels against their numpy references on real documents: the
shipped samples, 1 in 25 rows of the first dev shard when present, and edge cases."""

from __future__ import annotations

import numpy as np
import pytest
from test_kernels import _batch

from codesieve.filters.rules import features as F

pytestmark = pytest.mark.skipif(F._kernels is None, reason="compiled kernel not built (no C compiler)")


@pytest.mark.parametrize("source", ["samples", "dev", "edge"])
def test_non_ascii_codepoints_kernel_matches_numpy(source: str) -> None:
    batch = _batch(source)
    cp, doc = F.non_ascii_codepoints(batch)
    ref_cp, ref_doc = F.non_ascii_codepoints_numpy(batch)
    assert len(cp) == len(ref_cp) and (source != "edge" or len(cp) > 10)
    assert np.array_equal(cp, ref_cp) and np.array_equal(doc, ref_doc)


def test_non_ascii_codepoints_kernel_raw_bytes() -> None:
    """Lead bytes cut off at the end of the data decode with zeros, as the reference pads;
    a cut lead byte inside the data reads the next segment's bytes, as the reference does."""
    data = np.frombuffer("a\u00e9".encode() + b"\xe2\x82" + "\U0001f600".encode()[:3] + b"\xc3", np.uint8)
    off = np.array([0, 3, 5, 5, len(data)], np.int64)
    cp, doc = np.empty(8, np.int64), np.empty(8, np.int64)
    k = F._kernels.nonascii_codepoints(data, off, cp, doc)
    padded = np.concatenate([data, np.zeros(4, np.uint8)]).astype(np.int64)
    assert k == 4 and list(doc[:k]) == [0, 1, 3, 3]
    assert cp[0] == 0xE9 and cp[1] == ((0xE2 & 0x0F) << 12) | ((0x82 & 0x3F) << 6) | (padded[5] & 0x3F)
    assert cp[3] == (0xC3 & 0x1F) << 6
    with pytest.raises(ValueError, match="cp_out"):
        F._kernels.nonascii_codepoints(data, off, cp[:3], doc[:3])


@pytest.mark.parametrize("source", ["samples", "dev", "edge"])
def test_line_pass_matches_the_one_feature_kernels(source: str) -> None:
    batch = _batch(source)
    data, off = F.string_buffers(batch.flat_lines)
    off = np.ascontiguousarray(off)
    n = len(off) - 1
    bits, indent, hashes, unsure = F.line_pass(batch)
    ref_bits, ref_indent = np.empty(n, np.uint8), np.empty(n, np.int64)
    ref_hashes, ref_unsure = np.empty(n, np.uint64), np.empty(n, np.uint8)
    F._kernels.segment_or(data, off, F._LINE_LUT, ref_bits)
    F._kernels.leading_bytes(data, off, F._INDENT_LUT, ref_indent)
    F._kernels.trimmed_hash(data, off, ref_hashes, ref_unsure)
    assert np.array_equal(bits, ref_bits) and (bits & 4).any() and (bits & 1).any() and not (bits & 1).all()
    assert np.array_equal(indent, ref_indent) and indent.any()
    assert np.array_equal(hashes, ref_hashes) and np.array_equal(unsure, ref_unsure)
    other = np.arange(256, dtype=np.uint8)  # a lut whose non-ASCII entries differ
    F._kernels.line_pass(data, off, other, F._INDENT_LUT, bits, indent, hashes, unsure)
    F._kernels.segment_or(data, off, other, ref_bits)
    assert np.array_equal(bits, ref_bits)
