"""Base class for quality scorers (small models) used by the `quality` gate."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from codesieve.core.base import Params
from codesieve.core.batch import DocBatch
from codesieve.core.errors import UserError


class Scorer:
    """A model that gives each document a quality score in [0, 1] (higher is better).

    Heavy models load lazily in `load()`; a missing optional dependency must raise
    `codesieve.core.errors.UserError` naming the extra to install.
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


MODELS_DIR = Path(__file__).with_name("models")


def model_path(name: str) -> Path:
    """A model file: absolute or relative to the working directory if it exists there,
    else one shipped in `scorers/models/`. Raises UserError when neither exists."""
    p = Path(name)
    if p.exists():
        return p.resolve()
    shipped = MODELS_DIR / name
    if shipped.exists():
        return shipped
    raise UserError(f"model {name!r}: no such file (nor in {MODELS_DIR})")


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -50, 50)))


def logit(p: np.ndarray, eps: float = 1e-4) -> np.ndarray:
    p = np.clip(p, eps, 1 - eps)
    return np.log(p / (1 - p))
