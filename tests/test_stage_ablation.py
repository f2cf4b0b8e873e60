"""The stage ablation benchmark: equal-size samples per stage, and a byte n-gram model that
prefers real code to shuffled bytes (data_samples/)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from ablation_data import equal_sample, heldout_code, random_subset, stage_masks  # noqa: E402
from ngram import ByteNgram  # noqa: E402

TIER_NAMES = {"0": "failed:language", "1": "failed:rules", "2": "failed:dedup", "3": "failed:decontam",
              "4": "failed:quality", "5": "passed:low", "6": "passed:mid", "7": "passed:high"}


@pytest.fixture(scope="module")
def samples() -> pa.Table:
    t = pq.read_table(ROOT / "data_samples" / "code-00000.parquet", columns=["content", "path"])
    content = pc.fill_null(t["content"], "").cast(pa.binary())
    n = len(t)
    tier = (np.arange(n) * 7919) % 8  # every tier populated, rows spread over the file
    return pa.table({
        "content": content,
        "tier": pa.array(tier, pa.int32()),
        "tier_name": pa.array([TIER_NAMES[str(k)] for k in tier]),
        "nbytes": pc.binary_length(content).cast(pa.int64()),
        "path": t["path"],
    })


def test_samples_have_equal_size_per_stage(samples: pa.Table) -> None:
    masks = stage_masks(samples, TIER_NAMES)
    assert list(masks) == ["raw", "language", "rules", "dedup", "decontam", "quality",
                           "band:low", "band:mid", "band:high", "random"]
    tier = samples["tier"].to_numpy()
    assert (masks["rules"] == (tier >= 2)).all() and (masks["quality"] == (tier >= 5)).all()
    assert (masks["band:mid"] == (tier == 6)).all()
    nbytes = samples["nbytes"].to_numpy()
    assert nbytes[masks["random"]].sum() >= nbytes[masks["quality"]].sum()
    budget = int(min(nbytes[m].sum() for m in masks.values()) * 0.8)
    content = samples["content"].combine_chunks()
    drawn = {s: equal_sample(content, m, budget, np.random.default_rng([0, i])) for i, (s, m) in enumerate(masks.items())}
    assert {len(v) for v in drawn.values()} == {budget}
    assert len(set(drawn.values())) == len(drawn)  # different pools give different samples
    again = equal_sample(content, masks["rules"], budget, np.random.default_rng([0, 2]))
    assert again == drawn["rules"]  # same seed, same draw
    with pytest.raises(ValueError):
        equal_sample(content, masks["band:high"], int(nbytes.sum()) + 1, np.random.default_rng(0))


def test_random_subset_reaches_target() -> None:
    nbytes = np.arange(1, 101)
    m = random_subset(nbytes, 1000, np.random.default_rng(1))
    assert 1000 <= nbytes[m].sum() < 1000 + 100


def test_ngram_prefers_code_to_shuffled_bytes(samples: pa.Table) -> None:
    js = pc.ends_with(samples["path"], ".js").to_numpy(zero_copy_only=False)
    docs = samples["content"].filter(pa.array(js)).to_pylist()
    train, test = b"\n".join(docs[::2]), b"\n".join(docs[1::2])[:200_000]
    assert len(train) > 100_000
    model = ByteNgram(5).fit(train)
    shuffled = np.random.default_rng(0).permutation(np.frombuffer(test, np.uint8))
    real, noise = model.bits_per_byte(test), model.bits_per_byte(shuffled)
    assert real < 3.5 < noise
    assert ByteNgram(1).fit(train).bits_per_byte(test) > real  # context helps


def test_ngram_probabilities_sum_to_one() -> None:
    model = ByteNgram(3).fit(b"def f(x):\n    return x + 1\n" * 5)
    for ctx in [b"de", b"zz", b"x"]:
        total = sum(2 ** model.log2_probs(ctx + bytes([w]))[-1] for w in range(256))
        assert total == pytest.approx(1.0, abs=1e-9)


def test_heldout_code_leaves_out_the_pipeline_input(tmp_path: Path) -> None:
    """Held-out eval text never comes from a package of the pipeline input (what the quality
    scorers trained on), and respects the per-package and total byte caps."""
    both = pa.concat_tables([pq.read_table(ROOT / "data_samples" / f, columns=["id", "content", "repo_name", "language"])
                             for f in ("code-00000.parquet", "code-00001.parquet")])
    both = both.append_column("split", pa.array(["test"] * len(both)))
    pq.write_table(both, tmp_path / "corpus.parquet")
    text, info = heldout_code(str(tmp_path / "corpus.parquet"), [str(ROOT / "data_samples" / "code-00000.parquet")],
                              max_bytes=150_000, per_package=60_000)
    assert info["packages"] and not {"npm/validator", "npm/qs"} & set(info["packages"])
    assert set(info["packages"]) <= {"npm/zustand", "pypi/more-itertools", "pypi/websockets"}
    assert 60_000 < len(text) <= 150_000
