"""Shared, cached per-batch features for the heuristic rules (words, n-grams, regex spans).

Rules in several families need the same intermediate arrays (whitespace words, their
dictionary codes, per-line matches). `feature(batch, key, fn)` computes each once per
`DocBatch` and keeps it on the batch object, so a rule never re-tokenizes. Everything
here is vectorized over the whole batch with pyarrow.compute and numpy.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from codesieve.core.batch import DocBatch, prefix_slices, segment_reduce, string_buffers, utf8_prefix
from codesieve.filters.rules.literals import required_literals

try:
    from codesieve.core import _kernels  # compiled by `pip install -e .` (setup.py); optional
except ImportError:  # pragma: no cover - a build without a C compiler
    _kernels = None

#: a character that real text practically never contains; used to bracket regex matches
MARK = "\ufdd0"

_U64 = np.uint64


def feature(batch: DocBatch, key: str, fn: Callable[[], Any]) -> Any:
    """Compute `fn()` once per batch under `key` (cached on the batch object)."""
    cache = batch.__dict__.setdefault("_rule_features", {})
    if key not in cache:
        cache[key] = fn()
    return cache[key]


def to_np(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return arr.to_numpy(zero_copy_only=False)


def offsets_of(lists: pa.ListArray | pa.LargeListArray) -> np.ndarray:
    off = lists.offsets.to_numpy()
    return (off - off[0]).astype(np.int64)


def doc_ids(offsets: np.ndarray) -> np.ndarray:
    """For flat elements grouped by `offsets`, the index of the owning document."""
    return np.repeat(np.arange(len(offsets) - 1, dtype=np.int64), np.diff(offsets))


def per_doc_sum(batch_or_offsets: DocBatch | np.ndarray, flat: np.ndarray) -> np.ndarray:
    off = batch_or_offsets.line_offsets if isinstance(batch_or_offsets, DocBatch) else batch_or_offsets
    return segment_reduce(flat.astype(np.float64), off, np.add, 0.0)


def safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0 where den == 0."""
    den = np.asarray(den, dtype=np.float64)
    out = np.zeros(len(den), dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


# --- character classes ---------------------------------------------------------------


#: ASCII members of the character classes `count_chars` knows a byte-level fast path for
_ASCII_CLASSES: dict[str, str] = {
    r"\pL": "".join(chr(c) for c in range(128) if chr(c).isalpha()),
    r"\pL\pN": "".join(chr(c) for c in range(128) if chr(c).isalnum()),
    r"\p{Nd}": "0123456789",
    "\t\n\v\f\r ": "\t\n\v\f\r ",
}
#: classes with no non-ASCII members: the byte count is exact for every document
_ASCII_ONLY = {"\t\n\v\f\r "}


def text_bytes(batch: DocBatch) -> tuple[np.ndarray, np.ndarray]:
    """(UTF-8 bytes of all documents as one uint8 array, byte offsets per document)."""

    def compute() -> tuple[np.ndarray, np.ndarray]:
        data, off = string_buffers(batch.text)
        return data[off[0] : off[-1]], off - off[0]

    return feature(batch, "bytes", compute)


def _byte_bits(batch: DocBatch) -> np.ndarray:
    """One uint8 per text byte with bit k set when the byte is an ASCII member of the
    k-th class of `_ASCII_CLASSES` (one gather serves every class)."""

    def compute() -> np.ndarray:
        lut = np.zeros(256, dtype=np.uint8)
        for k, members in enumerate(_ASCII_CLASSES.values()):
            lut[[ord(c) for c in members]] |= np.uint8(1 << k)
        data, _ = text_bytes(batch)
        return lut[data]

    return feature(batch, "byte_bits", compute)


def byte_scan(batch: DocBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(byte histogram (n, 256), words, U+FFFD characters) per document from the compiled
    kernel (`codesieve/core/_kernels.c`), or None when it is not built (the numpy path runs)."""
    if _kernels is None:
        return None

    def compute() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        data, off = text_bytes(batch)
        n = len(off) - 1
        hist = np.empty((n, 256), np.int64)
        extra = np.empty((n, 2), np.int64)
        _kernels.byte_scan(np.ascontiguousarray(data), np.ascontiguousarray(off, np.int64), _SPACE, hist, extra)
        return hist, extra[:, 0].astype(np.float64), extra[:, 1].astype(np.float64)

    return feature(batch, "byte_scan", compute)


def string_hashes(strings: pa.Array) -> np.ndarray | None:
    """A 64-bit hash (uint64) of each string's bytes (compiled kernel; equal strings, equal
    hashes; distinct ones collide with probability ~2^-64), or None without the kernel."""
    if _kernels is None:
        return None
    data, off = string_buffers(strings)
    out = np.empty(len(strings), np.uint64)
    _kernels.segment_hash(data, off, out)
    return out


def repeated_trimmed_lines(batch: DocBatch, counted: np.ndarray) -> np.ndarray | None:
    """Bool per flat line: a `counted` line whose whitespace-trimmed text (Arrow's
    `utf8_trim_whitespace`) another counted line of its document repeats. Compiled: the
    trimmed lines are hashed in place by `line_pass` (no trimmed copy; lines with non-ASCII
    at a trimmed edge are re-hashed from Arrow's trim) and counted per document in a hash table (no sort).
    Same result as the hash + sort path (tests/test_kernels_text.py). None without the kernel."""
    if _kernels is None:
        return None
    lines = batch.flat_lines
    _, _, hashes, unsure = line_pass(batch)
    hashes = hashes.copy()
    redo = np.flatnonzero(unsure)
    if len(redo):
        hashes[redo] = string_hashes(pc.utf8_trim_whitespace(lines.take(pa.array(redo))))
    out = np.empty(len(lines), np.uint8)
    _kernels.repeated_keys(hashes, np.ascontiguousarray(batch.line_offsets, np.int64),
                           np.ascontiguousarray(counted, np.uint8), out)
    return out.view(bool)


def hex_word_chars(batch: DocBatch) -> np.ndarray | None:
    """Characters per document inside `\\b0[xX][0-9a-fA-F]+\\b` matches (compiled kernel,
    one memchr-driven pass; RE2 needs a full regex scan), or None without the kernel."""
    if _kernels is None:
        return None
    data, off = text_bytes(batch)
    out = np.empty(len(off) - 1, np.int64)
    _kernels.hex_words(np.ascontiguousarray(data), np.ascontiguousarray(off, np.int64), out)
    return out.astype(np.float64)


def _byte_class_counts(batch: DocBatch, char_class: str) -> np.ndarray:
    scan = byte_scan(batch)
    if scan is not None:
        members = np.frombuffer(_ASCII_CLASSES[char_class].encode(), np.uint8)
        return scan[0][:, members].sum(axis=1).astype(np.float64)
    return byte_class_counts_numpy(batch, char_class)


def byte_class_counts_numpy(batch: DocBatch, char_class: str) -> np.ndarray:
    """Reference for the kernel path of `_byte_class_counts`: one gather + reduceat."""
    k = np.uint8(list(_ASCII_CLASSES).index(char_class))
    _, off = text_bytes(batch)
    member = (_byte_bits(batch) >> k) & np.uint8(1)
    out = np.zeros(len(off) - 1, np.float64)
    nonempty = off[1:] > off[:-1]
    if nonempty.any():
        out[nonempty] = np.add.reduceat(member, off[:-1][nonempty], dtype=np.int64)
    return out


#: Python predicates equal to the RE2 classes above, for non-ASCII code points
_PREDICATES: dict[str, Callable[[str], bool]] = {
    r"\pL": str.isalpha,
    r"\pL\pN": lambda c: c.isalpha() or c.isnumeric(),
    r"\p{Nd}": str.isdecimal,
}


def non_ascii_codepoints(batch: DocBatch) -> tuple[np.ndarray, np.ndarray]:
    """(code point, owning document) of every non-ASCII character (int64 arrays): the
    compiled `nonascii_codepoints` (skips ASCII 8 bytes at a time; as many outputs as the
    byte histogram has lead bytes), or `non_ascii_codepoints_numpy` (the reference)."""

    def compute() -> tuple[np.ndarray, np.ndarray]:
        scan = byte_scan(batch)
        if scan is None:
            return non_ascii_codepoints_numpy(batch)
        data, off = text_bytes(batch)
        cap = int(scan[0][:, 0xC0:].sum())
        cp, doc = np.empty(cap, np.int64), np.empty(cap, np.int64)
        k = _kernels.nonascii_codepoints(np.ascontiguousarray(data), np.ascontiguousarray(off, np.int64), cp, doc)
        return cp[:k], doc[:k]

    return feature(batch, "non_ascii_cp", compute)


def non_ascii_codepoints_numpy(batch: DocBatch) -> tuple[np.ndarray, np.ndarray]:
    """Reference for `non_ascii_codepoints`: decoded from UTF-8 with numpy (lead bytes
    >= 0xC0; continuation bytes folded in)."""

    def compute() -> tuple[np.ndarray, np.ndarray]:
        data, off = text_bytes(batch)
        pos = np.flatnonzero(data >= 0xC0)
        if len(pos) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        padded = np.concatenate([data, np.zeros(4, np.uint8)])
        b0, b1, b2, b3 = (padded[pos + k].astype(np.int64) for k in range(4))
        cp = np.where(
            b0 < 0xE0,
            ((b0 & 0x1F) << 6) | (b1 & 0x3F),
            np.where(
                b0 < 0xF0,
                ((b0 & 0x0F) << 12) | ((b1 & 0x3F) << 6) | (b2 & 0x3F),
                ((b0 & 0x07) << 18) | ((b1 & 0x3F) << 12) | ((b2 & 0x3F) << 6) | (b3 & 0x3F),
            ),
        )
        doc = np.searchsorted(off, pos, side="right") - 1
        return cp, doc

    return compute()


def count_chars(batch: DocBatch, char_class: str) -> np.ndarray:
    """Code points per document matching the RE2 character class `char_class` (e.g. `\\pL`).

    Known classes are counted without regex: ASCII bytes through a lookup table, non-ASCII
    code points decoded with numpy and classified once per distinct code point.
    """

    def compute() -> np.ndarray:
        if len(char_class) == 1:  # one literal character: a substring count, no regex
            scan = byte_scan(batch)
            if scan is not None and (char_class < "\x80" or char_class == "\ufffd"):
                return scan[0][:, ord(char_class)].astype(np.float64) if char_class < "\x80" else scan[2].copy()
            return to_np(pc.count_substring(batch.text, char_class)).astype(np.float64)
        if char_class not in _ASCII_CLASSES:
            if byte_scan(batch) is not None:
                return _class_counts_by_codepoint(batch, char_class)
            kept = pc.replace_substring_regex(batch.text, f"[^{char_class}]+", "")
            return to_np(pc.utf8_length(kept)).astype(np.float64)
        counts = _byte_class_counts(batch, char_class)
        if char_class not in _ASCII_ONLY:
            cp, doc = non_ascii_codepoints(batch)
            if len(cp):
                uniq, inv = np.unique(cp, return_inverse=True)
                pred = _PREDICATES[char_class]
                member = np.array([pred(chr(int(u))) if u < 0x110000 else False for u in uniq], dtype=bool)
                counts += np.bincount(doc[member[inv]], minlength=batch.num_rows)
        return counts

    return feature(batch, f"chars:{char_class}", compute)


def _re2_members(chars: list[str], char_class: str) -> np.ndarray:
    """Bool per character: RE2 (the engine of the regex path) puts it in `[char_class]`."""
    return to_np(pc.match_substring_regex(pa.array(chars, pa.string()), f"[{char_class}]")).astype(bool)


def _class_counts_by_codepoint(batch: DocBatch, char_class: str) -> np.ndarray:
    """Members of the RE2 class `[char_class]` per document without a regex pass over the
    text: ASCII bytes from the kernel's histograms, non-ASCII code points classified once
    per distinct code point by RE2 itself (so the count equals the regex path's)."""
    ascii_members = np.flatnonzero(_re2_members([chr(c) for c in range(128)], char_class))
    counts = byte_scan(batch)[0][:, ascii_members].sum(axis=1).astype(np.float64)  # type: ignore[index]
    cp, doc = non_ascii_codepoints(batch)
    if len(cp):
        uniq, inv = np.unique(cp, return_inverse=True)
        valid = (uniq < 0x110000) & ((uniq < 0xD800) | (uniq > 0xDFFF))
        member = np.zeros(len(uniq), bool)
        member[valid] = _re2_members([chr(int(u)) for u in uniq[valid]], char_class)
        counts += np.bincount(doc[member[inv]], minlength=batch.num_rows)
    return counts


def ascii_docs(batch: DocBatch) -> np.ndarray:
    """Bool per document: the text is pure ASCII."""
    return feature(batch, "ascii", lambda: to_np(pc.string_is_ascii(batch.text)))


# --- lines ---------------------------------------------------------------------------


_LITERALS = re.compile(r"^\(\?i\)[a-z0-9 _]+(?:\|[a-z0-9 _]+)*$")


def line_matches(batch: DocBatch, pattern: str) -> np.ndarray:
    """Bool per flat line: the line matches the RE2 `pattern` (search, not full match).

    A case-insensitive alternation of plain words (`(?i)todo|fixme`) takes a fast path:
    the lines are lower-cased once and searched with substring kernels, no regex.
    """

    def compute() -> np.ndarray:
        fast = _line_class_match(batch, pattern)
        if fast is not None:
            return fast
        found = literal_prefilter(batch.flat_lines, pattern)
        if found is not None:
            return found
        if _LITERALS.match(pattern):
            lowered = feature(batch, "lines_lower", lambda: pc.ascii_lower(batch.flat_lines))
            hit = np.zeros(len(batch.flat_lines), dtype=bool)
            for word in pattern[4:].split("|"):
                hit |= to_np(pc.match_substring(lowered, word))
            return hit
        return to_np(pc.match_substring_regex(batch.flat_lines, pattern))

    return feature(batch, f"lm:{pattern}", compute)


def regex_search(strings: pa.Array, pattern: str) -> np.ndarray:
    """Bool per string: RE2 finds `pattern` in it (through `literal_prefilter` when it can)."""
    found = literal_prefilter(strings, pattern)
    return found if found is not None else to_np(pc.match_substring_regex(strings, pattern)).astype(bool)


#: the ASCII letters RE2's `(?i)` also matches a non-ASCII character to (U+212A KELVIN SIGN,
#: U+017F LONG S); a folded literal without them can only match ASCII bytes
#: (tests/test_kernels_text.py checks this against RE2 over every code point)
FOLDS_TO_NON_ASCII = frozenset("kKsS")


def literal_candidates(strings: pa.Array, pattern: str) -> np.ndarray | None:
    """Bool per string: it holds one of `pattern`'s required literals (`literals.py`;
    compiled `segment_find`), so only these can match. None when the kernel is not built or
    the pattern has no such literals. Case-folded literals: strings with non-ASCII
    characters are candidates too when a literal has a letter of `FOLDS_TO_NON_ASCII`."""
    req = required_literals(pattern) if _kernels is not None else None
    if req is None:
        return None
    lits, fold = req
    data, off = string_buffers(strings)
    cand = np.empty(len(strings), np.uint8)
    needles = b"".join(s.encode() + b"\0" for s in lits)
    mode = 0 if not fold else 1 if any(c in FOLDS_TO_NON_ASCII for s in lits for c in s) else 2
    _kernels.segment_find(data, np.ascontiguousarray(off), needles, mode, cand)
    return cand.view(bool)


def literal_prefilter(strings: pa.Array, pattern: str) -> np.ndarray | None:
    """Bool per string: it matches `pattern` (RE2 search), with RE2 run only on the
    `literal_candidates`. None when there are no required literals (or no kernel)."""
    cand = literal_candidates(strings, pattern)
    if cand is None:
        return None
    hit = np.zeros(len(strings), dtype=bool)
    ask = np.flatnonzero(cand)
    if len(ask):
        hit[ask] = to_np(pc.match_substring_regex(strings.take(pa.array(ask)), pattern)).astype(bool)
    return hit


#: per-byte bits for `segment_or` over lines: 1 = not RE2 `\s` ([\t\n\f\r ]), 2 = ASCII letter
#: or digit, 4 = non-ASCII byte
_LINE_LUT = np.zeros(256, np.uint8)
_LINE_LUT[:] = 1
_LINE_LUT[[ord(c) for c in "\t\n\f\r "]] = 0
_LINE_LUT[[ord(c) for c in _ASCII_CLASSES[r"\pL\pN"]]] |= 2
_LINE_LUT[128:] |= 4


def line_bits(batch: DocBatch) -> np.ndarray | None:
    """`_LINE_LUT` bits ORed over each flat line (compiled kernel), or None without it."""
    if _kernels is None:
        return None

    return line_pass(batch)[0]


def line_pass(batch: DocBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(`line_bits`, `indentation`, trimmed-line hashes, unsure) per flat line from one
    compiled pass (`line_pass`); each equals its one-feature kernel (`segment_or`,
    `leading_bytes`, `trimmed_hash`: tests/test_kernels_rules.py). Needs the kernel."""

    def compute() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        data, off = string_buffers(batch.flat_lines)
        off = np.ascontiguousarray(off)
        n = len(off) - 1
        out = np.empty(n, np.uint8), np.empty(n, np.int64), np.empty(n, np.uint64), np.empty(n, np.uint8)
        _kernels.line_pass(data, off, _LINE_LUT, _INDENT_LUT, *out)
        return out

    return feature(batch, "line_pass", compute)


_INDENT_LUT = np.zeros(256, np.uint8)
_INDENT_LUT[[ord(" "), ord("\t")]] = 1


def indentation(batch: DocBatch) -> np.ndarray:
    """Leading spaces and tabs of every flat line (int64; characters = bytes): from the
    compiled `line_pass`, or Arrow's `utf8_ltrim` (the reference) without the kernel."""

    def compute() -> np.ndarray:
        lines = batch.flat_lines
        if _kernels is None:
            return batch.line_len - to_np(pc.utf8_length(pc.utf8_ltrim(lines, characters=" \t")))
        return line_pass(batch)[1]

    return feature(batch, "indentation", compute)


def _line_class_match(batch: DocBatch, pattern: str) -> np.ndarray | None:
    r"""`\S` and `[\pL\pN]` per line from `line_bits`; non-ASCII lines without an ASCII
    letter or digit still go to RE2 (they may hold a non-ASCII letter). None: no fast path."""
    if pattern not in (r"\S", r"[\pL\pN]"):
        return None
    bits = line_bits(batch)
    if bits is None:
        return None
    if pattern == r"\S":
        return (bits & 1) > 0
    hit = (bits & 2) > 0
    ask = np.flatnonzero(((bits & 4) > 0) & ~hit)
    if len(ask):
        hit[ask] = to_np(pc.match_substring_regex(batch.flat_lines.take(pa.array(ask)), pattern)).astype(bool)
    return hit


def nonblank_lines(batch: DocBatch) -> np.ndarray:
    """Bool per flat line: the line has a non-whitespace character."""
    return line_matches(batch, r"\S")


def lang_subset(batch: DocBatch, langs: tuple[str, ...] | list[str]) -> tuple[np.ndarray, DocBatch]:
    """(row indices, sub-batch) of the documents whose `lang` is in `langs`; cached, so
    rules of one language share the sub-batch and its features."""

    def compute() -> tuple[np.ndarray, DocBatch]:
        mask = to_np(pc.fill_null(pc.is_in(batch.lang, pa.array(list(langs), pa.string())), False))
        rows = np.flatnonzero(mask)
        return rows, batch.take(mask)

    return feature(batch, f"subset:{sorted(langs)}", compute)


def line_fraction(batch: DocBatch, pattern: str) -> np.ndarray:
    """Share of a document's non-blank lines matching `pattern` (0..1; 0 for empty docs)."""
    nb = nonblank_lines(batch)
    hit = line_matches(batch, pattern) & nb
    return safe_div(per_doc_sum(batch, hit), per_doc_sum(batch, nb))


def head_text(batch: DocBatch, n_lines: int) -> pa.Array:
    """The first `n_lines` lines of each document, joined with '\\n' (= the text up to its
    `n_lines`-th newline): byte lengths from the line split, sliced out of the text buffer
    (`prefix_slices`); `head_text_arrow` is the reference."""

    def compute() -> pa.Array:
        if batch.text.null_count:
            return head_text_arrow(batch, n_lines)
        doc_off, (_, line_off) = batch.line_offsets, string_buffers(batch.flat_lines)
        first = doc_off[:-1]
        last = np.minimum(first + n_lines, doc_off[1:])
        return prefix_slices(batch.text, line_off[last] - line_off[first] + (last - first - 1))  # lines + newlines

    return feature(batch, f"head:{n_lines}", compute)


def head_chars(batch: DocBatch, n_chars: int) -> pa.Array:
    """The first `n_chars` code points of each document (`utf8_prefix`), once per batch."""
    return feature(batch, f"head_chars:{n_chars}", lambda: utf8_prefix(batch.text, n_chars))


def head_text_arrow(batch: DocBatch, n_lines: int) -> pa.Array:
    """Reference for `head_text`: list slice + join."""
    return pc.binary_join(pc.list_slice(batch.lines, 0, n_lines), pa.scalar("\n", batch.text.type))


# --- regex match spans ---------------------------------------------------------------


def match_lengths(batch: DocBatch, pattern: str) -> tuple[np.ndarray, np.ndarray]:
    """Lengths (code points) of all non-overlapping matches of `pattern` in each document.

    Returns (flat lengths, offsets): document i owns lengths[off[i]:off[i+1]]. Matches
    are bracketed with a marker character by one RE2 global replace, then split out.
    """
    return feature(batch, f"spans:{pattern}", lambda: match_lengths_of(batch.text, pattern))


def match_lengths_of(text: pa.Array, pattern: str) -> tuple[np.ndarray, np.ndarray]:
    """`match_lengths` of the strings of `text` (one RE2 global replace, then a split)."""
    marked = pc.replace_substring_regex(text, f"(?:{pattern})", f"{MARK}\\0{MARK}")
    pieces = pc.split_pattern(marked, MARK)
    off = offsets_of(pieces)
    lens = to_np(pc.utf8_length(pieces.flatten())).astype(np.int64)
    # pieces alternate: text, match, text, match, ..., text  -> matches at odd positions
    local = np.arange(len(lens), dtype=np.int64) - np.repeat(off[:-1], np.diff(off))
    is_match = (local % 2) == 1
    counts = segment_reduce(is_match.astype(np.int64), off, np.add, 0)
    m_off = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return lens[is_match], m_off


# --- words and n-grams ---------------------------------------------------------------


#: the whitespace that separates words (ASCII, as Arrow's `ascii_split_whitespace`)
WORD_SPACE = "\t\n\v\f\r "
_SPACE = np.zeros(256, np.uint8)
_SPACE[[ord(c) for c in WORD_SPACE]] = 1


def word_stats(batch: DocBatch) -> tuple[np.ndarray, np.ndarray]:
    """(words, word characters) per document, counted on the UTF-8 bytes: a word is a
    maximal run of non-`WORD_SPACE` characters (same words as `Words`, without building them)."""

    def compute() -> tuple[np.ndarray, np.ndarray]:
        scan = byte_scan(batch)
        n_words = scan[1] if scan is not None else word_counts_numpy(batch)
        chars = batch.char_len - count_chars(batch, WORD_SPACE)
        return n_words, chars.astype(np.float64)

    return feature(batch, "word_stats", compute)


def word_counts_numpy(batch: DocBatch) -> np.ndarray:
    """Reference for the kernel's word count: maximal runs of non-`WORD_SPACE` bytes."""
    data, off = text_bytes(batch)
    space = _SPACE.astype(bool)[data]
    start = ~space
    start[1:] &= space[:-1]
    first = off[:-1][off[:-1] < len(data)]
    start[first] = ~space[first]
    return segment_reduce(start.astype(np.int64), off, np.add, 0).astype(np.float64)


class Words:
    """Whitespace-separated words of every document in a batch (flattened).

    codes: dictionary id of each word (equal words share an id across the batch);
    lengths: code points per word; offsets: document i owns words [off[i], off[i+1]).
    """

    def __init__(self, batch: DocBatch):
        words = pc.ascii_split_whitespace(batch.text)
        flat = words.flatten()
        lengths = to_np(pc.utf8_length(flat)).astype(np.int64)
        # leading/trailing whitespace yields empty pieces: drop them
        keep = lengths > 0
        self.offsets = np.concatenate(
            [[0], np.cumsum(segment_reduce(keep.astype(np.int64), offsets_of(words), np.add, 0))]
        ).astype(np.int64)
        flat = flat.filter(pa.array(keep)) if not keep.all() else flat
        self.flat = flat
        self.lengths = lengths[keep]
        enc = pc.dictionary_encode(flat)
        self.codes = to_np(enc.indices).astype(np.uint64)
        self.doc = doc_ids(self.offsets)
        self.total_chars = segment_reduce(self.lengths, self.offsets, np.add, 0).astype(np.float64)
        self.count = np.diff(self.offsets).astype(np.float64)
        self._mixed = _splitmix(self.codes ^ _U64(0x5851F42D4C957F2D))
        self._chains: dict[int, np.ndarray] = {}

    def ngram_keys(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(positions, keys): every n-gram start inside its document and a 64-bit key
        hashing (document, words) — equal keys mean the same n-gram in the same document.

        Keys are built incrementally (the n-gram key extends the (n-1)-gram key by one
        multiply-add of the next word's random 64-bit code), so all n cost one pass each.
        """
        w = len(self.codes)
        if w < n:
            return np.zeros(0, np.int64), np.zeros(0, _U64)
        chain = self._chain(n)  # chain[i] hashes words i..i+n-1 (garbage past doc ends)
        pos = np.arange(w - n + 1, dtype=np.int64)
        pos = pos[pos + n <= self.offsets[1:][self.doc[: w - n + 1]]]
        return pos, chain[pos]

    def _chain(self, n: int) -> np.ndarray:
        if n in self._chains:
            return self._chains[n]
        if n == 1:
            with np.errstate(over="ignore"):
                out = _splitmix(self.codes) ^ _splitmix(self.doc.astype(_U64) + _U64(0x9E3779B97F4A7C15))
        else:
            prev = self._chain(n - 1)
            mixed = self._mixed
            out = prev.copy()
            with np.errstate(over="ignore"):
                out[: len(out) - n + 1] *= _U64(0x100000001B3)
                out[: len(out) - n + 1] += mixed[n - 1 :]
        self._chains[n] = out
        return out

    def ngram_counts(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(positions, count): how often the n-gram starting at each position occurs in its doc."""
        pos, key = self.ngram_keys(n)
        return pos, group_counts(key)


def group_counts(keys: np.ndarray) -> np.ndarray:
    """For each element, how many elements share its key (sort-based: numpy's SIMD
    argsort beats Arrow's hash table ~4x when most keys are distinct)."""
    if len(keys) == 0:
        return np.zeros(0, np.int64)
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    start = np.empty(len(sk), dtype=bool)
    start[0] = True
    np.not_equal(sk[1:], sk[:-1], out=start[1:])
    run = np.cumsum(start) - 1
    sizes = np.diff(np.append(np.flatnonzero(start), len(sk)))
    out = np.empty(len(keys), np.int64)
    out[order] = sizes[run]
    return out


def words(batch: DocBatch) -> Words:
    return feature(batch, "words", lambda: Words(batch))


def _splitmix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finalizer (vectorized, wrapping uint64 arithmetic)."""
    with np.errstate(over="ignore"):
        x = x.astype(_U64, copy=True)
        x ^= x >> _U64(30)
        x *= _U64(0xBF58476D1CE4E5B9)
        x ^= x >> _U64(27)
        x *= _U64(0x94D049BB133111EB)
        x ^= x >> _U64(31)
    return x


def top_ngram_char_fraction(batch: DocBatch, n: int) -> np.ndarray:
    """Chars covered by the most frequent word n-gram (count × its length incl. spaces),
    over the document's chars; 0 when no n-gram repeats. Ties: the longest n-gram."""

    def compute() -> np.ndarray:
        w = words(batch)
        nd = batch.num_rows
        pos, cnt = w.ngram_counts(n)
        out = np.zeros(nd, np.float64)
        if len(pos) == 0:
            return out
        cs = np.concatenate([[0], np.cumsum(w.lengths)])
        gram_len = cs[pos + n] - cs[pos] + (n - 1)
        doc = w.doc[pos]
        off = np.searchsorted(doc, np.arange(nd + 1)).astype(np.int64)  # pos is doc-sorted
        best = segment_reduce(cnt, off, np.maximum, 0)
        top = (cnt == best[doc]) & (cnt > 1)
        covered = segment_reduce(np.where(top, cnt * gram_len, 0), off, np.maximum, 0)
        return safe_div(covered.astype(np.float64), batch.char_len)

    return feature(batch, f"topgram:{n}", compute)


def dupe_ngram_char_fraction(batch: DocBatch, n: int) -> np.ndarray:
    """Share of word characters inside word n-grams that occur more than once in the
    document (each word counted once however many duplicated n-grams cover it)."""

    def compute() -> np.ndarray:
        w = words(batch)
        pos, cnt = w.ngram_counts(n)
        if len(pos) == 0:
            return np.zeros(batch.num_rows, np.float64)
        dpos = pos[cnt > 1]
        diff = np.zeros(len(w.lengths) + 1, np.int64)
        diff[dpos] += 1  # positions are unique, so plain fancy-index adds are exact
        diff[dpos + n] -= 1
        covered = np.cumsum(diff[:-1]) > 0
        chars = segment_reduce(np.where(covered, w.lengths, 0), w.offsets, np.add, 0)
        return safe_div(chars.astype(np.float64), w.total_chars)

    return feature(batch, f"dupegram:{n}", compute)
