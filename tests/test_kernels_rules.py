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
