"""Text preparation shared by training and scoring (so both see exactly the same input).

`strip_license_header` drops a leading comment block that mentions a copyright or licence
(boilerplate that says nothing about the code's quality); `model_text` then cuts a prefix
and splits punctuation into tokens exactly as the language-id model's `prepare` does: RE2
for texts with non-ASCII characters, the compiled `token_split` kernel for the ASCII rest
(`prepare_reference` is `prepare` itself; tests compare). No per-row Python.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from codesieve.core.batch import DocBatch, string_buffers
from codesieve.filters import license_kernel
from codesieve.filters.langid import content
from codesieve.filters.langid.content import HEADER_WINDOW, NEWLINE_TOKEN, collapse_license_header, prepare
from codesieve.filters.rules.features import _kernels, feature, to_np

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


def strip_license_header(texts: pa.Array, keep_chars: int | None = None, prefix: pa.Array | None = None) -> pa.Array:
    """`texts` without a leading comment block that mentions a copyright or licence;
    with `keep_chars`, only the first `keep_chars` code points of each result (`prefix`:
    `texts` already cut there, when the caller has it)."""
    texts = _one(texts)
    head = pc.extract_regex(texts, f"(?P<h>{_HEAD_COMMENT})")
    head = pc.fill_null(pc.struct_field(head, [0]), "")
    is_license = to_np(pc.fill_null(pc.match_substring_regex(head, _LICENSE_WORDS), False)).astype(bool)
    if keep_chars is None:
        out = texts
    else:
        out = _one(prefix) if prefix is not None else pc.utf8_slice_codeunits(texts, 0, keep_chars)
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


def text_prefix(batch: DocBatch, chars: int) -> pa.Array:
    """The first `chars` code points of each document, cached on the batch (the fastText
    scorer and the features scorer's compression ratio both cut 8192)."""
    return feature(batch, f"quality_prefix:{chars}", lambda: pc.utf8_slice_codeunits(batch.text, 0, chars))


def window(max_chars: int) -> int:
    """Code points of each text that `model_text(texts, max_chars)` reads."""
    return max(HEADER_WINDOW, max_chars)


def model_text(texts: pa.Array, max_chars: int, prefix: pa.Array | None = None) -> list[str]:
    """fastText input per document: licence header dropped, the first `max_chars` code
    points, punctuation split off, newlines as a token (= `prepare_reference`). `prefix`:
    the texts cut to `window(max_chars)` code points, when the caller has them."""
    return _tokens(_collapsed(texts, max_chars, prefix), lines=False)


def model_lines(texts: pa.Array, max_chars: int, prefix: pa.Array | None = None) -> list[bytes]:
    """`model_text` as UTF-8 lines ending in "\\n": what fastText's `predict` passes to its C++
    `multilinePredict` (`fasttext_scorer.prob_good`), made without Python strings."""
    return _tokens(_collapsed(texts, max_chars, prefix), lines=True)


def _collapsed(texts: pa.Array, max_chars: int, prefix: pa.Array | None) -> pa.Array:
    # `prepare` looks at the first HEADER_WINDOW code points only, so nothing past them is copied
    if not license_kernel.available() or prefix is None:
        s = collapse_license_header(strip_license_header(texts, window(max_chars), prefix), max_chars)
    else:
        s = _collapse_window(_strip_window(texts, window(max_chars), prefix), max_chars)
    return pc.fill_null(s, "")


# (`_collapsed_reference` is the RE2 path; tests/test_kernels_text.py compares on real files)


def _collapsed_reference(texts: pa.Array, max_chars: int, prefix: pa.Array | None) -> pa.Array:
    """`_collapsed` with RE2 alone (`strip_license_header` + `collapse_license_header`)."""
    s = content.collapse_license_header_reference(strip_license_header(texts, window(max_chars), prefix), max_chars)
    return pc.fill_null(s, "")


def _strip_window(texts: pa.Array, keep_chars: int, prefix: pa.Array) -> pa.Array:
    """`strip_license_header(texts, keep_chars, prefix)` with the header found by the kernel."""
    return license_kernel.strip_headers(_one(texts), license_kernel.QUALITY, _LICENSE_WORDS, keep_chars, _one(prefix))


def _collapse_window(s: pa.Array, max_chars: int) -> pa.Array:
    """`collapse_license_header(s, max_chars)` for `s` cut to `window(max_chars)` code points
    (no second cut to HEADER_WINDOW when that is the same)."""
    if max_chars > HEADER_WINDOW:
        s = pc.utf8_slice_codeunits(s, 0, HEADER_WINDOW)
    return license_kernel.collapse_window(s, max_chars, content._OPENS_WITH_COMMENT, content._LICENSE_WORDS)


def _tokens(s: pa.Array, lines: bool) -> list[Any]:
    """`prepare`'s two replaces: the `token_split` kernel for ASCII texts, `token_split_bmp`
    for the rest (RE2 for texts with a code point above U+FFFF, or without the kernel)."""
    ascii_ = to_np(pc.string_is_ascii(s)).astype(bool) if _kernels is not None else np.zeros(len(s), bool)
    if ascii_.all():
        return _tokens_ascii(s, lines)
    result: list[Any] = [""] * len(s)
    for mask, fn in ((ascii_, _tokens_ascii), (~ascii_, _tokens_unicode)):
        rows = np.flatnonzero(mask)
        if len(rows):
            for i, tok in zip(rows.tolist(), fn(s.take(pa.array(rows, pa.int64())), lines)):
                result[i] = tok
    return result


def _tokens_re2(s: pa.Array, lines: bool) -> list[Any]:
    s = pc.replace_substring_regex(s, _PUNCT, r" \1 ")
    s = pc.replace_substring_regex(s, r"\r?\n", NEWLINE_TOKEN)
    out = pc.fill_null(s, "").to_pylist()
    return [t.encode() + b"\n" for t in out] if lines else out


def _tokens_ascii(s: pa.Array, lines: bool) -> list[Any]:
    data, off = string_buffers(s)
    out_off = np.empty(len(s) + 1, np.int64)
    joined = _kernels.token_split(data, np.ascontiguousarray(off), _PAD, out_off, 10 if lines else -1)
    return _unpack(joined, out_off, lines)


def _tokens_unicode(s: pa.Array, lines: bool) -> list[Any]:
    """`_tokens_re2` by the `token_split_bmp` kernel (`_bmp_pad`: which code points RE2 pads);
    texts with a code point above U+FFFF go to RE2."""
    if _kernels is None or not hasattr(_kernels, "token_split_bmp"):
        return _tokens_re2(s, lines)
    data, off = string_buffers(s)
    out_off, astral = np.empty(len(s) + 1, np.int64), np.empty(len(s), np.uint8)
    joined = _kernels.token_split_bmp(data, np.ascontiguousarray(off), _bmp_pad(), out_off, astral, 10 if lines else -1)
    result = _unpack(joined, out_off, lines)
    redo = np.flatnonzero(astral)
    if len(redo):
        for i, tok in zip(redo.tolist(), _tokens_re2(s.take(pa.array(redo, pa.int64())), lines)):
            result[i] = tok
    return result


@functools.cache
def _bmp_pad() -> np.ndarray:
    """uint8[65536]: 1 for the code points up to U+FFFF in `_PUNCT`, as RE2 decides (one
    match over the 63,488 non-surrogate non-ASCII ones, once per process; surrogates 0)."""
    cps = np.r_[0x80:0xD800, 0xE000:0x10000]
    pad = np.zeros(65536, np.uint8)
    pad[:128] = _PAD[:128]
    pad[cps] = to_np(pc.match_substring_regex(pa.array([chr(c) for c in cps.tolist()]), _PUNCT))
    return pad


def _unpack(joined: bytes, out_off: np.ndarray, lines: bool) -> list[Any]:
    """The kernel's joined output cut into one bytes (`lines`) or str per text."""
    if lines:
        ends = out_off.tolist()
        return [joined[a:b] for a, b in zip(ends[:-1], ends[1:])]
    return pa.LargeStringArray.from_buffers(len(out_off) - 1, pa.py_buffer(out_off), pa.py_buffer(joined)).to_pylist()


def prepare_reference(texts: pa.Array, max_chars: int) -> list[str]:
    """`model_text` as first written: whole-text strip, then the language-id `prepare`."""
    return prepare(strip_license_header(texts), max_chars)
