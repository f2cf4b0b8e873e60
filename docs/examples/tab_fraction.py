"""Example: a heuristic rule in one file. Config: `plugins: [tab_fraction.py]`, then
`- rule: tab_fraction` with `max: 0.3` in the `rules` gate."""

import numpy as np
import pyarrow.compute as pc

from codesieve.core.base import Rule
from codesieve.core.batch import DocBatch
from codesieve.core.registry import register_rule


@register_rule("tab_fraction")
class TabFraction(Rule):
    """Share of characters that are tabs (0..1)."""

    def measure(self, batch: DocBatch) -> np.ndarray:
        """Vectorized over the batch: one value per document."""
        tabs = pc.count_substring(batch.text, "\t").to_numpy(zero_copy_only=False)
        return tabs / np.maximum(batch.char_len, 1)

    def reference(self, text: str, path: str, lang: str | None) -> float:
        """The same definition for one document, in plain Python (tests compare the two)."""
        return text.count("\t") / max(len(text), 1)
