"""Recipe for the shipped content model `filters/langid/lang_content.ftz`.

    python -m filters.langid.train                       # dev corpus + data_samples/
    python -m filters.langid.train --input DIR_OR_FILE ... --out filters/langid/lang_content.ftz

Data: Parquet files with `content`, `path`, `repo_name` and a Linguist-style `language`
label from the file name (the dev corpus). Labels from ambiguous extensions (`.h`, `.m`,
`.pl`...) are not trusted and left out; languages with fewer than `min_files` files are
dropped. Files are split by *package* (repo_name without its version), so versions and
near copies of one package never sit on both sides; `lang_content.json` records the
held-out packages for `benchmarks/langid_accuracy.py`.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from codesieve.filters.langid.content import MODEL_PATH, label_of, prepare
from codesieve.filters.langid.paths import AMBIGUOUS

REPO = Path(__file__).resolve().parents[2]
DEFAULT_INPUTS = [str(REPO.parent / "shared" / "corpus" / "dev"), str(REPO / "data_samples")]


@dataclass
class TrainConfig:
    """Hyperparameters of the recipe (fastText supervised + quantization)."""

    max_chars: int = 4096  # prefix of each file the model sees, in code points
    chunks: int = 4  # training windows per file: the prefix plus later max_chars windows
    min_chunk_chars: int = 200  # later windows shorter than this are not used
    min_files: int = 15  # a language needs this many usable files to become a label
    max_per_package: int = 300  # cap per (package, language) so one package cannot dominate
    test_share: float = 0.25  # share of files held out (by package)
    max_label_test_share: float = 0.5  # never hold out more than this share of one language
    dim: int = 32
    epoch: int = 30
    lr: float = 0.5
    word_ngrams: int = 3  # token trigrams: `std :: vector`, `module . exports`, `# # #`
    bucket: int = 200_000
    min_count: int = 2
    thread: int = 1  # one thread keeps the recipe deterministic
    seed: int = 0
    quantize_cutoff: int = 100_000  # keep this many words/ngrams after quantization
    dsub: int = 2


def package_of(repo_name: str) -> str:
    """`npm/@types/node@20.1.0` -> `npm/@types/node` (versions of one package group together)."""
    return repo_name.rsplit("@", 1)[0] if "@" in repo_name[1:] else repo_name


def _stable_hash(s: str) -> int:
    return int.from_bytes(hashlib.sha256(s.encode()).digest()[:8], "big")


def read_inputs(inputs: list[str]) -> pa.Table:
    files: list[str] = []
    for inp in inputs:
        if os.path.isdir(inp):
            files += sorted(glob.glob(os.path.join(inp, "**", "*.parquet"), recursive=True))
        elif os.path.exists(inp):
            files.append(inp)
    cols = ["id", "content", "path", "repo_name", "language"]
    tables = []
    for f in files:
        schema = pq.read_schema(f)
        if all(c in schema.names for c in cols):
            tables.append(pq.read_table(f, columns=cols))
    if not tables:
        raise SystemExit(f"no Parquet file with columns {cols} under {inputs}")
    return pa.concat_tables(tables).combine_chunks()


def usable_rows(table: pa.Table, cfg: TrainConfig) -> pa.Table:
    """Rows with a trustworthy label: known language, unambiguous extension, non-empty text."""
    ext = pc.utf8_lower(pc.fill_null(pc.struct_field(pc.extract_regex(table["path"], r"\.(?P<e>[^./]+)$"), [0]), ""))
    keep = pc.and_(
        pc.and_(pc.invert(pc.is_in(ext, pa.array(list(AMBIGUOUS)))), pc.not_equal(table["language"], "unknown")),
        pc.greater(pc.utf8_length(table["content"]), 0),
    )
    table = table.filter(keep)
    counts = Counter(table["language"].to_pylist())
    labels = sorted(lang for lang, n in counts.items() if n >= cfg.min_files)
    return table.filter(pc.is_in(table["language"], pa.array(labels)))


def split_packages(table: pa.Table, cfg: TrainConfig) -> set[str]:
    """Held-out packages: greedy in hash order, never taking most of one language."""
    pkgs = [package_of(r) for r in table["repo_name"].to_pylist()]
    langs = table["language"].to_pylist()
    per_pkg: dict[str, Counter] = defaultdict(Counter)
    for p, lang in zip(pkgs, langs):
        per_pkg[p][lang] += 1
    total = Counter(langs)
    held: Counter = Counter()
    test: set[str] = set()
    budget = cfg.test_share * len(langs)
    for p in sorted(per_pkg, key=_stable_hash):
        size = sum(per_pkg[p].values())
        if sum(held.values()) + size > budget:
            continue
        if all(held[lang] + n <= cfg.max_label_test_share * total[lang] for lang, n in per_pkg[p].items()):
            test.add(p)
            held.update(per_pkg[p])
    return test


def cap_per_package(table: pa.Table, cap: int) -> pa.Table:
    """At most `cap` files per (package, language), chosen by id hash (deterministic)."""
    keys = [f"{package_of(r)}\t{lang}" for r, lang in zip(table["repo_name"].to_pylist(), table["language"].to_pylist())]
    order = sorted(range(len(keys)), key=lambda i: (keys[i], _stable_hash(table["id"][i].as_py())))
    seen: Counter = Counter()
    take = []
    for i in order:
        if seen[keys[i]] < cap:
            seen[keys[i]] += 1
            take.append(i)
    return table.take(pa.array(sorted(take)))


def write_fasttext_file(table: pa.Table, path: str, cfg: TrainConfig) -> int:
    """Training lines: each file's prefix plus up to `chunks - 1` later windows.

    Later windows show the model code past license headers (inference sees only the prefix,
    which is often one). Returns the number of training lines.
    """
    all_labels = np.array([label_of(x) for x in table["language"].to_pylist()], dtype=object)
    labels: list[str] = []
    texts: list[str] = []
    for k in range(cfg.chunks):
        window = pc.utf8_slice_codeunits(table["content"], k * cfg.max_chars, (k + 1) * cfg.max_chars)
        min_len = cfg.min_chunk_chars if k else 1
        rows = np.flatnonzero(pc.greater_equal(pc.utf8_length(window), min_len).to_numpy(zero_copy_only=False))
        texts += prepare(window.take(pa.array(rows, pa.int64())), cfg.max_chars)
        labels += all_labels[rows].tolist()
    order = np.random.default_rng(cfg.seed).permutation(len(labels))
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(f"{labels[i]} {texts[i]}\n" for i in order)
    return len(labels)


def train(inputs: list[str], out: Path, cfg: TrainConfig) -> dict:
    import fasttext

    t0 = time.time()
    table = usable_rows(read_inputs(inputs), cfg)
    test_pkgs = split_packages(table, cfg)
    is_test = pa.array([package_of(r) in test_pkgs for r in table["repo_name"].to_pylist()])
    train_rows = cap_per_package(table.filter(pc.invert(is_test)), cfg.max_per_package)
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "train.txt")
        lines = write_fasttext_file(train_rows, data, cfg)
        model = fasttext.train_supervised(
            input=data, dim=cfg.dim, epoch=cfg.epoch, lr=cfg.lr, wordNgrams=cfg.word_ngrams,
            bucket=cfg.bucket, minCount=cfg.min_count, thread=cfg.thread, seed=cfg.seed,
            loss="softmax", verbose=0,
        )
        model.quantize(input=data, qnorm=True, retrain=True, cutoff=cfg.quantize_cutoff, dsub=cfg.dsub,
                       thread=cfg.thread, verbose=0)
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save_model(str(out))
    meta = {
        "max_chars": cfg.max_chars,
        "config": asdict(cfg),
        "inputs": inputs,
        "labels": sorted(set(train_rows["language"].to_pylist())),
        "train_files": train_rows.num_rows,
        "train_lines": lines,
        "train_counts": dict(Counter(train_rows["language"].to_pylist()).most_common()),
        "test_packages": sorted(test_pkgs),
        "model_bytes": out.stat().st_size,
        "model_sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
        "train_seconds": round(time.time() - t0, 1),
    }
    out.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", action="append", help="Parquet file or folder (repeatable)")
    ap.add_argument("--out", default=str(MODEL_PATH), help="output .ftz (a .json with metadata goes beside it)")
    args = ap.parse_args(argv)
    meta = train(args.input or DEFAULT_INPUTS, Path(args.out), TrainConfig())
    print(json.dumps({k: meta[k] for k in ("labels", "train_files", "model_bytes", "train_seconds")}, indent=1))


if __name__ == "__main__":
    main()
