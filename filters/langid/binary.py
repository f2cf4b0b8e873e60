"""Binary-content test over a string column's raw bytes (numpy, no per-row Python).

Git's rule (a NUL byte in the first 8000 bytes) plus a share of U+FFFD replacement
characters (bytes EF BF BD: the crawl replaced undecodable bytes) in the same prefix.
One pass of numpy over the column's data buffer finds both, whatever the row count;
`pyarrow.compute` would first copy each prefix (`utf8_slice_codeunits`, ~200 MB/s).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from codesieve.core.batch import string_buffers

_FFFD = np.frombuffer("\ufffd".encode(), dtype=np.uint8)


_CHUNK = 1 << 20  # bytes compared at a time: the comparison buffer stays in cache


def _positions(buf: np.ndarray, byte: int) -> np.ndarray:
    """Positions of `byte` in `buf`, scanned in cache-sized chunks (no buffer-sized temporaries)."""
    tmp = np.empty(min(_CHUNK, len(buf)), dtype=bool)
    found = []
    for lo in range(0, len(buf), _CHUNK):
        chunk = buf[lo : lo + _CHUNK]
        hit = np.equal(chunk, byte, out=tmp[: len(chunk)])
        if hit.any():
            found.append(np.flatnonzero(hit) + lo)
    return np.concatenate(found) if found else np.zeros(0, np.int64)


def _per_row(pos: np.ndarray, starts: np.ndarray, ends: np.ndarray, n: int) -> np.ndarray:
    """How many of the byte positions `pos` fall in each row's [start, end) window."""
    row = np.searchsorted(starts, pos, side="right") - 1
    inside = (row >= 0) & (pos < ends[np.maximum(row, 0)])
    return np.bincount(row[inside], minlength=n)


def binary_mask(texts: pa.Array, head_bytes: int, max_nul: int, max_replacement_frac: float) -> np.ndarray:
    """Bool per row: more than `max_nul` NULs, or more than `max_replacement_frac` of the
    characters U+FFFD, within the first `head_bytes` UTF-8 bytes.

    The character count of the prefix is taken as bytes - 2 x U+FFFD (exact for ASCII text
    around the replacement characters; other multi-byte text only lowers the share).
    """
    n = len(texts)
    if n == 0:
        return np.zeros(0, dtype=bool)
    data, offsets = string_buffers(texts)
    starts = offsets[:-1]
    ends = np.minimum(offsets[1:], starts + head_bytes)
    lo, hi = int(starts.min()), int(offsets[1:].max())
    buf = data[lo:hi]
    nul = _per_row(_positions(buf, 0) + lo, starts, ends, n)
    lead = _positions(buf[:-2], int(_FFFD[0])) if len(buf) >= 3 else np.zeros(0, np.int64)
    lead = lead[(buf[lead + 1] == _FFFD[1]) & (buf[lead + 2] == _FFFD[2])]
    bad = _per_row(lead + lo, starts, ends - 2, n)
    chars = np.maximum((ends - starts) - 2 * bad, 1)
    return (nul > max_nul) | (bad / chars > max_replacement_frac)
