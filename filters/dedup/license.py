"""Licence headers, stripped before near-dedup shingling (issue 10: short files whose
shingles are mostly a shared licence header were merged although their code differs).

A header is the leading run of comments of a file (line comments `#` `//` `--` `;` `%`,
`/* ... */` and `<!-- ... -->` blocks, Python `\"\"\"...\"\"\"` / `'''...'''` strings),
stripped only when it mentions a licence (copyright, licen[cs]e, SPDX, "permission is
hereby granted", "all rights reserved"). Vectorized: two RE2 passes over the batch.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from codesieve.filters import license_kernel

_COMMENT = (
    r"[ \t\r\n]*(?:(?:#|//|--|;|%)[^\n]*(?:\n|$)|/\*(?s:.*?)\*/[^\n]*(?:\n|$)|<!--(?s:.*?)-->"
    r"|\"\"\"(?s:.*?)\"\"\"|'''(?s:.*?)''')"
)
#: the leading comment run of a document
HEADER = rf"\A(?:{_COMMENT})+"
LICENSE_WORDS = r"(?i)copyright|licen[cs]e|spdx-license-identifier|permission is hereby granted|all rights reserved"


def strip_license_headers(text: pa.Array) -> pa.Array:
    """`text` with each leading comment run removed where it mentions a licence (the run's
    end from the compiled `license_spans` kernel when it is built; RE2 otherwise)."""
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    if license_kernel.available():
        return license_kernel.strip_headers(text, license_kernel.DEDUP, LICENSE_WORDS)
    return strip_license_headers_re2(text)


def strip_license_headers_re2(text: pa.Array) -> pa.Array:
    """`strip_license_headers` with two RE2 passes (the kernel path's reference)."""
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    header = pc.extract_regex(text, f"(?P<h>{HEADER})")
    head = pc.fill_null(pc.struct_field(header, [0]), "")
    has = pc.fill_null(pc.match_substring_regex(head, LICENSE_WORDS), False)
    if not np.any(has.to_numpy(zero_copy_only=False)):
        return text
    stripped = pc.replace_substring_regex(text, HEADER, "", max_replacements=1)
    return pc.if_else(has, stripped, text)


def strip_license_header_ref(text: str) -> str:
    """Per-document definition of `strip_license_headers` (Python `re`), for the tests."""
    import re

    m = re.match(rf"(?:{_COMMENT})+", text)
    if m and re.search(LICENSE_WORDS[4:], m.group(0), re.IGNORECASE):
        return text[m.end():]
    return text
