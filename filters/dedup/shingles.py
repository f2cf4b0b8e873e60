"""Code-aware shingles, hashed, for whole batches at once (numpy over the UTF-8 bytes).

A *token* is a maximal run of word bytes (ASCII letters, digits, `_`, and every byte of a
non-ASCII character) or one punctuation byte; whitespace separates tokens and is dropped.
So `a[i]+=1` gives the tokens `a [ i ] + = 1`: punctuation is kept (code structure matters),
unlike word tokenizers that erase it. `tokens="words"` drops punctuation (the `\\w+`
tokens of the ANCHORS ground truth). Case folding is optional (`lowercase`).

A *shingle* is n consecutive tokens of one document (a document with fewer than n tokens,
but at least one, is one shingle of all its tokens). Each shingle becomes a 64-bit hash.
Everything is vectorized over chunks of ~256 KiB: per-byte arrays and prefix sums; no
Python loop runs per document or per token.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from codesieve.core.batch import string_buffers

try:
    from codesieve.core import _kernels  # compiled by `pip install -e .` (setup.py); optional
except ImportError:  # pragma: no cover - a build without a C compiler
    _kernels = None

_SHINGLE_BASE = np.uint64(0x9E3779B97F4A7C15)  # golden-ratio constant, odd
#: bytes of text per internal chunk: the per-byte work arrays (~15 B per byte) stay in
#: cache; 256 KiB measured fastest of 64 KiB..8 MiB
CHUNK_BYTES = 256 << 10

SPACE, WORD, PUNCT = 0, 1, 2


@dataclass(frozen=True)
class ShingleConfig:
    """How documents become shingle sets.

    ngram: tokens per shingle; tokens: "code" (words + single punctuation bytes) or
    "words" (words only); lowercase: fold case before tokenizing; seed: salts the hash.
    """

    ngram: int = 5
    tokens: str = "words"
    lowercase: bool = True
    seed: int = 0


def _byte_classes(tokens: str) -> np.ndarray:
    cls = np.full(256, PUNCT if tokens == "code" else SPACE, dtype=np.uint8)
    for c in b" \t\n\r\x0b\x0c":
        cls[c] = SPACE
    for lo, hi in ((48, 57), (65, 90), (97, 122)):
        cls[lo : hi + 1] = WORD
    cls[ord("_")] = WORD
    cls[0x80:] = WORD  # UTF-8 lead/continuation bytes: non-ASCII letters stay inside words
    return cls


def splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finalizer: a bijective mix of uint64 values (wrapping arithmetic)."""
    x = x.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x


def _powers(base: np.uint64, n: int) -> np.ndarray:
    out = np.empty(max(n, 1), dtype=np.uint64)
    out[0] = 1
    if n > 1:
        out[1:] = base
        with np.errstate(over="ignore"):
            out = np.cumprod(out, dtype=np.uint64)
    return out


def string_bytes(text: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(bytes as uint8, int64 offsets of each document into them, from 0) without copying text."""
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    return _string_bytes(text)


def _string_bytes(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(bytes as uint8, int64 offsets of each document into them, the first 0) without copying text."""
    data, offsets = string_buffers(text)
    return data[offsets[0] : offsets[-1]], offsets - offsets[0]


class _PowerTable:
    """P^i and P^-i (mod 2^32) for i < n, grown on demand (P odd, so P^-1 exists)."""

    def __init__(self, base: int):
        self.base = base
        self.pow = np.ones(1, np.uint32)
        self.inv = np.ones(1, np.uint32)

    def get(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if len(self.pow) < n:
            size = max(n, 2 * len(self.pow))
            self.pow = _powers32(self.base, size)
            self.inv = _powers32(pow(self.base, -1, 1 << 32), size)
        return self.pow[:n], self.inv[:n]


def _powers32(base: int, n: int) -> np.ndarray:
    out = np.full(n, base, dtype=np.uint32)
    out[0] = 1
    with np.errstate(over="ignore"):
        return np.cumprod(out, dtype=np.uint32)


_TOKEN_POWERS = _PowerTable(0x01000193)  # 32-bit FNV prime
_WORD_BIT, _PUNCT_BIT, _VALUE_MASK = np.uint32(1 << 31), np.uint32(1 << 30), np.uint32(0x1FF)


def _byte_table(cfg: ShingleConfig) -> np.ndarray:
    """uint32 per byte value: bit 31 = word byte, bit 30 = punctuation token, low 9 bits =
    (case-folded byte + 1), summed into token hashes (0 for whitespace)."""
    cls = _byte_classes(cfg.tokens)
    vals = np.arange(256, dtype=np.uint32) + np.uint32(1)
    if cfg.lowercase:
        vals[65:91] += np.uint32(32)  # ASCII case folding (non-ASCII bytes are kept as they are)
    vals[cls == SPACE] = 0
    vals[cls == WORD] |= _WORD_BIT
    vals[cls == PUNCT] |= _PUNCT_BIT
    return vals


def _token_hashes(data: np.ndarray, offsets: np.ndarray, cfg: ShingleConfig) -> tuple[np.ndarray, np.ndarray]:
    """Hash every token: (token hashes uint64, per-document token offsets int64).

    A token's 32-bit polynomial hash sum(value(b_i) * P^i) / P^start is the difference of
    two prefix sums, so the bytes are visited in a few vectorized passes and never per
    token (32-bit arithmetic halves memory traffic); its length is mixed in and SplitMix64
    spreads it to 64 bits. Among 10^6 distinct tokens ~100 pairs collide: no measurable
    effect on Jaccard similarities.
    """
    n = len(data)
    if n == 0:
        return np.zeros(0, np.uint64), np.zeros(len(offsets), np.int64)
    v = np.take(_byte_table(cfg), data)
    is_word = v >= _WORD_BIT
    start = is_word.copy()
    start[1:] &= ~is_word[:-1]
    end = is_word.copy()  # inclusive last byte of each token
    end[:-1] &= ~is_word[1:]
    nonempty = offsets[1:] > offsets[:-1]
    first, last = offsets[:-1][nonempty], offsets[1:][nonempty] - 1
    start[first] |= is_word[first]  # words never span two documents
    end[last] |= is_word[last]
    if cfg.tokens == "code":
        punct = (v & _PUNCT_BIT) != 0
        start |= punct
        end |= punct
    s_idx = np.flatnonzero(start)
    e_idx = np.flatnonzero(end)
    pw, inv = _TOKEN_POWERS.get(n)
    with np.errstate(over="ignore"):
        prefix = np.empty(n + 1, np.uint32)
        prefix[0] = 0
        np.cumsum((v & _VALUE_MASK) * pw, out=prefix[1:], dtype=np.uint32)
        sums = ((prefix[e_idx + 1] - prefix[s_idx]) * inv[s_idx]).astype(np.uint64)
        lengths = (e_idx + 1 - s_idx).astype(np.uint64)
        th = splitmix64((sums | (lengths << np.uint64(32))) ^ (np.uint64(cfg.seed) * _SHINGLE_BASE))
    tok_off = np.searchsorted(s_idx, offsets, side="left").astype(np.int64)
    return th, tok_off


def shingle_hashes(text: pa.Array, cfg: ShingleConfig) -> tuple[np.ndarray, np.ndarray]:
    """Shingle hashes of each document: (flat uint64 hashes, int64 offsets, len n+1).

    Document i owns hashes[off[i]:off[i+1]] (with repeats; callers treat them as a set).
    Empty or whitespace-only documents own none. The compiled kernel (one pass over the
    bytes per document) gives the same hashes as the numpy reference `shingle_hashes_numpy`.
    """
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    if _kernels is None:
        return shingle_hashes_numpy(text, cfg)
    data, offsets = _string_bytes(text)
    return shingle_hashes_bytes(data, offsets, cfg)


def shingle_hashes_bytes(data: np.ndarray, offsets: np.ndarray, cfg: ShingleConfig) -> tuple[np.ndarray, np.ndarray]:
    """`shingle_hashes` of documents given as UTF-8 bytes + int64 offsets (compiled kernel)."""
    assert _kernels is not None
    data = np.ascontiguousarray(data, np.uint8)
    offsets = np.ascontiguousarray(offsets, np.int64)
    # at most one shingle per byte; pages past the shingles written are never touched
    hashes = np.empty(max(int(offsets[-1] - offsets[0]), 1), np.uint64)
    out_off = np.empty(len(offsets), np.int64)
    total = _kernels.shingle_pack(data, offsets, _byte_table(cfg), (cfg.ngram, _salt(cfg)), out_off, hashes)
    hashes = hashes[:total]
    return hashes, out_off


def _salt(cfg: ShingleConfig) -> int:
    return (cfg.seed * int(_SHINGLE_BASE)) % (1 << 64)  # as np.uint64(seed) * _SHINGLE_BASE


def shingle_hits_bytes(
    data: np.ndarray, offsets: np.ndarray, cfg: ShingleConfig, members: np.ndarray, low: np.ndarray, low_bits: int
) -> np.ndarray:
    """int32 per document: how many of its `shingle_hashes_bytes` shingles (with repeats) are
    in `members` (sorted unique uint64), counted without storing the shingles (compiled
    kernel). `low`: bool[2 ** low_bits], true at the low bits of every member."""
    assert _kernels is not None
    out = np.empty(len(offsets) - 1, np.int32)
    _kernels.shingle_hits(
        np.ascontiguousarray(data, np.uint8), np.ascontiguousarray(offsets, np.int64), _byte_table(cfg),
        (cfg.ngram, _salt(cfg), low_bits), low.view(np.uint8), np.ascontiguousarray(members, np.uint64), out,
    )
    return out


def shingle_hashes_numpy(text: pa.Array, cfg: ShingleConfig) -> tuple[np.ndarray, np.ndarray]:
    """Reference for the kernel path of `shingle_hashes`: numpy over ~256 KiB chunks."""
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    n_docs = len(text)
    if n_docs == 0:
        return np.zeros(0, np.uint64), np.zeros(1, np.int64)
    sizes = pc.binary_length(text).to_numpy(zero_copy_only=False).astype(np.int64)
    bounds = _chunk_bounds(sizes, CHUNK_BYTES)
    parts, counts = [], []
    for a, b in itertools.pairwise(bounds):
        h, off = _shingles_chunk(text.slice(a, b - a), cfg)
        parts.append(h)
        counts.append(np.diff(off))
    hashes = np.concatenate(parts) if parts else np.zeros(0, np.uint64)
    offsets = np.zeros(n_docs + 1, np.int64)
    np.cumsum(np.concatenate(counts), out=offsets[1:])
    return hashes, offsets


def _chunk_bounds(sizes: np.ndarray, budget: int) -> list[int]:
    """Document index boundaries so that each chunk holds about `budget` bytes."""
    cum = np.cumsum(sizes)
    bounds = [0]
    while bounds[-1] < len(sizes):
        base = cum[bounds[-1] - 1] if bounds[-1] else 0
        nxt = int(np.searchsorted(cum, base + budget, side="right"))
        bounds.append(max(nxt, bounds[-1] + 1))
    return bounds


def _shingles_chunk(text: pa.Array, cfg: ShingleConfig) -> tuple[np.ndarray, np.ndarray]:
    data, offsets = _string_bytes(text)
    th, tok_off = _token_hashes(data, offsets, cfg)
    ntok = np.diff(tok_off)
    k = cfg.ngram
    n_tok = len(th)
    # full n-grams: windows starting at token i, all n tokens in the same document
    tok_doc = np.repeat(np.arange(len(ntok)), ntok)
    nwin = max(n_tok - k + 1, 0)
    if nwin:
        valid = tok_doc[:nwin] == tok_doc[k - 1 : k - 1 + nwin]
        acc = np.zeros(nwin, np.uint64)
        with np.errstate(over="ignore"):
            for j in range(k):
                acc = acc * _SHINGLE_BASE + th[j : j + nwin]
        full = acc[valid]
        full_doc = tok_doc[:nwin][valid]
    else:
        full = np.zeros(0, np.uint64)
        full_doc = np.zeros(0, np.int64)
    # short documents (0 < tokens < n): one shingle of all their tokens
    short = np.flatnonzero((ntok > 0) & (ntok < k))
    if len(short):
        is_short = np.zeros(len(ntok), dtype=bool)
        is_short[short] = True
        sel = np.flatnonzero(is_short[tok_doc])
        from_end = tok_off[tok_doc[sel] + 1] - 1 - sel
        pw = _powers(_SHINGLE_BASE, k)
        with np.errstate(over="ignore"):
            sh = np.add.reduceat(th[sel] * pw[from_end], np.cumsum(np.r_[0, ntok[short][:-1]]))
        full = np.concatenate([full, sh])
        full_doc = np.concatenate([full_doc, short])
        order = np.argsort(full_doc, kind="stable")
        full, full_doc = full[order], full_doc[order]
    hashes = splitmix64(full ^ np.uint64(k))
    off = np.searchsorted(full_doc, np.arange(len(ntok) + 1), side="left").astype(np.int64)
    return hashes, off
