"""Comment lexer (`filters.langid.comments`, compiled) against tree-sitter comment nodes
(`filters.langid.natural.comment_text`): CPU time of each, and per language how often the
text given to lingua (first `nl_max_chars` code points) and the resulting `nl_lang` agree.

    python benchmarks/nl_comments.py [--input DIR] [--every N]

Reads the corpus' `content` and `language` columns (every N-th row of each shard).
"""

from __future__ import annotations

import argparse
import glob
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from codesieve.filters.langid import comments, natural

ROOT = Path(__file__).resolve().parent.parent
LANGS = ("en", "zh", "es", "de", "fr", "ru", "ja", "pt", "ko", "it")  # configs/default.yaml nl_languages


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", default=str(ROOT.parent / "shared" / "corpus" / "dev"))
    ap.add_argument("--every", type=int, default=1)
    ap.add_argument("--parse-chars", type=int, default=2048)
    ap.add_argument("--max-chars", type=int, default=500)
    args = ap.parse_args()
    parts = []
    for f in sorted(glob.glob(str(Path(args.input) / "*.parquet"))):
        t = pq.read_table(f, columns=["content", "language"])
        t = t.filter(pc.is_in(t.column("language"), pa.array(list(comments.LEXER_FLAGS))))
        parts.append(t.take(pa.array(range(0, t.num_rows, args.every))))
    t = pa.concat_tables(parts)
    texts, langs = t.column("content").combine_chunks(), t.column("language").combine_chunks()
    for lang in comments.LEXER_FLAGS:  # grammars load outside the timing
        natural._comment_parser(lang)
    t0 = time.process_time()
    parsed = natural.comment_text(texts, langs, args.parse_chars)
    t1 = time.process_time()
    lexed = comments.comment_text(texts, langs, args.parse_chars, args.max_chars)
    t2 = time.process_time()
    mb = pc.sum(pc.binary_length(texts)).as_py() / 1e6
    print(f"{t.num_rows:,} files, {mb:.1f} MB; tree-sitter {t1 - t0:.2f} CPU-s, lexer {t2 - t1:.3f} CPU-s")
    old, _ = natural.detect(parsed, LANGS, args.max_chars, 50, True)
    new, _ = natural.detect(lexed, LANGS, args.max_chars, 50, True)
    same_text, same_nl, total = Counter(), Counter(), Counter()
    for a, b, x, y, g in zip(parsed, lexed, old.to_pylist(), new.to_pylist(), langs.to_pylist()):
        total[g] += 1
        same_text[g] += a[: args.max_chars] == b[: args.max_chars]
        same_nl[g] += x == y
    print("| language | files | same comment text | same nl_lang |\n|---|--:|--:|--:|")
    for g, n in total.most_common():
        print(f"| {g} | {n} | {same_text[g] / n:.1%} | {same_nl[g] / n:.2%} |")
    n = sum(total.values())
    print(f"| all | {n} | {sum(same_text.values()) / n:.1%} | {sum(same_nl.values()) / n:.2%} |")


if __name__ == "__main__":
    main()
