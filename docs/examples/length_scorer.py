"""Example: a quality scorer in one file. Config: `plugins: [length_scorer.py]`, then
`- scorer: length_prior` in the `quality` gate's `scorers`."""

import numpy as np
from pydantic import Field

from codesieve.core.batch import DocBatch
from codesieve.core.params import Params
from codesieve.core.registry import register_scorer
from codesieve.scorers.base import Scorer


@register_scorer("length_prior")
class LengthPrior(Scorer):
    """A prior on size: 1 around `best_lines` lines, falling off on a log scale (0..1)."""

    class Params(Params):
        best_lines: float = Field(200.0, gt=0, description="the most favoured number of lines")

    def load(self) -> None:
        """Heavy models load here, once per worker; this one has nothing to load."""

    def score(self, batch: DocBatch) -> np.ndarray:
        distance = np.abs(np.log10(np.maximum(batch.num_lines, 1) / self.params.best_lines))
        return np.clip(1.0 - distance / 3.0, 0.0, 1.0)
