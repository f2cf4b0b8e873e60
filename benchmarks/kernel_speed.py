"""CPU ms per MB of the compiled text kernels against their reference paths, in one process,
and each default rule's marginal cost inside the `rules` gate.

    nice -n 5 python benchmarks/kernel_speed.py [--input DIR] [--mb 40]

(a) on the first input shard: dedup 5-gram shingles (kernel vs numpy), decontam 10-gram
    hashes with numbers removed (kernels vs RE2 replace + numpy), encoded-data match lengths
    (`encoded_runs` + RE2 on the kept runs vs RE2 over every text), the prompt-comment line
    regex (literal prefilter vs RE2 on every line), duplicate lines (in-place hash + per-document
    table vs trimmed copy + sort); (b) on a `--mb` sample spread over the input: each rule of the
    default gate in config order, CPU after the rules before it (shared features are paid by
    the first rule that needs them); (c) the quality gate alone on the rows of the `--mb` sample
    that reach it (earlier shard-local gates applied), ms per MB reaching it and per sample MB.
    Best of 3 repeats; CPU time of this process only. `--quality-only` runs (c) alone, e.g. with
    another checkout's interpreter for an old-vs-new pair:
    `nice -n 5 /work/main/.venv/bin/python benchmarks/kernel_speed.py --quality-only`.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))


def kernel_table(text: pa.Array) -> None:
    from dedup_speed import best_of

    from codesieve.core.batch import DocBatch
    from codesieve.filters.decontam import _without_numbers, ngram_hashes
    from codesieve.filters.dedup.license import strip_license_headers, strip_license_headers_re2
    from codesieve.filters.dedup.shingles import ShingleConfig, shingle_hashes, shingle_hashes_numpy
    from codesieve.filters.langid import content
    from codesieve.filters.rules import features as F
    from codesieve.filters.rules import general
    from codesieve.filters.rules.general import DuplicateLineFraction, PromptCommentFraction
    from codesieve.filters.rules.starcoder2 import ENCODED_PATTERNS, encoded_match_lengths
    from codesieve.scorers import text as T

    mb = pc.sum(pc.binary_length(text)).as_py() / 1e6
    enc = "|".join(f"(?:{p})" for p in ENCODED_PATTERNS)
    prompt = PromptCommentFraction(PromptCommentFraction.Params()).params.pattern
    dup = DuplicateLineFraction(DuplicateLineFraction.Params(skip_symbol_lines=True))
    lines = DocBatch(pa.table({"content": text})).flat_lines
    prefix = pc.utf8_slice_codeunits(text, 0, T.window(4096))

    def batch() -> DocBatch:
        return DocBatch(pa.table({"content": text}))

    def dup_sort() -> object:
        general.repeated_trimmed_lines, saved = (lambda *_: None), general.repeated_trimmed_lines
        try:
            return dup.measure(batch())
        finally:
            general.repeated_trimmed_lines = saved

    rows = [
        ("dedup shingles (5-grams)", lambda: shingle_hashes(text, ShingleConfig()),
         lambda: shingle_hashes_numpy(text, ShingleConfig())),
        ("decontam n-grams (numbers removed)", lambda: ngram_hashes(text, 10),
         lambda: shingle_hashes_numpy(_without_numbers(text), ShingleConfig(ngram=10))),
        ("encoded-data match lengths", lambda: encoded_match_lengths(batch(), enc),
         lambda: F.match_lengths_of(text, enc)),
        ("prompt-comment line regex (lines given)", lambda: F.regex_search(lines, prompt),
         lambda: pc.match_substring_regex(lines, prompt)),
        ("duplicate_line_fraction", lambda: dup.measure(batch()), dup_sort),
        ("fastText input: licence headers stripped + collapsed", lambda: T._collapsed(text, 4096, prefix),
         lambda: T._collapsed_reference(text, 4096, prefix)),
        ("language id: licence header collapsed", lambda: content.collapse_license_header(text, 2048),
         lambda: content.collapse_license_header_reference(text, 2048)),
        ("dedup: licence headers stripped", lambda: strip_license_headers(text), lambda: strip_license_headers_re2(text)),
    ]
    print(f"(a) {len(text):,} documents, {mb:.1f} MB\n\n| step | kernel ms/MB | reference ms/MB |\n|---|--:|--:|")
    for name, fast, ref in rows:
        print(f"| {name} | {1000 * best_of(3, fast) / mb:.2f} | {1000 * best_of(3, ref) / mb:.2f} |")


def marginal_table(input_dir: str, mb: float) -> None:
    from rules_speed import load_sample

    from codesieve.core.batch import DocBatch
    from codesieve.pipeline.config import load_config

    tables = load_sample(input_dir, mb, "language")
    gate = next(g for g in load_config("default").gates if g.name == "rules")
    total = sum(int(DocBatch(t).byte_len.sum()) for t in tables) / 1e6
    cost = {r.name: float("inf") for r in gate.rules}
    for _ in range(3):
        run = dict.fromkeys(cost, 0.0)
        for t in tables:
            b = DocBatch(t)
            for r in gate.rules:
                t0 = time.process_time()
                r.measure(b)
                run[r.name] += time.process_time() - t0
        cost = {k: min(cost[k], run[k]) for k in cost}
    print(f"\n(b) default rules gate, {total:.1f} MB sample\n\n| rule (config order) | ms/MB |\n|---|--:|")
    for name, secs in cost.items():
        print(f"| {name} | {1000 * secs / total:.2f} |")
    print(f"| **gate** | {1000 * sum(cost.values()) / total:.2f} |")


def quality_table(input_dir: str, mb: float) -> None:
    from dedup_speed import best_of
    from quality_scorers import reaching_quality
    from rules_speed import load_sample

    from codesieve.core.batch import DocBatch
    from codesieve.pipeline.config import load_config

    cfg = load_config("default")
    tables = load_sample(input_dir, mb, "language")
    total = sum(int(DocBatch(t).byte_len.sum()) for t in tables) / 1e6
    batches, _ = reaching_quality(cfg, tables)
    reach = sum(int(b.byte_len.sum()) for b in batches) / 1e6
    secs = best_of(3, lambda: [cfg.gates[-1].scores(DocBatch(b.table)) for b in batches])
    print(f"\n(c) quality gate, {reach:.1f} of {total:.1f} MB reach it\n\n| | ms/MB reaching | ms/MB of sample |\n|---|--:|--:|")
    print(f"| quality gate | {1000 * secs / reach:.2f} | {1000 * secs / total:.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", default=str(ROOT.parent / "shared" / "corpus" / "dev"))
    ap.add_argument("--mb", type=float, default=40.0)
    ap.add_argument("--quality-only", action="store_true", help="only (c)")
    args = ap.parse_args()
    shards = sorted(glob.glob(os.path.join(args.input, "*.parquet")))
    if not shards:
        raise SystemExit(f"--input {args.input}: no Parquet shards")
    pa.set_cpu_count(1)
    if not args.quality_only:
        kernel_table(pq.read_table(shards[0], columns=["content"]).column("content").combine_chunks())
        marginal_table(args.input, args.mb)
    quality_table(args.input, args.mb)
    print(f"\nload average {' / '.join(f'{x:.1f}' for x in os.getloadavg())} (1/5/15 min)")


if __name__ == "__main__":
    main()
