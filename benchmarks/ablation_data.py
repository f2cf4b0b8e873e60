"""Data of the stage ablation: stage pools from one pipeline output, equal-size samples,
and the evaluation sets (HumanEval; code of held-out packages).

A *stage pool* is the set of rows a training run may draw from after a cumulative stage:
`raw` (every input row), `language` (passed the language gate; quarantined rows sit in
tier 0 and never pass), `rules`, `dedup`, `decontam`, `quality` (passed every gate),
each quality band (`tier_name == passed:<band>`), and `random` (a random subset of the raw
rows as large, in bytes, as the `quality` pool: a filter that keeps as much but chooses
blindly).
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from codesieve.core.errors import UserError
from codesieve.filters import decontam
from codesieve.scorers.data import package_of, parquet_files, reserved_packages

#: cumulative stages, in gate order (each = "passed this gate and every gate before")
GATES = ["language", "rules", "dedup", "decontam", "quality"]
#: languages (the corpus `language` column) whose files make the held-out code eval set
EVAL_LANGUAGES = ["Python", "Go", "C", "C++", "JavaScript", "TypeScript", "Java", "Rust", "Shell",
                  "PHP", "Ruby", "C#", "Perl", "Lua"]
SEPARATOR = b"\n"


def ensure_pipeline_output(out: str, config: str, inputs: list[str]) -> dict:
    """The manifest of `codesieve run --config CONFIG` over `inputs` in `out`, running it once."""
    manifest = Path(out) / ".codesieve" / "manifest.json"
    if not manifest.exists():
        exe = Path(sys.executable).with_name("codesieve")
        cmd = [str(exe), "run", "--config", config, "--input", *inputs, "--output", out,
               "--executor", "local", "--quiet"]
        print("running:", " ".join(cmd), file=sys.stderr)
        if subprocess.run(cmd).returncode != 0:
            raise UserError(f"--pipeline-output {out}: `codesieve run` failed (its error is above)")
    return json.loads(manifest.read_text())


def read_output(out: str) -> pa.Table:
    """`content` (as UTF-8 bytes), `tier`, `tier_name` and `nbytes` of every output row."""
    files = sorted(glob.glob(os.path.join(out, "tier=*", "*.parquet")))
    if not files:
        raise UserError(f"--pipeline-output {out}: no tier=K/*.parquet files")
    parts = [pq.read_table(f, columns=["content", "tier", "tier_name"]) for f in files]
    t = pa.concat_tables(parts)
    content = pc.fill_null(t["content"], "")
    return pa.table({
        "content": content.cast(pa.binary()),
        "tier": t["tier"].cast(pa.int32()),
        "tier_name": pc.fill_null(t["tier_name"], ""),
        "nbytes": pc.binary_length(content).cast(pa.int64()),
    })


def stage_masks(table: pa.Table, tier_names: dict[str, str], random_seed: int = 0) -> dict[str, np.ndarray]:
    """Row mask per stage pool, in report order (see the module docstring)."""
    tier = table["tier"].to_numpy()
    names = np.asarray(table["tier_name"].to_pylist(), dtype=object)
    fail_tier = {v.split(":", 1)[1]: int(k) for k, v in tier_names.items() if v.startswith("failed:")}
    masks: dict[str, np.ndarray] = {"raw": np.ones(len(tier), dtype=bool)}
    for gate in GATES:
        if gate in fail_tier:
            masks[gate] = tier > fail_tier[gate]
    bands = [v for _, v in sorted(tier_names.items(), key=lambda kv: int(kv[0])) if v.startswith("passed:")]
    for band in bands:
        masks[f"band:{band.split(':', 1)[1]}"] = names == band
    last = masks[[g for g in GATES if g in masks][-1]]
    masks["random"] = random_subset(table["nbytes"].to_numpy(), int(table["nbytes"].to_numpy()[last].sum()),
                                    np.random.default_rng([random_seed, 7919]))
    return masks


def random_subset(nbytes: np.ndarray, target: int, rng: np.random.Generator) -> np.ndarray:
    """A mask of randomly chosen rows whose bytes just reach `target`."""
    order = rng.permutation(len(nbytes))
    take = order[: int(np.searchsorted(np.cumsum(nbytes[order]), target)) + 1]
    mask = np.zeros(len(nbytes), dtype=bool)
    mask[take] = True
    return mask


def equal_sample(content: pa.Array, mask: np.ndarray, budget: int, rng: np.random.Generator) -> bytes:
    """Exactly `budget` bytes: the pool's rows in random order, joined by a newline, cut.

    Raises ValueError when the pool holds fewer than `budget` bytes."""
    rows = np.flatnonzero(mask)
    order = rng.permutation(rows)
    lengths = pc.binary_length(content.take(pa.array(order))).to_numpy() + len(SEPARATOR)
    n = int(np.searchsorted(np.cumsum(lengths), budget)) + 1
    if n > len(order) or lengths[:n].sum() < budget:
        raise ValueError(f"pool has {int(lengths.sum())} bytes, fewer than the budget {budget}")
    docs = content.take(pa.array(order[:n])).to_pylist()
    return SEPARATOR.join(docs)[:budget]


def humaneval_text() -> bytes:
    """Prompt + canonical solution of every HumanEval task (the decontam gate's loader)."""
    return SEPARATOR.join(t.encode() for t in decontam.BUILTIN["humaneval"]())


def heldout_code(corpus: str, exclude_inputs: list[str], max_bytes: int, per_package: int,
                 languages: list[str] = EVAL_LANGUAGES) -> tuple[bytes, dict]:
    """Code files of the corpus' `test` split from packages that are neither in the pipeline
    input (what the quality scorers trained on) nor reserved; at most `per_package` bytes
    per package and `max_bytes` in all, taken round robin over packages (files by id, so
    the choice is deterministic)."""
    cols = ["id", "content", "repo_name", "language", "split"]
    folder = os.path.join(corpus, "test")  # regcorpus layout: one folder per split
    t = pa.concat_tables([pq.read_table(f, columns=cols) for f in parquet_files([folder if os.path.isdir(folder) else corpus])])
    t = t.filter(pc.and_(pc.equal(t["split"], "test"), pc.is_in(t["language"], pa.array(languages))))
    seen = set(pc.unique(package_of(_repo_names(exclude_inputs))).to_pylist()) | reserved_packages()
    pkg = package_of(t["repo_name"])
    t = t.append_column("pkg", pkg).filter(pc.invert(pc.is_in(pkg, pa.array(sorted(seen), pa.string()))))
    t = t.sort_by([("pkg", "ascending"), ("id", "ascending")])
    raw = pc.cast(pc.fill_null(t["content"], ""), pa.binary())
    n = pc.binary_length(raw).to_numpy().astype(np.int64) + len(SEPARATOR)
    pkgs = np.asarray(t["pkg"].to_pylist(), dtype=object)
    within = _running_total_per_group(pkgs, n)
    keep = within <= per_package
    # round robin over packages: the first files of every package before later ones
    order = np.argsort(np.where(keep, within, np.iinfo(np.int64).max), kind="stable")
    fits = keep[order] & (np.cumsum(np.where(keep[order], n[order], 0)) <= max_bytes)
    keep = np.zeros(len(n), dtype=bool)
    keep[order[fits]] = True
    docs = raw.filter(pa.array(keep)).to_pylist()
    info = {"files": int(keep.sum()), "packages": sorted(set(pkgs[keep])), "bytes": int(n[keep].sum())}
    return SEPARATOR.join(docs), info


def _repo_names(inputs: list[str]) -> pa.Array:
    files = parquet_files(inputs)
    return pa.concat_arrays([pq.read_table(f, columns=["repo_name"])["repo_name"].combine_chunks() for f in files])


def _running_total_per_group(groups: np.ndarray, nbytes: np.ndarray) -> np.ndarray:
    """Bytes of each row plus the rows before it in its (contiguous) group."""
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    total = np.cumsum(nbytes)
    before = np.repeat(np.r_[0, total[starts[1:] - 1]], np.diff(np.r_[starts, len(groups)]))
    return total - before
