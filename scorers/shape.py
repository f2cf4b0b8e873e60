"""The `features` scorer's shape and structure features from one compiled pass over the lines.

`features.shape_features_reference` (with `scorers.structure`) reduces a dozen per-line
numpy arrays to per-document values, one segment sum at a time. Here the compiled
`line_doc_sums` (`codesieve/core/_kernels.c`) makes every per-document count and sum in one
pass over the lines and their `line_scan` fields (blank and comment lines, block openers and
closers, tab indents included); Python adds only what needs Arrow or RE2: the keyword-line
regexes, Unicode-whitespace edges, and the import lines' float positions. The float features
are computed from the sums with the reference's own formulas; every sum is of integers, so
the values are bit for bit the reference's (tests/test_kernels_shape.py compares them).
"""

from __future__ import annotations

import numpy as np

from codesieve.core.batch import DocBatch
from codesieve.filters.rules.features import _kernels, per_doc_sum, safe_div
from codesieve.scorers import lines, structure

#: columns of `line_doc_sums` (the kernel's LDS_* order)
(BLANK, COMMENT, LONG, INDENT_SUM, INDENT_MAX, JUMP, UP, STEPS, PAREN, SQUARE, DEPTH, BRACKETS, NEG,
 COMMENT_CHARS, CODE_CHARS, OPEN, BAD_OPEN, CLOSE, BAD_CLOSE, INDENTED, ODD, TABS, DEF, IMPORT,
 LATE_IMPORT) = range(25)
NUM_SUMS = 25


def available() -> bool:
    """True when the compiled kernel is built."""
    return _kernels is not None and hasattr(_kernels, "line_doc_sums")


def line_flags(batch: DocBatch, defs: np.ndarray, imports: np.ndarray | None, def_starts: np.ndarray | None) -> np.ndarray:
    """uint8 per line for the kernel: bit 0 / 1 the code ends with an opener / starts with a
    closer (set only where that edge byte is non-ASCII: Arrow's Unicode trim decides),
    bit 2 definition line, 3 import line, 4 definition-start line."""
    f = lines.line_fields(batch)
    flags = defs.astype(np.uint8) << 2
    if imports is not None and def_starts is not None:
        flags |= imports.astype(np.uint8) << 3
        flags |= def_starts.astype(np.uint8) << 4
    uni = np.flatnonzero(f[:, lines.LAST] >= 0x80)
    if len(uni):
        flags[uni] |= lines.code_ends_with(batch, "{([:", uni).astype(np.uint8)
    uni = np.flatnonzero(f[:, lines.FIRST] >= 0x80)
    if len(uni):
        flags[uni] |= lines.code_starts_with(batch, "})]", uni).astype(np.uint8) << 1
    return flags


def doc_sums(batch: DocBatch, flags: np.ndarray) -> np.ndarray:
    """float64 (NUM_SUMS, documents): the kernel's per-document sums (exact integers)."""
    data, line_off = lines.line_bytes(batch)
    out = np.empty((batch.num_rows, NUM_SUMS), np.int64)
    _kernels.line_doc_sums(
        data if len(data) else np.zeros(1, np.uint8), line_off, np.ascontiguousarray(batch.line_offsets, np.int64),
        lines.line_fields(batch), np.ascontiguousarray(lines.indent(batch), np.int64),
        np.ascontiguousarray(batch.line_len, np.int64), flags, out,
    )
    return out.astype(np.float64).T


def shape_features(batch: DocBatch, defs: np.ndarray, norms: dict[str, float] | None) -> dict[str, np.ndarray]:
    """`features.shape_features_reference(batch, norms)` from `doc_sums`; `defs`: the
    definition-line mask (`features.def_lines`). Without `norms` the caller adds
    `bracket_imbalance` (the text-wide count of the first models)."""
    imports = def_starts = None
    if norms is not None:
        imports = lines.keyword_lines(batch, structure._IMPORT_LINE, structure._IMPORT_STARTS)
        def_starts = lines.keyword_lines(batch, structure._DEF_START, structure._DEF_STARTS)
    s = doc_sums(batch, line_flags(batch, defs, imports, def_starts))
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
    if imports is not None and norms is not None:
        out.update(_structure(batch, s, comment_frac, norms))
        out["import_mean_position"] = _import_mean_position(batch, imports, s[IMPORT])
    return out


def _structure(batch: DocBatch, s: np.ndarray, comment_frac: np.ndarray, norms: dict[str, float]) -> dict[str, np.ndarray]:
    """The `scorers.structure` features from the sums (same formulas)."""
    per_line = np.maximum(batch.num_lines, 1)
    paren, square, total = s[PAREN], s[SQUARE], s[BRACKETS]
    diff = np.abs(paren) + np.abs(square) + np.abs(s[DEPTH] - paren - square)
    return {
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
        "import_after_def_fraction": safe_div(s[LATE_IMPORT], s[IMPORT]),
    }


def _import_mean_position(batch: DocBatch, imports: np.ndarray, n_imp: np.ndarray) -> np.ndarray:
    """`structure.import_position`'s mean relative position: the same per-line values (line
    number in its file / the file's lines) and the same segment sum, computed on import lines only."""
    off = batch.line_offsets
    idx = np.flatnonzero(imports)
    doc = np.searchsorted(off, idx, side="right") - 1
    rel = np.zeros(len(imports))
    rel[idx] = (idx.astype(np.float64) - off[:-1][doc]) / np.maximum(batch.num_lines, 1).astype(np.float64)[doc]
    return safe_div(per_doc_sum(batch, rel), n_imp)
