"""Per-line facts for the `features` scorer from one scan of each line's bytes, cached on the
batch: where the indentation ends, the first bytes of the code, the last non-blank byte,
the bracket balance and the first `//` / ` # ` comment mark.

The compiled `line_scan` kernel (`codesieve/core/_kernels.c`) makes them in one pass;
`line_fields_reference` is the Arrow/RE2 reference (and the path without a C compiler);
tests/test_kernels.py compares the two. Everything the scorer derives from them
(`indent`, `comment_lines`, `line_starts_with`, ...) equals the per-line regexes and
Arrow trims it replaced: lines whose edges hold non-ASCII bytes (which may be Unicode
whitespace) are sent to Arrow, and keyword regexes run only on the lines whose first two
code bytes can start a keyword.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from codesieve.core.batch import DocBatch, string_buffers
from codesieve.filters.rules.features import _kernels, feature, to_np

#: columns of `line_fields`
LEAD, HEAD, INDENT, FIRST, LAST, DEPTH, SLASH, HASH, PAREN, SQUARE, BRACKETS = range(11)
NUM_FIELDS = 11
#: RE2's `\s` and Arrow's ASCII whitespace (`utf8_ltrim_whitespace` also trims Unicode spaces)
RE2_SPACE = "\t\n\f\r "
ARROW_SPACE = "\t\n\v\f\r\x1c\x1d\x1e\x1f "


def line_bytes(batch: DocBatch) -> tuple[np.ndarray, np.ndarray]:
    """(UTF-8 bytes of all flat lines, per-line byte offsets (n + 1))."""
    return string_buffers(batch.flat_lines)


def line_fields(batch: DocBatch) -> np.ndarray:
    """int32 (lines, NUM_FIELDS): the `line_scan` fields (see `_kernels.c`) of every flat line."""

    def compute() -> np.ndarray:
        if _kernels is None:
            return line_fields_reference(batch)
        data, off = line_bytes(batch)
        out = np.empty((len(off) - 1, NUM_FIELDS), np.int32)
        _kernels.line_scan(data if len(data) else np.zeros(1, np.uint8), off, out)
        return out

    return feature(batch, "quality_line_scan", compute)


def _run_length(lines: pa.Array, chars: str, end: bool = False) -> np.ndarray:
    """Bytes in the leading (or trailing) run of `chars` of each line."""
    cls = "[" + "".join(f"\\x{ord(c):02x}" for c in chars) + "]+"
    kept = pc.replace_substring_regex(lines, cls + "$" if end else "^" + cls, "")
    return to_np(pc.binary_length(lines)).astype(np.int64) - to_np(pc.binary_length(kept))


def line_fields_reference(batch: DocBatch) -> np.ndarray:
    """`line_scan` with Arrow compute and numpy (the kernel's reference)."""
    lines = batch.flat_lines
    data, off = line_bytes(batch)
    start, length = off[:-1], np.diff(off)
    padded = np.concatenate([data, np.zeros(4, np.uint8)])

    def byte_at(pos: np.ndarray) -> np.ndarray:
        return np.where((pos >= 0) & (pos < length), padded[np.minimum(start + pos, len(data))].astype(np.int64), -1)

    out = np.zeros((len(length), NUM_FIELDS), np.int64)
    out[:, LEAD] = _run_length(lines, RE2_SPACE)
    for k in range(4):
        out[:, HEAD] = (out[:, HEAD] << 8) | np.maximum(byte_at(out[:, LEAD] + k), 0)
    out[:, INDENT] = _run_length(lines, ARROW_SPACE)
    out[:, FIRST] = byte_at(out[:, INDENT])
    out[:, LAST] = byte_at(length - 1 - _run_length(lines, ARROW_SPACE, end=True))
    for ch, sign in zip("([{)]}", (1, 1, 1, -1, -1, -1)):
        count = to_np(pc.count_substring(lines, ch))
        out[:, DEPTH] += sign * count
        out[:, BRACKETS] += count
        if ch in "()[]":
            out[:, PAREN if ch in "()" else SQUARE] += sign * count
    out[:, SLASH] = to_np(pc.find_substring(lines, "//"))
    out[:, HASH] = to_np(pc.find_substring(lines, " # "))
    return out.astype(np.uint32).view(np.int32) if len(out) else out.astype(np.int32)


def blank_lines(batch: DocBatch) -> np.ndarray:
    """Bool per line: RE2 `\\s` bytes only (`^\\s*$`, the rules library's `~nonblank_lines`):
    the leading `\\s` run of `line_fields` is the whole line."""

    def compute() -> np.ndarray:
        _, off = line_bytes(batch)
        return line_fields(batch)[:, LEAD] == np.diff(off)

    return feature(batch, "quality_blank", compute)


def head_bytes(batch: DocBatch, k: int) -> np.ndarray:
    """The k-th byte (0..3) after each line's leading RE2 whitespace (0 past the end)."""
    head = line_fields(batch)[:, HEAD].view(np.uint32)
    return ((head >> np.uint32(8 * (3 - k))) & np.uint32(0xFF)).astype(np.uint8)


def _fallback(batch: DocBatch, rows: np.ndarray) -> pa.Array:
    """The flat lines `rows` (int64 indices) as an Arrow array."""
    return batch.flat_lines.take(pa.array(rows, pa.int64()))


def indent(batch: DocBatch) -> np.ndarray:
    """Leading whitespace of each line in code points (Arrow `utf8_ltrim_whitespace`)."""

    def compute() -> np.ndarray:
        f = line_fields(batch)
        out = f[:, INDENT].astype(np.int64)
        uni = np.flatnonzero(f[:, FIRST] >= 0x80)  # may start with a Unicode space
        if len(uni):
            sub = _fallback(batch, uni)
            out[uni] = batch.line_len[uni] - to_np(pc.utf8_length(pc.utf8_ltrim_whitespace(sub)))
        return out

    return feature(batch, "quality_indent", compute)


def _byte_table(chars: str) -> np.ndarray:
    """Bool[257]: entry b + 1 is True for the bytes b of `chars` (entry 0: the -1 of "no byte")."""
    table = np.zeros(257, bool)
    table[[ord(c) + 1 for c in chars]] = True
    return table


def code_starts_with(batch: DocBatch, chars: str, rows: np.ndarray | None = None) -> np.ndarray:
    """Bool per line (of `rows`, default all): after Arrow's whitespace trim the line starts
    with one of `chars` (ASCII)."""
    first = line_fields(batch)[:, FIRST] if rows is None else line_fields(batch)[rows, FIRST]
    hit = _byte_table(chars)[first + 1]
    uni = np.flatnonzero(first >= 0x80)
    if len(uni):
        lead = pc.utf8_ltrim_whitespace(_fallback(batch, uni if rows is None else rows[uni]))
        hit[uni] = np.any([to_np(pc.starts_with(lead, c)) for c in chars], axis=0)
    return hit


def code_ends_with(batch: DocBatch, chars: str, rows: np.ndarray) -> np.ndarray:
    """Bool per line of `rows`: after Arrow's whitespace trim the line ends with one of `chars`."""
    last = line_fields(batch)[rows, LAST]
    hit = _byte_table(chars)[last + 1]
    uni = np.flatnonzero(last >= 0x80)
    if len(uni):
        trimmed = pc.utf8_rtrim_whitespace(_fallback(batch, rows[uni]))
        hit[uni] = np.any([to_np(pc.ends_with(trimmed, c)) for c in chars], axis=0)
    return hit


def starts_with_byte(batch: DocBatch, ch: str) -> np.ndarray:
    """Bool per line: its first byte is the ASCII character `ch` (`pc.starts_with`)."""
    data, off = line_bytes(batch)
    f = line_fields(batch)
    # a line starting with whitespace has lead or indent > 0; others cannot start with `ch`
    rows = np.flatnonzero((f[:, INDENT] > 0) if ch in ARROW_SPACE else np.diff(off) > 0)
    out = np.zeros(len(f), bool)
    out[rows] = data[off[rows]] == ord(ch)
    return out


#: `^\s*(#|//|/\*|\*|--|;|%|<!--|"""|''')` as byte prefixes after the leading `\s`
COMMENT_PREFIXES = ("#", "//", "/*", "*", "--", ";", "%", "<!--", '"""', "'''")


def prefix_lines(batch: DocBatch, prefixes: Iterable[str]) -> np.ndarray:
    """Bool per line: after its leading RE2 `\\s` run the line starts with one of the ASCII
    `prefixes` (1-4 bytes each); `^\\s*(p1|p2|...)` without a regex."""
    b = [head_bytes(batch, k) for k in range(4)]
    hit = np.zeros(len(b[0]), bool)
    for p in prefixes:
        m = b[0] == ord(p[0])
        for k in range(1, len(p)):
            m &= b[k] == ord(p[k])
        hit |= m
    return hit


def _starting(batch: DocBatch, starts: Iterable[str]) -> np.ndarray:
    r"""Indices of the lines whose code (after the leading RE2 `\s`) begins with one of the
    ASCII `starts` (1-4 characters each): a 64 Ki table on the first two bytes, then the
    first four bytes of the few lines left."""
    starts = sorted(set(starts))
    head = line_fields(batch)[:, HEAD].view(np.uint32)
    lut = np.zeros(1 << 16, bool)
    for st in starts:
        lo = ord(st[0]) << 8
        if len(st) == 1:
            lut[lo : lo + 256] = True
        else:
            lut[lo | ord(st[1])] = True
    top = feature(batch, "quality_head16", lambda: (head >> np.uint32(16)).astype(np.uint16))  # shared by the 3 callers
    rows = np.flatnonzero(lut[top])
    keep = np.zeros(len(rows), bool)
    for k in range(1, 5):
        values = [int.from_bytes(st.encode(), "big") for st in starts if len(st) == k]
        if values:
            keep |= np.isin(head[rows] >> np.uint32(32 - 8 * k), np.array(values, np.uint32))
    return rows[keep]


def keyword_lines(batch: DocBatch, pattern: str, starts: Iterable[str]) -> np.ndarray:
    """Bool per line: the RE2 `pattern` (anchored `^\\s*(...)`) matches, run only on the lines
    whose code begins with one of `starts` (1-4 ASCII characters each; every match of
    `pattern` must begin with one of them)."""

    def compute() -> np.ndarray:
        rows = _starting(batch, starts)
        hit = np.zeros(len(batch.flat_lines), bool)
        if len(rows):
            hit[rows] = to_np(pc.match_substring_regex(_fallback(batch, rows), pattern))
        return hit

    return feature(batch, f"quality_kw:{pattern}", compute)
