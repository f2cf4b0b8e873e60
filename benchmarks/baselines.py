"""The comparison baseline the dedup benchmarks share: datasketch's MinHashLSH plus a
union-find over its candidates (the ANCHORS "datasketch" row), and the rensa row."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np


def union_find_removed(sigs: list[Any], query: Callable[[Any], Iterable[int]]) -> np.ndarray:
    """Join every document with the candidates `query(signature)` returns (union-find, the
    smaller index as root) and mark every document but its component's root removed."""
    parent = list(range(len(sigs)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, m in enumerate(sigs):
        for j in query(m):
            a, b = find(i), find(j)
            if a != b:
                parent[max(a, b)] = min(a, b)
    return np.array([find(i) != i for i in range(len(sigs))], dtype=bool)


def datasketch_lsh_removed(sigs: list[Any], threshold: float, num_perm: int) -> np.ndarray:
    """Index datasketch MinHash objects in a MinHashLSH (its optimal bands/rows), join every
    candidate pair with union-find, and mark every document but its component's root removed."""
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    for i, m in enumerate(sigs):
        lsh.insert(i, m)
    return union_find_removed(sigs, lsh.query)


def rensa_lsh_removed(texts: Iterable[str], threshold: float = 0.7, num_perm: int = 128, bands: int = 16,
                      ngram: int = 5, seed: int = 42) -> np.ndarray:
    """The ANCHORS "rensa" row: lower-cased `\\w+` word 5-grams built in Python, rensa
    `RMinHash` signatures, `RMinHashLSH` (16 bands x 8 rows) insert + query, union-find over
    the candidates; every document but its component's root is marked removed. `texts` may
    be a generator (one shard at a time): only the signatures are kept."""
    import re

    from rensa import RMinHash, RMinHashLSH

    word = re.compile(r"\w+")
    lsh = RMinHashLSH(threshold=threshold, num_perm=num_perm, num_bands=bands)
    sigs = []
    for i, text in enumerate(texts):
        toks = word.findall(text.lower())
        m = RMinHash(num_perm=num_perm, seed=seed)
        m.update([" ".join(toks[k : k + ngram]) for k in range(max(len(toks) - ngram + 1, 1))])
        lsh.insert(i, m)
        sigs.append(m)
    return union_find_removed(sigs, lsh.query)
