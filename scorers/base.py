"""Base class for quality scorers (small models) used by the `quality` gate."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from codesieve.core.base import Params
from codesieve.core.batch import DocBatch


class Scorer:
    """A model that gives each document a quality score in [0, 1] (higher is better).

    Heavy models load lazily in `load()`; a missing optional dependency must raise
    `pipeline.errors.UserError` naming the extra to install.
    """

    name: ClassVar[str]
    Params: ClassVar[type[Params]] = Params

    def __init__(self, params: Params):
        self.params = params

    @property
    def column(self) -> str:
        return f"q_{self.name}"

    def load(self) -> None:
        """Load model weights (called once per worker before the first batch)."""

    def score(self, batch: DocBatch) -> np.ndarray:
        raise NotImplementedError

    def fingerprint(self) -> dict[str, Any]:
        return {}
