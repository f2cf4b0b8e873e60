"""MinHash signatures (compiled, via rensa), LSH band hashes and banding parameters."""

from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np

from codesieve.filters.dedup.shingles import splitmix64

EMPTY = np.uint32(0xFFFFFFFF)  # signature value of a document without shingles


#: documents per rensa call in `signatures`
SIGNATURE_BLOCK = 1024


def signatures(hashes: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """MinHash signatures (n_docs, num_perm) uint32 of flat shingle hashes.

    Document i's shingles are hashes[offsets[i]:offsets[i+1]]. rensa's RMinHash applies
    num_perm universal hash permutations in Rust (~30 M shingles/s on one core); documents
    without shingles get all-EMPTY rows.
    """
    import rensa

    n = len(offsets) - 1
    out = np.empty((n, num_perm), np.uint32)
    hashes = np.ascontiguousarray(hashes, dtype=np.uint64)
    offsets = offsets.astype(np.uint64)
    # rensa 0.5 exports rows of Python ints only (one object per value); a block of documents
    # at a time, so those objects reuse the same memory instead of faulting in ~115 MB of fresh
    # pages per dev run (a document's digest depends on its own shingles alone: the same values)
    for a in range(0, n, SIGNATURE_BLOCK):
        b = min(a + SIGNATURE_BLOCK, n)
        lo, hi = int(offsets[a]), int(offsets[b])
        mat = rensa.RMinHash.digest_matrix_from_flat_token_hashes(hashes[lo:hi], offsets[a : b + 1] - offsets[a], num_perm,
                                                                  seed)
        # fromiter skips asarray's nested-list pass
        out[a:b] = np.fromiter(itertools.chain.from_iterable(mat.to_rows()), np.uint32, count=(b - a) * num_perm).reshape(
            b - a, num_perm)
    return out


def band_hashes(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(n_docs, bands) uint64: band j hashes signature values [j*rows, (j+1)*rows) and j."""
    n = sigs.shape[0]
    out = np.empty((n, bands), np.uint64)
    with np.errstate(over="ignore"):
        for j in range(bands):
            acc = np.full(n, np.uint64(j + 1) * np.uint64(0x9E3779B97F4A7C15), np.uint64)
            for v in sigs[:, j * rows : (j + 1) * rows].T:
                acc = splitmix64(acc ^ v.astype(np.uint64))
            out[:, j] = acc
    return out


def estimated_jaccard(sig: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Share of equal signature values between one signature and each row of `others`."""
    return (others == sig[None, :]).mean(axis=1)


def _collision(s: np.ndarray, b: np.ndarray, r: np.ndarray) -> np.ndarray:
    """P(a pair of Jaccard similarity s shares a band): 1 - (1 - s^r)^b."""
    return 1.0 - (1.0 - s**r) ** b


def _integrals(lo: float, hi: float, b: np.ndarray, r: np.ndarray, num_perm: int) -> np.ndarray:
    """The integral of `_collision` over [lo, hi] for every (b, r): Gauss-Legendre with
    num_perm // 2 + 1 nodes, exact (to rounding) for the integrand, a polynomial in s of
    degree b * r <= num_perm. (scipy's `quad` gives the same values to ~1e-15 but costs a
    0.35 CPU-s import in every process.)"""
    x, w = np.polynomial.legendre.leggauss(num_perm // 2 + 1)
    s = (hi - lo) / 2 * x + (hi + lo) / 2
    return (hi - lo) / 2 * (_collision(s[None, :], b[:, None], r[:, None]) @ w)


@lru_cache(maxsize=64)
def optimal_bands(
    threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5
) -> tuple[int, int]:
    """(bands, rows) minimizing fp_weight*FP + fn_weight*FN area under the S-curve.

    The rule of datasketch's `MinHashLSH._optimal_param` (same integrals, same search over
    b*r <= num_perm, first minimum in b-then-r order), reimplemented so that nothing
    private is imported.
    """
    pairs = np.array([(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)], dtype=np.float64)
    b, r = pairs[:, 0], pairs[:, 1]
    fp = _integrals(0.0, threshold, b, r, num_perm)
    fn = (1.0 - threshold) - _integrals(threshold, 1.0, b, r, num_perm)
    best = int(np.argmin(fp * fp_weight + fn * fn_weight))
    return int(b[best]), int(r[best])
