"""configs/opencoder.yaml and configs/starcoder2.yaml reproduce the published reference code.

tests/fixtures/fidelity/reference.parquet holds real dev-corpus files with what the
reference code itself said about them (OpenCoder's ComputeCodeQualitySignal + CodeFilter,
go-enry's IsGenerated), recorded by tests/fixtures/fidelity/record.py. Every rule must
agree with it on >= 98% of the files, in value and in keep/drop decision.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("fidelity", ROOT / "benchmarks" / "fidelity.py")
fidelity = importlib.util.module_from_spec(_spec)
sys.modules["fidelity"] = fidelity  # dataclasses look their module up
_spec.loader.exec_module(fidelity)  # type: ignore[union-attr]

TABLE = pq.read_table(fidelity.FIXTURE)
OPENCODER = fidelity.opencoder_agreement(TABLE)
STARCODER2 = fidelity.starcoder2_agreement(TABLE)


def test_fixture_is_real_and_discriminating() -> None:
    assert TABLE.num_rows >= 400
    assert len(set(TABLE["oc_program"].to_pylist())) >= 20
    # the reference fires often enough that a wrong definition would show
    assert sum(a.fired for a in OPENCODER) >= 300
    assert STARCODER2[0].fired >= 40
    # every OpenCoder signal with a threshold in its config has a codesieve rule
    fired = {k for h in TABLE["oc_hits"].to_pylist() for k in json.loads(h)}
    assert fired <= set(fidelity.OC_RULES), fired - set(fidelity.OC_RULES)


@pytest.mark.parametrize("agreement", OPENCODER + STARCODER2, ids=lambda a: a.rule)
def test_rule_agrees_with_reference(agreement) -> None:
    assert agreement.decisions >= 0.98, agreement
    if agreement.values is not None:
        assert agreement.values >= 0.98, agreement


def test_agreement_detects_a_wrong_definition() -> None:
    """The old whitespace-word `mean_word_length` would not pass: the check can fail."""
    batch = fidelity.fixture_batch(TABLE)
    from codesieve.core.registry import RULES

    old = RULES["mean_word_length"](RULES["mean_word_length"].Params()).measure(batch)
    ref = [json.loads(s).get("qsc_code_mean_word_length") for s in TABLE["oc_signals"].to_pylist()]
    same = [fidelity._same(r, float(v)) for r, v in zip(ref, old) if r is not None]
    assert np.mean(same) < 0.5
