"""Nesting depth of JSON lines, vectorized: a guard before Arrow's JSON reader.

Arrow's reader recurses per nesting level (a line nested thousands deep crashes the process)
and Parquet cannot read back columns nested deeper than about a hundred levels, so lines
nested deeper than a limit are quarantined before any reader sees them. Brackets inside
strings do not count: a quote preceded by an odd run of backslashes is escaped.
"""

from __future__ import annotations

import numpy as np

CHUNK = 4 << 20  # bytes examined at once (bounds the temporary arrays)


def max_depth(lines: list[bytes], limit: int | None = None) -> np.ndarray:
    """The deepest bracket nesting of each line (0 for a scalar line). With `limit`, lines
    that cannot be deeper than it (no more opening brackets than `limit`) give their count
    of opening brackets instead (an upper bound), which is all a guard needs."""
    opening = np.array([line.count(b"[") + line.count(b"{") for line in lines], dtype=np.int64)
    out = opening.copy() if limit is not None else np.zeros(len(lines), dtype=np.int64)
    todo = np.flatnonzero(opening > (limit if limit is not None else 0))
    start = 0
    while start < len(todo):
        stop, size = start, 0
        while stop < len(todo) and (size == 0 or size + len(lines[todo[stop]]) <= CHUNK):
            size += len(lines[todo[stop]]) + 1
            stop += 1
        rows = todo[start:stop]
        out[rows] = _depths([lines[i] for i in rows])
        start = stop
    return out


def _depths(lines: list[bytes]) -> np.ndarray:
    block = np.frombuffer(b"\n".join(lines) + b"\n", dtype=np.uint8)
    n = len(block)
    ends = np.flatnonzero(block == 10)
    starts = np.concatenate([[0], ends[:-1] + 1])
    idx = np.arange(n, dtype=np.int32)
    backslash = block == 92
    last_plain = np.maximum.accumulate(np.where(backslash, -1, idx))
    run_before = np.zeros(n, dtype=np.int32)  # backslashes right before each byte
    run_before[1:] = idx[:-1] - last_plain[:-1]
    quote = (block == 34) & ((run_before & 1) == 0)
    line_of = np.repeat(np.arange(len(lines)), ends - starts + 1)
    parity = np.cumsum(quote, dtype=np.int32)
    parity -= (parity[starts] - quote[starts])[line_of]
    outside = (parity & 1) == 0
    step = (((block == 91) | (block == 123)) & outside).view(np.int8)
    step = step - (((block == 93) | (block == 125)) & outside).view(np.int8)
    depth = np.cumsum(step, dtype=np.int32)
    depth -= (depth[starts] - step[starts])[line_of]
    return np.maximum.reduceat(depth, starts)


def reference_depth(line: bytes) -> int:
    """The same definition, one byte at a time (for tests)."""
    depth = best = 0
    in_string = escaped = False
    for byte in line:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 92:
                escaped = True
            elif byte == 34:
                in_string = False
        elif byte == 34:
            in_string = True
        elif byte in (91, 123):
            depth += 1
            best = max(best, depth)
        elif byte in (93, 125):
            depth -= 1
    return best
