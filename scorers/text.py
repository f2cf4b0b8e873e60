"""Text preparation shared by training and scoring (so both see exactly the same input).

`strip_license_header` drops a leading comment block that mentions a copyright or licence
(boilerplate that says nothing about the code's quality); `model_text` then cuts a prefix
and splits punctuation into tokens exactly as the language-id model's `prepare` does: RE2
for texts with non-ASCII characters, the compiled `token_split` kernel for the ASCII rest
(`prepare_reference` is `prepare` itself; tests compare). No per-row Python.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from codesieve.filters.langid.content import HEADER_WINDOW, NEWLINE_TOKEN, collapse_license_header, prepare
from codesieve.filters.rules.features import _kernels, to_np

#: a leading run of comment or blank lines (#, //, /* */, *, --, ;, %, REM, rST/Python docstring
#: fences are left alone: a docstring is documentation, not boilerplate)
_HEAD_COMMENT = r"^(?:[ \t]*(?:#|//|/\*|\*|--|;|%|<!--|-->|dnl\b|\(\*)[^\n]*\n|[ \t]*\r?\n)+"
_LICENSE_WORDS = r"(?i)copyright|licen[cs]e|spdx-license|all rights reserved|\(c\) \d{4}"
#: `prepare`'s punctuation class, and the ASCII bytes in it (as RE2 decides)
_PUNCT = r"([^\p{L}\p{N}_\s])"
_PAD = to_np(pc.match_substring_regex(pa.array([chr(c) for c in range(128)]), _PUNCT)).astype(np.uint8)
_PAD = np.concatenate([_PAD, np.zeros(128, np.uint8)])


def _one(texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    return texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts


def strip_license_header(texts: pa.Array, keep_chars: int | None = None) -> pa.Array:
    """`texts` without a leading comment block that mentions a copyright or licence;
    with `keep_chars`, only the first `keep_chars` code points of each result."""
    texts = _one(texts)
    head = pc.extract_regex(texts, f"(?P<h>{_HEAD_COMMENT})")
    head = pc.fill_null(pc.struct_field(head, [0]), "")
    is_license = to_np(pc.fill_null(pc.match_substring_regex(head, _LICENSE_WORDS), False)).astype(bool)
    out = texts if keep_chars is None else pc.utf8_slice_codeunits(texts, 0, keep_chars)
    if not is_license.any():
        return out
    lic = texts.filter(pa.array(is_license))
    if keep_chars is not None:
        # a header regex match cannot grow when text after it is cut, so cutting `keep_chars`
        # past the longest header changes no match and copies no whole file
        longest = int(to_np(pc.utf8_length(head.filter(pa.array(is_license)))).max())
        lic = pc.utf8_slice_codeunits(lic, 0, longest + keep_chars)
    stripped = pc.replace_substring_regex(lic, _HEAD_COMMENT, "", max_replacements=1)
    if keep_chars is not None:
        stripped = pc.utf8_slice_codeunits(stripped, 0, keep_chars)
    return pc.replace_with_mask(out, pa.array(is_license), stripped.cast(out.type))


def model_text(texts: pa.Array, max_chars: int) -> list[str]:
    """fastText input per document: licence header dropped, the first `max_chars` code
    points, punctuation split off, newlines as a token (= `prepare_reference`)."""
    # `prepare` looks at the first HEADER_WINDOW code points only, so nothing past them is copied
    s = collapse_license_header(strip_license_header(texts, max(HEADER_WINDOW, max_chars)), max_chars)
    if _kernels is None:
        return _tokens_re2(s)
    s = pc.fill_null(s, "")
    ascii_ = to_np(pc.string_is_ascii(s)).astype(bool)
    if ascii_.all():
        return _tokens_ascii(s)
    result: list[str] = [""] * len(s)
    for mask, fn in ((ascii_, _tokens_ascii), (~ascii_, _tokens_re2)):
        rows = np.flatnonzero(mask)
        for i, tok in zip(rows.tolist(), fn(s.take(pa.array(rows, pa.int64())))):
            result[i] = tok
    return result


def _tokens_re2(s: pa.Array) -> list[str]:
    """`prepare`'s two replaces with RE2."""
    s = pc.replace_substring_regex(s, _PUNCT, r" \1 ")
    s = pc.replace_substring_regex(s, r"\r?\n", NEWLINE_TOKEN)
    return pc.fill_null(s, "").to_pylist()


def _tokens_ascii(s: pa.Array) -> list[str]:
    """`prepare`'s two replaces for ASCII texts, by the compiled `token_split` kernel."""
    s = s.cast(pa.large_string())
    _, off_buf, data_buf = s.buffers()
    off = np.frombuffer(off_buf, np.int64)[s.offset : s.offset + len(s) + 1]
    data = np.frombuffer(data_buf, np.uint8) if data_buf is not None else np.zeros(1, np.uint8)
    out_off = np.empty(len(s) + 1, np.int64)
    joined = _kernels.token_split(data, np.ascontiguousarray(off), _PAD, out_off)
    arr = pa.LargeStringArray.from_buffers(len(s), pa.py_buffer(out_off), pa.py_buffer(joined))
    return arr.to_pylist()


def prepare_reference(texts: pa.Array, max_chars: int) -> list[str]:
    """`model_text` as first written: whole-text strip, then the language-id `prepare`."""
    return prepare(strip_license_header(texts), max_chars)
