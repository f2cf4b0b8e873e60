"""Text preparation shared by training and scoring (so both see exactly the same input).

`strip_license_header` drops a leading comment block that mentions a copyright or licence
(boilerplate that says nothing about the code's quality); `model_text` then cuts a prefix
and splits punctuation into tokens with the language-id model's `prepare`. Arrow compute
only: no per-row Python.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from codesieve.filters.langid.content import prepare

#: a leading run of comment or blank lines (#, //, /* */, *, --, ;, %, REM, rST/Python docstring
#: fences are left alone: a docstring is documentation, not boilerplate)
_HEAD_COMMENT = r"^(?:[ \t]*(?:#|//|/\*|\*|--|;|%|<!--|-->|dnl\b|\(\*)[^\n]*\n|[ \t]*\r?\n)+"
_LICENSE_WORDS = r"(?i)copyright|licen[cs]e|spdx-license|all rights reserved|\(c\) \d{4}"


def strip_license_header(texts: pa.Array) -> pa.Array:
    """`texts` without a leading comment block that mentions a copyright or licence."""
    head = pc.extract_regex(texts, f"(?P<h>{_HEAD_COMMENT})")
    head = pc.fill_null(pc.struct_field(head, [0]), "")
    is_license = pc.fill_null(pc.match_substring_regex(head, _LICENSE_WORDS), False)
    if not pc.any(is_license).as_py():
        return texts
    stripped = pc.replace_substring_regex(texts, _HEAD_COMMENT, "", max_replacements=1)
    return pc.if_else(is_license, stripped, texts)


def model_text(texts: pa.Array, max_chars: int) -> list[str]:
    """fastText input per document: licence header dropped, the first `max_chars` code
    points, punctuation split off, newlines as a token."""
    return prepare(strip_license_header(texts), max_chars)
