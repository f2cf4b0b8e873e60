"""Decontamination: documents carrying benchmark problems fail; ordinary code passes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from conftest import SAMPLES

from codesieve.core.base import UnitContext
from codesieve.core.batch import DocBatch
from codesieve.core.errors import ConfigError
from codesieve.filters.decontam import DecontamGate, _humaneval
from codesieve.pipeline.config import build_config
from codesieve.pipeline.io import iter_batches


def gate(**params: object) -> DecontamGate:
    return DecontamGate(DecontamGate.Params(**params))


def apply(g: DecontamGate, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    res = g.apply(DocBatch(pa.table({"content": pa.array(texts, pa.large_string())})), UnitContext(0, "/tmp"))
    return res.fails[:, 0], res.columns["decontam_hits"].to_numpy()


def test_planted_humaneval_problems_fail() -> None:
    problems = _humaneval()
    # a HumanEval problem pasted into an otherwise ordinary module, numbers edited
    texts = [f"import os\n\n{p.replace('1', '7')}\n\nif __name__ == '__main__':\n    main()\n" for p in problems]
    fails, hits = apply(gate(), texts)
    assert fails.mean() >= 0.95
    assert np.median(hits) >= 20


def test_sample_code_passes() -> None:
    g = gate()
    total = flagged = 0
    for _, batch in iter_batches(str(SAMPLES)):
        res = g.apply(batch, UnitContext(0, "/tmp"))
        total += batch.num_rows
        flagged += int(res.fails.sum())
    assert total > 1000 and flagged <= total * 0.001


def test_extra_benchmark_file(tmp_path: Path) -> None:
    task = ("Write a function that returns the longest palindromic substring of the input "
            "string using dynamic programming over all substring lengths")
    path = tmp_path / "bench.jsonl"
    path.write_text(json.dumps({"question": task}) + "\n")
    fails, _ = apply(gate(benchmarks=[], files=[str(path)]), [f"# {task}\ndef f(s):\n    pass\n", "x = 1\n"])
    assert fails.tolist() == [True, False]


def test_unknown_benchmark_is_config_error() -> None:
    with pytest.raises(ConfigError, match="mbpp.*allowed: humaneval"):
        build_config({"gates": [{"gate": "decontam", "benchmarks": ["mbpp"]}]})


def test_hits_are_per_document() -> None:
    p = _humaneval()[10]
    fails, hits = apply(gate(), ["nothing here", p, "nothing here either", p + p])
    assert fails.tolist() == [False, True, False, True]
    assert hits[3] == 2 * hits[1] > 0
    assert pc.sum(pa.array(hits)).as_py() == hits[1] + hits[3]
