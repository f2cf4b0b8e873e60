"""Interpretable per-document features for the `features` scorer (a logistic regression).

Three groups, all vectorized over the batch except the two marked:
- the `rules` gate's values: each `h_<rule>` column is read from the batch when the rules
  gate ran before; otherwise the rule is measured here with its default parameters
  (`--gates quality`, dry runs, training);
- shape: size, blank / comment / definition-line shares, indentation (a nesting-depth
  proxy), long-line share (line-level regexes on Arrow);
- compression ratio of the first `compress_chars` (zlib level 1; per-row C call) and, for
  languages with a tree-sitter grammar, the syntax-error byte share of the first `ast_chars`
  (tree-sitter; per-row C parse, 0 disables). Comment share comes from the line regex.
"""

from __future__ import annotations

import functools
import zlib
from functools import cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from codesieve.core.batch import DocBatch, string_buffers
from codesieve.core.parsewatch import parse_loop, parsing
from codesieve.core.registry import RULES
from codesieve.filters import treesitter
from codesieve.filters.rules.features import per_doc_sum, safe_div, to_np
from codesieve.filters.treesitter import _covered
from codesieve.scorers import lines, shape, structure
from codesieve.scorers.text import text_prefix

#: rules whose values enter the model (log1p for the unbounded ones)
RULE_FEATURES: dict[str, bool] = {
    "avg_line_length": True,
    "max_line_length": True,
    "alpha_fraction": False,
    "mean_word_length": False,
    "duplicate_line_fraction": False,
    "digit_fraction": False,
    "whitespace_fraction": False,
    "encoded_data_fraction": False,
    "prompt_comment_fraction": False,
}


@functools.lru_cache(maxsize=1)
def _default_measure_params() -> dict[str, dict]:
    """Each rule's measurement params (thresholds dropped) as the shipped default config sets
    them, so values measured on demand equal the default rules gate's columns."""
    from importlib import resources

    import yaml

    raw = yaml.safe_load(resources.files("codesieve.configs").joinpath("default.yaml").read_text())
    decision = {"rule", "min", "max", "langs", "skip_langs", "per_lang"}
    rules = next((g.get("rules", []) for g in raw["gates"] if g.get("gate") == "rules"), [])
    return {r["rule"]: {k: v for k, v in r.items() if k not in decision} for r in rules}

#: the comment-line test (`lines.COMMENT_PREFIXES` computes it without a regex; tests compare)
_COMMENT_LINE = r"^\s*(#|//|/\*|\*|--|;|%|<!--|\"\"\"|''')"
_DEF_WORDS = (
    "def", "class", "function", "func", "fn", "pub fn", "public", "private", "protected", "static", "struct",
    "impl", "interface", "type", "module", "sub", "proc", "export", "async def", "package", "namespace", "enum",
    "trait", "object", "val", "var", "let", "const",
)
_DEF_LINE = r"^\s*(" + "|".join(_DEF_WORDS) + r")\b"


def rule_values(batch: DocBatch, name: str) -> np.ndarray:
    """`h_<name>` from the batch if the rules gate measured it, else measured now."""
    col = batch.column(f"h_{name}")
    if col is not None:
        return to_np(pc.fill_null(col.cast(pa.float64()), np.nan)).astype(np.float64)
    cls = RULES[name]
    return np.asarray(cls(cls.Params(**_default_measure_params().get(name, {}))).measure(batch), dtype=np.float64)


def shape_features(batch: DocBatch, norms: dict[str, float] | None = None) -> dict[str, np.ndarray]:
    """Size, line shares, indentation and the order / consistency features of
    `scorers.structure`; `norms`: each language's typical comment-line share. One compiled
    pass (`scorers.shape`) where the kernel is built, else `shape_features_reference`."""
    if not shape.available():
        return shape_features_reference(batch, norms)
    out = shape.shape_features(batch, def_lines(batch), norms)
    if norms is None:  # models trained before the structure features have no norms
        out["bracket_imbalance"] = bracket_imbalance(batch)
    return out


def shape_features_reference(batch: DocBatch, norms: dict[str, float] | None = None) -> dict[str, np.ndarray]:
    """`shape_features` with numpy segment sums over per-line arrays (the kernel's reference)."""
    n_lines = np.maximum(batch.num_lines, 1).astype(np.float64)
    blank = lines.blank_lines(batch)  # `^\s*$` (= ~nonblank_lines), from the line scan
    nonblank = np.maximum(n_lines - per_doc_sum(batch, blank), 1)
    indent = np.where(blank, 0, lines.indent(batch))  # code points of leading Arrow whitespace
    jump, up = indent_jumps(batch, indent, ~blank)
    comment = lines.prefix_lines(batch, lines.COMMENT_PREFIXES)  # `_COMMENT_LINE`
    comment_frac = per_doc_sum(batch, comment) / nonblank
    out = {
        "indent_jump": np.log1p(jump),
        "indent_up_jump_fraction": up,
        "log_bytes": np.log1p(batch.byte_len),
        "log_lines": np.log1p(n_lines),
        "blank_line_fraction": per_doc_sum(batch, blank) / n_lines,
        "comment_line_fraction": comment_frac,
        "def_line_fraction": per_doc_sum(batch, def_lines(batch)) / nonblank,
        "long_line_fraction": per_doc_sum(batch, batch.line_len > 120) / n_lines,
        "mean_indent": np.log1p(per_doc_sum(batch, indent) / nonblank),
        "max_indent": np.log1p(batch.per_doc(indent, np.maximum)),
    }
    if norms is None:  # models trained before the structure features have no norms
        out["bracket_imbalance"] = bracket_imbalance(batch)
    else:
        density = structure.comment_density(batch, comment, blank)
        out["comment_density"] = density
        out["comment_vs_lang"] = structure.lang_relative(comment_frac, batch, norms)
        out.update(structure.brackets(batch))
        out.update(structure.block_shape(batch, indent, blank))
        out.update(structure.indent_consistency(batch, indent, blank))
        out.update(structure.import_position(batch))
    return out


def def_lines(batch: DocBatch) -> np.ndarray:
    """Bool per line: `_DEF_LINE` matches (the regex runs only where a keyword can start)."""
    return lines.keyword_lines(batch, _DEF_LINE, {w[:4] for w in _DEF_WORDS})


def indent_jumps(batch: DocBatch, indent: np.ndarray, nonblank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per document, over consecutive non-blank lines: the mean absolute change of
    indentation (columns) and the share of steps that indent by more than 4 columns at once
    (one nesting level is 1-4; reordered or spliced code jumps further)."""
    n = batch.num_rows
    idx = np.flatnonzero(nonblank)
    doc = structure._doc_of_line(batch)[idx]
    same = doc[1:] == doc[:-1]
    step = np.diff(indent[idx].astype(np.float64))[same]
    owner = doc[1:][same]
    steps = np.bincount(owner, minlength=n).astype(np.float64)
    jump = safe_div(np.bincount(owner, weights=np.abs(step), minlength=n), steps)
    up = safe_div(np.bincount(owner, weights=(step > 4).astype(np.float64), minlength=n), steps)
    return jump, up


def bracket_imbalance(batch: DocBatch) -> np.ndarray:
    """|opening - closing| over all three bracket pairs / all brackets (0 = balanced)."""
    diff = np.zeros(batch.num_rows)
    total = np.zeros(batch.num_rows)
    for o, c in ("()", "[]", "{}"):
        no = to_np(pc.count_substring(batch.text, o)).astype(np.float64)
        nc = to_np(pc.count_substring(batch.text, c)).astype(np.float64)
        diff += np.abs(no - nc)
        total += no + nc
    return safe_div(diff, total)


def compression_ratio(batch: DocBatch, max_chars: int) -> np.ndarray:
    """zlib(level 1) size / raw size of each document's first `max_chars` code points
    (compressed straight from the Arrow buffer: no Python strings)."""
    heads = text_prefix(batch, max_chars)
    buf, off = string_buffers(heads)
    ends, data = off.tolist(), memoryview(buf)
    out = np.ones(len(heads))
    for i, (a, b) in enumerate(zip(ends[:-1], ends[1:])):
        if b > a:
            out[i] = len(zlib.compress(data[a:b], 1)) / (b - a)
    return out


@cache
def _error_parser(lang: str) -> tuple[Any, Any] | None:
    """(parser, ERROR/MISSING query) for a language with a bundled grammar, else None."""
    if lang not in treesitter.GRAMMARS or not treesitter.supported(lang):
        return None
    import tree_sitter as ts
    from tree_sitter_language_pack import get_language, get_parser

    grammar = treesitter.GRAMMARS[lang][0]
    language = get_language(grammar)
    try:
        query = ts.Query(language, "(ERROR) @e (MISSING) @e")
    except Exception:  # grammar without MISSING support
        query = ts.Query(language, "(ERROR) @e")
    return get_parser(grammar), query


@parse_loop
def ast_features(batch: DocBatch, max_chars: int) -> dict[str, np.ndarray]:
    """Tree-sitter syntax-error byte share of each document's first `max_chars` code points
    (0 where no grammar). The error query runs only on trees that have an error, so clean
    code costs one C parse."""
    n = batch.num_rows
    err, parsed = np.zeros(n), np.zeros(n)
    if max_chars > 0 and n:
        import tree_sitter as ts

        langs = np.asarray(pc.fill_null(batch.lang, "").to_pylist(), dtype=object)
        heads = pc.utf8_slice_codeunits(batch.text, 0, max_chars)
        for lang in sorted(set(langs.tolist())):
            pq_ = _error_parser(lang)
            if pq_ is None:
                continue
            parser, query = pq_
            rows = np.flatnonzero(langs == lang)
            for i, text in zip(rows, heads.take(pa.array(rows)).to_pylist()):
                data = text.encode("utf-8", "surrogatepass")
                with parsing(data):
                    root = parser.parse(data).root_node
                parsed[i] = 1.0
                if data and root.has_error:
                    spans = [(nd.start_byte, max(nd.end_byte, nd.start_byte + 1))
                             for nd in ts.QueryCursor(query).captures(root).get("e", [])]
                    err[i] = min(_covered(spans) / len(data), 1.0)
    # errors are rare and small in good code: the log of errors per 1000 bytes separates
    # "none" from "a few" better than the raw share
    return {"syntax_error_fraction": err, "syntax_error_log": np.log1p(1000 * err), "parsed": parsed}


def feature_table(
    batch: DocBatch, langs: list[str], compress_chars: int, ast_chars: int, norms: dict[str, float] | None = None
) -> dict[str, np.ndarray]:
    """Every feature by name (float64, no nan). `langs` get a one-hot column each; `norms`
    (language -> typical comment-line share) switch on the structure features."""
    feats: dict[str, np.ndarray] = {}
    for name, log in RULE_FEATURES.items():
        v = rule_values(batch, name)
        v = np.nan_to_num(v, nan=0.0, posinf=0.0, neginf=0.0)
        feats[f"h_{name}"] = np.log1p(np.maximum(v, 0)) if log else v
    feats.update(shape_features(batch, norms))
    feats["compression_ratio"] = compression_ratio(batch, compress_chars)
    if ast_chars > 0:
        feats.update(ast_features(batch, ast_chars))
    lang = pc.fill_null(batch.lang, "")
    for lg in langs:
        feats[f"lang={lg}"] = to_np(pc.equal(lang, lg)).astype(np.float64)
    return feats


def matrix(feats: dict[str, np.ndarray], names: list[str]) -> np.ndarray:
    """(n, len(names)) float64 matrix in `names` order."""
    return np.column_stack([feats[k] for k in names]) if names else np.zeros((0, 0))


__all__ = ["feature_table", "matrix", "rule_values", "safe_div"]
