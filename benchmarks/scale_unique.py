"""A scale corpus with a fixed duplicate rate: every copy of the source is a new "universe".

`benchmarks/scale.py --mode unique` builds its corpus here. Copy k of the source (k = 0, 1,
...) is the whole source in its own seeded order, with every word token outside the
source's KEEP_TOKENS most frequent ones renamed by a seeded bijection of the vocabulary
(copy 0: no renaming) that maps a token to one of the same length (so every file keeps its
size and line lengths). Renaming is consistent within a copy, so the source's own
near-duplicate structure is kept inside each copy, but a renamed file shares almost no
5-word shingle with its source or with any other copy (true Jaccard of the default
config's shingle sets: mean 0.02, max 0.18 over 500 files, far below the 0.7 threshold;
`python benchmarks/scale_unique.py` prints it). Then, in every copy, DUP_SHARE of the rows are
replaced by a copy of an *earlier* row of the same copy: an exact copy 1 time in 5,
otherwise with one inserted line or one changed word (`scale._edit`). So the duplicate
rate and the size of every near-duplicate component are the same in each copy, whatever
the number of copies; a corpus of c copies has c times the rows of every kind.

Word tokens are those of the dedup shingler (`filters/dedup/shingles.py`): runs of ASCII
letters, digits, `_` and non-ASCII characters. Digit-led tokens map to digit-led ones; tokens alone in their
(length, digit-led) class stay as they are.
"""

from __future__ import annotations

import collections
import re
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

KEEP_TOKENS = 300  # most frequent tokens kept as they are (keywords, `self`, `the`, `0`, ...): 48% of tokens
DUP_SHARE = 0.15  # of the rows of every copy: a copy (exact or lightly edited) of an earlier row of that copy
EXACT_SHARE = 0.2  # of those: exact copies
WORD = re.compile(r"([0-9A-Za-z_\u0080-\U0010FFFF]+)")


class Renamer:
    """The source's vocabulary and, per copy, a seeded bijection of its rarer tokens."""

    def __init__(self, texts: list[str | None], seed: int):
        counts: collections.Counter[str] = collections.Counter()
        for t in texts:
            if t:
                counts.update(WORD.findall(t))
        keep = {w for w, _ in counts.most_common(KEEP_TOKENS)}
        classes: dict[tuple[int, bool], list[str]] = {}
        for w in sorted(w for w in counts if w not in keep):  # same length, both digit-led or not
            classes.setdefault((len(w), w[0].isdigit()), []).append(w)
        self.classes = list(classes.values())
        self.seed = seed

    def mapping(self, copy: int) -> dict[str, str]:
        """Token -> token for copy `copy` (empty for copy 0)."""
        if copy == 0:
            return {}
        rng = np.random.default_rng([self.seed, copy, 7])
        out: dict[str, str] = {}
        for words in self.classes:
            perm = rng.permutation(len(words))
            out.update(zip(words, (words[i] for i in perm)))
        return out


def rename(text: str | None, mapping: dict[str, str]) -> str | None:
    """`text` with every token in `mapping` replaced (separators kept as they are)."""
    if not text or not mapping:
        return text
    parts = WORD.split(text)  # separator, token, separator, token, ..., separator
    parts[1::2] = [mapping.get(w, w) for w in parts[1::2]]
    return "".join(parts)


def copy_rows(n: int, copy: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each position of copy `copy`: its own source row, the source row its text comes
    from (a dup's partner: the row at an earlier position), and 0 / 1 exact / 2 edited dup."""
    rng = np.random.default_rng([seed, copy])
    own = rng.permutation(n)
    kind = np.zeros(n, np.int8)
    dup = rng.random(n) < DUP_SHARE
    dup[0] = False
    kind[dup] = np.where(rng.random(int(dup.sum())) < EXACT_SHARE, 1, 2)
    partner_pos = np.arange(n)
    partner_pos[dup] = (rng.random(int(dup.sum())) * np.flatnonzero(dup)).astype(np.int64)  # uniform in [0, p)
    return own, own[partner_pos], kind


def build_copy(src: pa.Table, renamer: Renamer, copy: int, seed: int, text_column: str) -> pa.Table:
    """All rows of copy `copy`, in its order."""
    from scale import _edit  # the light edit of the resampled corpus

    own, text_of, kind = copy_rows(src.num_rows, copy, seed)
    table = src.take(pa.array(text_of))  # path, language, ... follow the text
    mapping = renamer.mapping(copy)
    texts = [rename(t, mapping) for t in table.column(text_column).to_pylist()]
    for p in np.flatnonzero(kind == 2).tolist():
        if texts[p] is not None:
            texts[p] = _edit(texts[p], copy, np.random.default_rng([seed, copy, p]))
    table = table.set_column(table.schema.get_field_index(text_column), text_column,
                             pa.array(texts, table.schema.field(text_column).type))
    suffix = f"-u{copy}" if copy else ""
    if "id" in table.column_names:  # a position's id is its own source row's: unique in the copy
        ids = src.column("id").take(pa.array(own)).to_pylist()
        table = table.set_column(table.schema.get_field_index("id"), "id",
                                 pa.array([f"{i}{suffix}" for i in ids], pa.string()))
    if copy and "repo_name" in table.column_names:
        repos = [None if r is None else f"{r}{suffix}" for r in table.column("repo_name").to_pylist()]
        table = table.set_column(table.schema.get_field_index("repo_name"), "repo_name",
                                 pa.array(repos, table.schema.field("repo_name").type))
    return table


def build_corpus(src: pa.Table, dst: Path, copies: int, shard_rows: int, seed: int, text_column: str) -> list[Path]:
    """Shards of `copies` copies in dst (each copy split evenly into shards of at most
    shard_rows; existing shards reused); returns the paths of all shards, copy by copy."""
    dst.mkdir(parents=True, exist_ok=True)
    per_copy = -(-src.num_rows // shard_rows)
    cuts = np.linspace(0, src.num_rows, per_copy + 1).astype(int)
    paths = [[dst / f"part-{c:03d}-{s:02d}.parquet" for s in range(per_copy)] for c in range(copies)]
    renamer = None
    t0 = time.perf_counter()
    for c in range(copies):
        if all(p.exists() for p in paths[c]):
            continue
        renamer = renamer or Renamer(src.column(text_column).to_pylist(), seed)
        table = build_copy(src, renamer, c, seed, text_column)
        for s, path in enumerate(paths[c]):
            tmp = path.with_suffix(".tmp")
            pq.write_table(table.slice(cuts[s], cuts[s + 1] - cuts[s]), tmp, compression="zstd",
                           compression_level=3, row_group_size=5000)
            tmp.replace(path)
        print(f"  built copy {c} ({(c + 1) * src.num_rows:,} rows, {time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    return [p for ps in paths for p in ps]


def check(src: pa.Table, text_column: str, seed: int, copy: int = 1, sample: int = 500) -> dict[str, float]:
    """True Jaccard of the 5-word shingle sets (the default dedup config's) of `sample`
    source files with their renamed version in copy `copy`: mean, 99th percentile, max."""
    from codesieve.filters.dedup.shingles import ShingleConfig, shingle_hashes

    rows = np.random.default_rng(seed).choice(src.num_rows, min(sample, src.num_rows), replace=False)
    texts = src.column(text_column).take(pa.array(rows)).to_pylist()
    mapping = Renamer(src.column(text_column).to_pylist(), seed).mapping(copy)
    cfg = ShingleConfig()
    a_h, a_o = shingle_hashes(pa.array(texts, pa.large_string()), cfg)
    b_h, b_o = shingle_hashes(pa.array([rename(t, mapping) for t in texts], pa.large_string()), cfg)
    jac = []
    for i in range(len(texts)):
        a, b = set(a_h[a_o[i]:a_o[i + 1]].tolist()), set(b_h[b_o[i]:b_o[i + 1]].tolist())
        if a or b:
            jac.append(len(a & b) / len(a | b))
    j = np.asarray(jac)
    return {"files": len(j), "mean": float(j.mean()), "p99": float(np.quantile(j, 0.99)), "max": float(j.max())}


if __name__ == "__main__":
    from scale import DEFAULT_SOURCE, load_source

    print(check(load_source(DEFAULT_SOURCE), "content", 13))
