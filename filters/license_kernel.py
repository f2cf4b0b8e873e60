"""Licence headers found by the compiled `license_spans` kernel (`codesieve/core/_kernels.c`)
for the three places that drop or shorten them: the quality scorers' fastText input
(`scorers.text`, mode 0), the language-id content model (`filters.langid.content`, mode 1)
and near-dedup shingling (`filters.dedup.license`, mode 2).

The kernel walks each grammar's header (a leading run of comment lines / blocks) in one pass
and reports its byte spans; the licence-word test stays in RE2, on the matched headers only;
the rest of each text is then taken by byte offsets (`gather_spans`) instead of an RE2
replace over the whole batch. Each caller keeps its RE2 function as the reference (and as
the path without a C compiler); tests/test_kernels_text.py compares them on real files.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from codesieve.core.batch import string_buffers
from codesieve.filters.rules.features import _kernels, to_np

#: `license_spans` modes
QUALITY, LANGID, DEDUP = 0, 1, 2


def available() -> bool:
    """True when the compiled kernels are built."""
    return _kernels is not None


def spans(strings: pa.Array, mode: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(data, byte offsets, int64 (n, 8) `license_spans` of `mode`) of `strings`."""
    data, off = string_buffers(strings)
    out = np.empty((len(strings), 8), np.int64)
    _kernels.license_spans(data, np.ascontiguousarray(off), mode, out)
    return data, off, out


def gather(data: np.ndarray, parts: np.ndarray) -> pa.Array:
    """Row r: its spans `parts[r]` ((k, 2) byte ranges of `data`; start < 0: the single byte
    -start-1) joined, as a large_string array (compiled `gather_spans`)."""
    out_off = np.empty(len(parts) + 1, np.int64)
    joined = _kernels.gather_spans(data, np.ascontiguousarray(parts, np.int64), out_off)
    return pa.LargeStringArray.from_buffers(len(parts), pa.py_buffer(out_off), pa.py_buffer(joined))


def _ranges(data: np.ndarray, start: np.ndarray, end: np.ndarray) -> pa.Array:
    return gather(data, np.stack([start, end], axis=1)[:, None, :])


def char_cut(data: np.ndarray, start: np.ndarray, end: np.ndarray, chars: int) -> np.ndarray:
    """A byte position <= `end` on a character boundary with at least `chars` code points
    (or all there are) between `start` and it: 4 bytes per code point, stepped back off
    UTF-8 continuation bytes."""
    cut = np.minimum(end, start + 4 * chars)
    for _ in range(3):
        inside = cut < end
        cut -= inside & ((data[np.where(inside, cut, 0)] & 0xC0) == 0x80)
    return cut


def strip_headers(texts: pa.Array, mode: int, words: str, keep_chars: int | None = None,
                  out: pa.Array | None = None) -> pa.Array:
    """`texts` without the leading header of `mode` (0 or 2) where RE2 `words` finds a licence
    word in it. With `keep_chars`, only the first `keep_chars` code points of each stripped
    text, patched into `out` (the texts already cut there)."""
    out = texts if out is None else out
    data, off, sp = spans(texts, mode)
    end = sp[:, 7]
    rows = np.flatnonzero(end > 0)
    if not len(rows):
        return out
    lic = rows[to_np(pc.match_substring_regex(_ranges(data, off[rows], off[rows] + end[rows]), words)).astype(bool)]
    if not len(lic):
        return out
    a, b = off[lic] + end[lic], off[lic + 1]
    if keep_chars is None:
        tails = _ranges(data, a, b)
    else:
        tails = pc.utf8_slice_codeunits(_ranges(data, a, char_cut(data, a, b, keep_chars)), 0, keep_chars)
    mask = np.zeros(len(texts), bool)
    mask[lic] = True
    return pc.replace_with_mask(out, pa.array(mask), tails.cast(out.type))


def collapse_window(s: pa.Array, max_chars: int, opens_pattern: str, words: str) -> pa.Array:
    """`filters.langid.content.collapse_license_header` of texts already cut to its window:
    rows where RE2 `opens_pattern` matches the first 80 code points and RE2 `words` the
    header get the header replaced by `keep first line " " end "\\n"` (the kernel's groups);
    then the first `max_chars` code points."""
    opens = pc.match_substring_regex(pc.utf8_slice_codeunits(s, 0, 80), opens_pattern)
    rows = np.flatnonzero(to_np(pc.fill_null(opens, False)).astype(bool))
    if len(rows):
        sub = s.take(pa.array(rows))
        data, off, sp = spans(sub, LANGID)
        found = np.flatnonzero(sp[:, 7] >= 0)
        heads = _ranges(data, off[found], off[found] + sp[found, 7])
        lic = found[to_np(pc.fill_null(pc.match_substring_regex(heads, words), False)).astype(bool)]
        if len(lic):
            mask = np.zeros(len(s), dtype=bool)
            mask[rows[lic]] = True
            s = pc.replace_with_mask(s, pa.array(mask), gather(data, _collapsed_parts(off, sp, lic)).cast(s.type))
    return pc.utf8_slice_codeunits(s, 0, max_chars)


def _collapsed_parts(off: np.ndarray, sp: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """(rows, 7, 2) spans of the replacement `\\1\\2\\4 \\3\\n` (keep, first, line, " ", end,
    "\\n") followed by the text after the match."""
    o, x = off[rows], sp[rows]

    def group(a: int, b: int) -> np.ndarray:  # (start, end) of a group, empty when it is absent
        on = x[:, a] >= 0
        return np.stack([o + np.where(on, x[:, a], 0), o + np.where(on, x[:, b], 0)], axis=1)

    lit = {c: np.tile([-ord(c) - 1, 0], (len(rows), 1)) for c in " \n"}
    parts = [np.stack([o, o + x[:, 0]], axis=1), group(1, 2), group(5, 6), lit[" "], group(3, 4), lit["\n"],
             np.stack([o + x[:, 7], off[rows + 1]], axis=1)]
    return np.stack(parts, axis=1)
