"""Near-dedup quality against an exact-Jaccard ground truth (the ANCHORS.md definition).

Ground truth, independent of codesieve's MinHash code: Python `re` tokens (`\\w+` of the
lower-cased text), word 5-grams (a document with 1-4 tokens is one shingle of all of them,
an empty one the empty shingle), and *every* pair of documents whose exact Jaccard
similarity of those sets is >= the threshold, found by an exact all-pairs similarity
join (prefix filtering, Bayardo et al. 2007: rare-first ordering, a pair at J >= t must
share a token among each document's first |x| - ceil(t|x|) + 1) and verified by set
intersection. This contains both ANCHORS candidate sources (same-path files across
package versions, a high-recall LSH sweep) and has no false negatives by construction.

Precision = share of removed files with a true near-duplicate left in the output (the
"partner anywhere" column drops "left in the output": a transitive chain A~B~C that removes
B and C keeps only A, and C's one true partner B is gone too). "recall, pairs": share of
true pairs with at least one side removed.
Recall = removed files with a true near-duplicate left in the output, over the ideal
removals (a best-first greedy over the true graph: longest first, then smallest id, a
file is removed when a kept file is its true near-duplicate).

    .venv/bin/python benchmarks/dedup_quality.py [--corpus DIR] [--threshold 0.7] \
        [--gt-tokens words|code] [--variant 'k=v,k=v' ...] [--datasketch]
"""

from __future__ import annotations

import argparse
import glob
import math
import os
import re
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

DEV_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "dev"

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TOKENS = {"words": re.compile(r"\w+"), "code": re.compile(r"\w+|[^\w\s]")}


def gt_sets(texts: list[str], ngram: int, tokens: str = "words", lowercase: bool = True) -> list[np.ndarray]:
    """Sorted unique int64 ids of each document's token n-grams (exact: a global dict)."""
    vocab: dict[tuple[str, ...], int] = {}
    out = []
    pattern = TOKENS[tokens]
    for text in texts:
        toks = pattern.findall(text.lower() if lowercase else text)
        if len(toks) >= ngram:
            grams = zip(*(toks[i:] for i in range(ngram)))
        else:
            grams = iter([tuple(toks)])
        ids = {vocab.setdefault(g, len(vocab)) for g in grams}
        out.append(np.fromiter(sorted(ids), np.int64, len(ids)))
    return out


def similar_pairs(sets: list[np.ndarray], threshold: float) -> set[tuple[int, int]]:
    """All (i, j), i < j, with exact Jaccard(sets[i], sets[j]) >= threshold."""
    # identical sets form groups; the join runs over one member per group
    groups: dict[bytes, list[int]] = defaultdict(list)
    for i, s in enumerate(sets):
        groups[s.tobytes()].append(i)
    reps = [g[0] for g in groups.values()]
    pairs: set[tuple[int, int]] = set()
    for members in groups.values():
        for a in range(len(members)):
            for b in range(a + 1, len(members)):
                pairs.add((members[a], members[b]))
    freq = np.bincount(np.concatenate([sets[r] for r in reps]))
    index: dict[int, list[int]] = defaultdict(list)
    cands: set[tuple[int, int]] = set()
    for r in sorted(reps, key=lambda r: len(sets[r])):  # shorter first: length filter below
        s = sets[r]
        ordered = s[np.lexsort((s, freq[s]))]
        plen = len(s) - math.ceil(threshold * len(s)) + 1
        for tok in ordered[:plen].tolist():
            for other in index[tok]:
                if len(sets[other]) >= threshold * len(s):
                    cands.add((other, r))
            index[tok].append(r)
    for a, b in cands:
        inter = len(np.intersect1d(sets[a], sets[b], assume_unique=True))
        if inter / (len(sets[a]) + len(sets[b]) - inter) >= threshold:
            for x in groups[sets[a].tobytes()]:
                for y in groups[sets[b].tobytes()]:
                    pairs.add((min(x, y), max(x, y)))
    return pairs


def score(removed: np.ndarray, order: np.ndarray, pairs: set[tuple[int, int]]) -> dict[str, float]:
    """Precision and recall of a removal mask against the true pairs (see module doc)."""
    n = len(removed)
    nbrs: list[list[int]] = [[] for _ in range(n)]
    for a, b in pairs:
        nbrs[a].append(b)
        nbrs[b].append(a)
    good = np.array([removed[i] and any(not removed[j] for j in nbrs[i]) for i in range(n)])
    ideal_removed = np.zeros(n, bool)
    kept = np.zeros(n, bool)
    for i in order:
        if any(kept[j] for j in nbrs[i]):
            ideal_removed[i] = True
        else:
            kept[i] = True
    tp = int(good.sum())
    anywhere = sum(1 for i in np.flatnonzero(removed) if nbrs[i])
    pairs_hit = sum(1 for a, b in pairs if removed[a] or removed[b])
    return {
        "removed": int(removed.sum()), "true_positives": tp, "ideal_removals": int(ideal_removed.sum()),
        "precision": tp / max(int(removed.sum()), 1), "recall": tp / max(int(ideal_removed.sum()), 1),
        "precision_any": anywhere / max(int(removed.sum()), 1),
        "recall_pairs": pairs_hit / max(len(pairs), 1),
    }


def same_path_recall(table: pa.Table, removed: np.ndarray, pairs: set[tuple[int, int]]) -> tuple[int, float]:
    """True pairs that are the same path in two versions of one package: how many, and
    the share where the output keeps only one of the two (one side removed)."""
    pkg = [r.split("@")[0] for r in table.column("repo_name").to_pylist()]
    path = table.column("path").to_pylist()
    sp = [(a, b) for a, b in pairs if pkg[a] == pkg[b] and path[a] == path[b]]
    hit = sum(1 for a, b in sp if removed[a] or removed[b])
    return len(sp), hit / max(len(sp), 1)


def datasketch_removed(texts: list[str], threshold: float, ngram: int, num_perm: int = 128) -> np.ndarray:
    """The ANCHORS datasketch row: MinHash + MinHashLSH (optimal bands) + union-find; every
    document but the first of its component is removed. Same shingles as the ground truth."""
    from baselines import datasketch_lsh_removed
    from datasketch import MinHash

    sigs = []
    for text in texts:
        toks = TOKENS["words"].findall(text.lower())
        m = MinHash(num_perm=num_perm)
        m.update_batch([" ".join(toks[j : j + ngram]).encode() for j in range(max(len(toks) - ngram + 1, 1))])
        sigs.append(m)
    return datasketch_lsh_removed(sigs, threshold, num_perm)


def print_row(label: str, split: str, removed: np.ndarray, secs: float, order: np.ndarray,
              pairs: set[tuple[int, int]], table: pa.Table) -> None:
    """One markdown row: files removed (`split` details them), then the scores."""
    m = score(removed, order, pairs)
    n_sp, sp_rec = same_path_recall(table, removed, pairs)
    print(
        f"| {label} | {m['removed']:,}{split} | {m['ideal_removals']:,} | {m['precision']:.3f} | "
        f"{m['recall']:.3f} | {m['precision_any']:.3f} | {m['recall_pairs']:.3f} | {n_sp:,} ({sp_rec:.3f}) | "
        f"{secs:.0f} |",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default=str(DEV_CORPUS))
    ap.add_argument("--threshold", type=float, default=0.7)
    ap.add_argument("--ngram", type=int, default=5)
    ap.add_argument("--gt-tokens", choices=sorted(TOKENS), default="words",
                    help="ground-truth tokens: 'words' (ANCHORS, \\w+) or 'code' (\\w+ and punctuation)")
    ap.add_argument("--gt-cased", action="store_true", help="ground truth without lower-casing")
    ap.add_argument("--limit", type=int, default=None, help="first N rows only")
    ap.add_argument("--variant", action="append", default=None,
                    help="dedup gate params 'k=v,k=v' (YAML values); repeatable; default: the defaults")
    ap.add_argument("--datasketch", action="store_true", help="also score datasketch + union-find (the ANCHORS row)")
    args = ap.parse_args()

    import yaml

    from codesieve.core.batch import DocBatch
    from codesieve.pipeline.executors import LocalExecutor
    from codesieve.pipeline.inmemory import run_global_gate

    files = sorted(glob.glob(os.path.join(args.corpus, "*.parquet")))
    table = pa.concat_tables([pq.read_table(f, columns=["id", "content", "path", "repo_name"]) for f in files])
    if args.limit:
        table = table.slice(0, args.limit)
    print(f"corpus: {args.corpus} ({table.num_rows} files)")

    t0 = time.perf_counter()
    texts = table.column("content").to_pylist()
    sets = gt_sets(texts, args.ngram, args.gt_tokens, not args.gt_cased)
    pairs = similar_pairs(sets, args.threshold)
    print(f"ground truth: {args.gt_tokens} tokens{'' if args.gt_cased else ' lower-cased'}, {args.ngram}-grams: "
          f"{len(pairs)} pairs with exact Jaccard >= {args.threshold} ({time.perf_counter() - t0:.0f} s)")
    sizes = np.array([len(t.encode()) for t in texts])
    order = np.lexsort((table.column("id").to_numpy(zero_copy_only=False), -sizes))
    batches = [DocBatch(table.slice(i, 5000)) for i in range(0, table.num_rows, 5000)]

    print()
    print("| codesieve params | files removed (exact + near) | ideal removals | precision | recall "
          "| precision, partner anywhere | recall, pairs | same-path pairs (recall) | seconds |")
    print("|---|---|---|---|---|---|---|---|---|")
    for variant in args.variant or [""]:
        params: dict = {"threshold": args.threshold, "ngram": args.ngram}
        for kv in filter(None, variant.split(",")):
            k, v = kv.split("=", 1)
            params[k] = yaml.safe_load(v)
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as work:
            out, stats = run_global_gate("dedup", batches, params, work, LocalExecutor())
        secs = time.perf_counter() - t0
        removed = out.column("reason").is_valid().to_numpy(zero_copy_only=False)
        split = f" ({stats['exact_duplicates']:,} + {stats['near_duplicates']:,})"
        print_row(variant or "defaults", split, removed, secs, order, pairs, table)
    if args.datasketch:
        t0 = time.perf_counter()
        removed = datasketch_removed(texts, args.threshold, args.ngram)
        secs = time.perf_counter() - t0
        print_row("datasketch 2.0, 128 perms, union-find", "", removed, secs, order, pairs, table)

if __name__ == "__main__":
    main()
