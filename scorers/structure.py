"""Structure features that see damage to well-formed code (minified, comments stripped, lines
shuffled, syntax errors), for the `features` scorer. All vectorized over the batch's flat
lines (Arrow compute + numpy segment sums; no per-row Python).

- bracket depth: running sum of opening minus closing brackets over each file's lines; the
  share of lines where it goes negative (a closer before its opener: reordered lines or a
  dropped opener) and the final depth relative to the bracket count (dropped closers);
- opener -> indent: lines ending with `{`, `(`, `[` or `:` open a block, so the next
  non-blank line should be indented further; the share of openers whose next line is not
  (reordered lines, dropped `:` / `{`);
- closer -> dedent: lines starting with `}`, `)` or `]` should not be indented further
  than the line before;
- indentation consistency: share of indented lines whose width is a multiple of 2, share
  of lines indented with tabs where most use spaces (or the reverse);
- imports at the top: mean relative position of import / include / require lines (0 when
  there are none; shuffled files scatter them towards 0.5) and the share of them that come
  after the first definition line;
- comment density: comment characters (full-line and trailing `#` / `//` comments) per
  code character, and the comment-line share minus the language's norm (the median over
  the training positives of that language, stored in the model JSON).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from codesieve.core.batch import DocBatch
from codesieve.filters.rules.features import feature, per_doc_sum, safe_div, to_np
from codesieve.scorers import lines

_IMPORT_LINE = r"^\s*(import\s|from\s+\S+\s+import\s|#\s*include\s|using\s+[\w.]+;|require\(|"\
    r"(const|let|var)\s+\w+\s*=\s*require\(|use\s+[\w:]+|package\s+[\w.]+;?\s*$)"
_DEF_START = r"^\s*(def|class|function|func|fn|pub\s+fn|public|private|static|struct|impl|int|void)\b"


#: lines whose first code bytes can begin an `_IMPORT_LINE` / `_DEF_START` match
_IMPORT_STARTS = ("impo", "from", "#", "usin", "requ", "cons", "let", "var", "use", "pack")
_DEF_STARTS = ("def", "clas", "func", "fn", "pub", "priv", "stat", "stru", "impl", "int", "void")


def brackets(batch: DocBatch) -> dict[str, np.ndarray]:
    """Bracket features: imbalance (|open - close| per pair / all brackets), share of lines
    ending at a negative running depth (a closer before its opener), |final depth| / all
    brackets. The depth is summed per line (`lines.line_fields`), then over each file."""
    f = lines.line_fields(batch)
    paren, square, depth_all, total = (
        per_doc_sum(batch, f[:, k]) for k in (lines.PAREN, lines.SQUARE, lines.DEPTH, lines.BRACKETS)
    )
    diff = np.abs(paren) + np.abs(square) + np.abs(depth_all - paren - square)
    off = batch.line_offsets
    csum = np.concatenate([[0], np.cumsum(f[:, lines.DEPTH], dtype=np.int64)])
    depth = csum[1:] - csum[off[:-1]][_doc_of_line(batch)]  # depth at each line's end, within its file
    ends_nl = np.ones(len(depth), bool)  # every line but a file's last ends at a newline
    ends_nl[off[1:][off[1:] > off[:-1]] - 1] = False
    neg = per_doc_sum(batch, ends_nl & (depth < 0))
    final = np.abs(csum[off[1:]] - csum[off[:-1]]).astype(np.float64)
    return {
        "bracket_imbalance": safe_div(diff, total),
        "negative_depth_fraction": neg / np.maximum(batch.num_lines, 1),
        "final_depth_share": safe_div(final, total),
    }


def _doc_of_line(batch: DocBatch) -> np.ndarray:
    """The document of each flat line (cached on the batch)."""
    off = batch.line_offsets
    return feature(batch, "quality_doc_of_line", lambda: np.repeat(np.arange(len(off) - 1, dtype=np.int64), np.diff(off)))


def _next_nonblank(nonblank: np.ndarray, doc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each non-blank line (indices `idx`), the index of the next non-blank line of the
    same document (-1 when none)."""
    idx = np.flatnonzero(nonblank)
    nxt = np.full(len(idx), -1, dtype=np.int64)
    if len(idx) > 1:
        same = doc[idx[1:]] == doc[idx[:-1]]
        nxt[:-1] = np.where(same, idx[1:], -1)
    return idx, nxt


def block_shape(batch: DocBatch, indent: np.ndarray, blank: np.ndarray) -> dict[str, np.ndarray]:
    """Opener -> indent and closer -> dedent shares (see the module docstring)."""
    doc = _doc_of_line(batch)
    idx, nxt = _next_nonblank(~blank, doc)
    has_next = nxt >= 0
    opener = lines.code_ends_with(batch, "{([:", idx) & has_next  # rtrimmed line matches `[{(\[:]$`
    nxt_safe = np.where(has_next, nxt, 0)
    deeper = indent[nxt_safe] > indent[idx]
    n = batch.num_rows
    opener_doc = doc[idx][opener]
    n_open = np.bincount(opener_doc, minlength=n).astype(np.float64)
    bad_open = np.bincount(opener_doc, weights=(~deeper[opener]).astype(np.float64), minlength=n)
    # a closer line (starting with } ) ]) indented deeper than the line before it
    prev_ok = np.zeros(len(idx), dtype=bool)
    prev_ok[1:] = nxt[:-1] == idx[1:]
    closer = lines.code_starts_with(batch, "})]")[idx] & prev_ok
    prev_indent = np.concatenate([[0], indent[idx[:-1]]]) if len(idx) else np.zeros(0)
    bad_close = closer & (indent[idx] > prev_indent)
    closer_doc = doc[idx][closer]
    n_close = np.bincount(closer_doc, minlength=n).astype(np.float64)
    return {
        "opener_no_indent_fraction": safe_div(bad_open, n_open),
        "closer_indent_fraction": safe_div(np.bincount(doc[idx][bad_close], minlength=n).astype(np.float64), n_close),
        "log_openers": np.log1p(n_open),
    }


def indent_consistency(batch: DocBatch, indent: np.ndarray, blank: np.ndarray) -> dict[str, np.ndarray]:
    """Share of indented lines with an odd width; minority share of tab vs space indents."""
    indented = (indent > 0) & ~blank
    odd = indented & (indent % 2 == 1)
    tab = lines.starts_with_byte(batch, "\t") & indented
    n_ind = per_doc_sum(batch, indented)
    tabs = per_doc_sum(batch, tab)
    return {
        "odd_indent_fraction": safe_div(per_doc_sum(batch, odd), n_ind),
        "mixed_indent_fraction": safe_div(np.minimum(tabs, n_ind - tabs), n_ind),
        "indented_line_fraction": n_ind / np.maximum(batch.num_lines, 1),
    }


def import_position(batch: DocBatch) -> dict[str, np.ndarray]:
    """Mean relative position of import lines (0..1; 0 when none) and the share of them after
    the first definition line."""
    imp = lines.keyword_lines(batch, _IMPORT_LINE, _IMPORT_STARTS)
    defs = lines.keyword_lines(batch, _DEF_START, _DEF_STARTS)
    off = batch.line_offsets
    doc = _doc_of_line(batch)
    pos = np.arange(len(doc), dtype=np.float64) - off[:-1][doc] if len(doc) else np.zeros(0)
    n_lines = np.maximum(batch.num_lines, 1).astype(np.float64)
    rel = pos / n_lines[doc] if len(doc) else pos
    n_imp = per_doc_sum(batch, imp)
    big = np.iinfo(np.int64).max
    first_def = np.full(batch.num_rows, big, dtype=np.int64)
    np.minimum.at(first_def, doc[defs], pos[defs].astype(np.int64))
    late = imp & (pos > first_def[doc]) if len(doc) else imp
    return {
        "import_mean_position": safe_div(per_doc_sum(batch, np.where(imp, rel, 0.0)), n_imp),
        "import_after_def_fraction": safe_div(per_doc_sum(batch, late), n_imp),
    }


def comment_density(batch: DocBatch, comment_line: np.ndarray, blank: np.ndarray) -> np.ndarray:
    """Characters of comments (full comment lines + trailing `#`/`//` comments) per
    non-blank character."""
    lens = batch.line_len.astype(np.float64)
    # a trailing comment's length: from its marker (`//` or ` # `) to the end of the line
    f = lines.line_fields(batch)
    slash, hash_ = f[:, lines.SLASH].astype(np.float64), f[:, lines.HASH].astype(np.float64)
    where = np.where((hash_ >= 0) & ((slash < 0) | (hash_ < slash)), hash_, slash)
    tail = np.where(~comment_line & (where >= 0), lens - where, 0.0)
    chars = np.where(comment_line, lens, 0.0) + tail
    return safe_div(per_doc_sum(batch, chars), per_doc_sum(batch, np.where(blank, 0.0, lens)))


def lang_relative(values: np.ndarray, batch: DocBatch, norms: dict[str, float]) -> np.ndarray:
    """log((value + 0.01) / (norm + 0.01)) with the norm of each row's language (`norms['']`
    for languages without one): how far a file sits from its language's typical value."""
    if not norms:
        return np.log(values + 0.01)
    keys = sorted(k for k in norms if k)
    base = np.full(batch.num_rows, norms.get("", 0.0))
    if keys and batch.num_rows:
        at = to_np(pc.fill_null(pc.index_in(pc.fill_null(batch.lang, ""), pa.array(keys)), -1))
        known = at >= 0
        base[known] = np.asarray([norms[k] for k in keys])[at[known]]
    return np.log((values + 0.01) / (base + 0.01))
