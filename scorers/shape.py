"""The `features` scorer's shape and structure features from one compiled pass over the lines.

`features.shape_features_reference` (with `scorers.structure`) reduces a dozen per-line
numpy arrays to per-document values, one segment sum at a time. Here the compiled
`line_doc_sums` (`codesieve/core/_kernels.c`) makes every per-document count and sum in one
pass over the `line_scan` fields, and the float features are computed from those sums with
the reference's own formulas. Every sum is of integers, so the values are bit for bit the
reference's (tests/test_kernels_shape.py compares them on real files).
"""

from __future__ import annotations

import numpy as np

from codesieve.core.batch import DocBatch
from codesieve.filters.rules.features import _kernels, safe_div
from codesieve.scorers import lines, structure

#: columns of `line_doc_sums` (the kernel's LDS_* order)
(BLANK, COMMENT, LONG, INDENT_SUM, INDENT_MAX, JUMP, UP, STEPS, PAREN, SQUARE, DEPTH, BRACKETS, NEG,
 COMMENT_CHARS, CODE_CHARS, OPEN, BAD_OPEN, CLOSE, BAD_CLOSE, INDENTED, ODD, TABS, DEF) = range(23)
NUM_SUMS = 23


def available() -> bool:
    """True when the compiled kernel is built."""
    return _kernels is not None and hasattr(_kernels, "line_doc_sums")


def line_flags(batch: DocBatch, blank: np.ndarray, comment: np.ndarray, defs: np.ndarray) -> np.ndarray:
    """uint8 per line: bit 0 blank, 1 comment line, 2 code ends with an opener `{([:`,
    3 code starts with a closer `})]`, 4 first byte a tab, 5 definition line."""
    n = len(blank)
    flags = blank.astype(np.uint8)
    flags |= comment.astype(np.uint8) << 1
    flags |= lines.code_ends_with(batch, "{([:", np.arange(n, dtype=np.int64)).astype(np.uint8) << 2
    flags |= lines.code_starts_with(batch, "})]").astype(np.uint8) << 3
    flags |= lines.starts_with_byte(batch, "\t").astype(np.uint8) << 4
    flags |= defs.astype(np.uint8) << 5
    return flags


def doc_sums(batch: DocBatch, indent: np.ndarray, flags: np.ndarray) -> np.ndarray:
    """float64 (documents, NUM_SUMS): the kernel's per-document sums (exact integers)."""
    out = np.empty((batch.num_rows, NUM_SUMS), np.int64)
    _kernels.line_doc_sums(
        np.ascontiguousarray(batch.line_offsets, np.int64), lines.line_fields(batch),
        np.ascontiguousarray(indent, np.int64), np.ascontiguousarray(batch.line_len, np.int64), flags, out,
    )
    return out.astype(np.float64)


def shape_features(batch: DocBatch, defs: np.ndarray, norms: dict[str, float] | None) -> dict[str, np.ndarray]:
    """`features.shape_features_reference(batch, norms)` from `doc_sums`; `defs`: the
    definition-line mask (`features.def_lines`). Without `norms` the caller adds
    `bracket_imbalance` (the text-wide count of the first models)."""
    blank = lines.blank_lines(batch)
    comment = lines.prefix_lines(batch, lines.COMMENT_PREFIXES)
    s = doc_sums(batch, lines.indent(batch), line_flags(batch, blank, comment, defs)).T
    n_lines = np.maximum(batch.num_lines, 1).astype(np.float64)
    nonblank = np.maximum(n_lines - s[BLANK], 1)
    comment_frac = s[COMMENT] / nonblank
    out = {
        "indent_jump": np.log1p(safe_div(s[JUMP], s[STEPS])),
        "indent_up_jump_fraction": safe_div(s[UP], s[STEPS]),
        "log_bytes": np.log1p(batch.byte_len),
        "log_lines": np.log1p(n_lines),
        "blank_line_fraction": s[BLANK] / n_lines,
        "comment_line_fraction": comment_frac,
        "def_line_fraction": s[DEF] / nonblank,
        "long_line_fraction": s[LONG] / n_lines,
        "mean_indent": np.log1p(s[INDENT_SUM] / nonblank),
        "max_indent": np.log1p(s[INDENT_MAX]),
    }
    if norms is not None:
        out.update(_structure(batch, s, comment_frac, norms))
    return out


def _structure(batch: DocBatch, s: np.ndarray, comment_frac: np.ndarray, norms: dict[str, float]) -> dict[str, np.ndarray]:
    """The `scorers.structure` features from the sums (same formulas)."""
    per_line = np.maximum(batch.num_lines, 1)
    paren, square, total = s[PAREN], s[SQUARE], s[BRACKETS]
    diff = np.abs(paren) + np.abs(square) + np.abs(s[DEPTH] - paren - square)
    out = {
        "comment_density": safe_div(s[COMMENT_CHARS], s[CODE_CHARS]),
        "comment_vs_lang": structure.lang_relative(comment_frac, batch, norms),
        "bracket_imbalance": safe_div(diff, total),
        "negative_depth_fraction": s[NEG] / per_line,
        "final_depth_share": safe_div(np.abs(s[DEPTH]), total),
        "opener_no_indent_fraction": safe_div(s[BAD_OPEN], s[OPEN]),
        "closer_indent_fraction": safe_div(s[BAD_CLOSE], s[CLOSE]),
        "log_openers": np.log1p(s[OPEN]),
        "odd_indent_fraction": safe_div(s[ODD], s[INDENTED]),
        "mixed_indent_fraction": safe_div(np.minimum(s[TABS], s[INDENTED] - s[TABS]), s[INDENTED]),
        "indented_line_fraction": s[INDENTED] / per_line,
    }
    out.update(structure.import_position(batch))
    return out
