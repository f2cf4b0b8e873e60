"""Controlled damage to a source file: synthetic negatives for training (on the train / dev
packages) and the corruption test (on held-out test packages only; `tests/test_quality.py`).

Kinds (`KINDS`):
- `minified`: non-blank lines stripped and joined with spaces;
- `comments_stripped`: full comment lines (`#`, `//`, `/*`, `*`) removed;
- `lines_shuffled`: all lines in random order;
- `syntax_errors`: `)`, `]`, `}`, `:` and `;` dropped on a `strength` share of the lines;
- `lines_deleted`: a `strength` share of the non-blank lines removed;
- `blocks_reordered`: the file cut into 4-8 blocks put in random order.
"""

from __future__ import annotations

import re

import numpy as np

KINDS = ("minified", "comments_stripped", "lines_shuffled", "syntax_errors", "lines_deleted", "blocks_reordered")
_COMMENT = re.compile(r"\s*(#|//|/\*|\*)")
_CLOSERS = re.compile(r"[)\]}:;]")


def damage(text: str, kind: str, rng: np.random.Generator, strength: float = 0.33) -> str:
    """`text` with one damage of `kind` (`strength`: share of lines hit, where it applies)."""
    lines = text.split("\n")
    if kind == "minified":
        return " ".join(ln.strip() for ln in lines if ln.strip())
    if kind == "comments_stripped":
        return "\n".join(ln for ln in lines if not _COMMENT.match(ln))
    if kind == "lines_shuffled":
        return "\n".join(lines[i] for i in rng.permutation(len(lines)))
    if kind == "syntax_errors":
        return "\n".join(_CLOSERS.sub("", ln) if rng.random() < strength else ln for ln in lines)
    if kind == "lines_deleted":
        return "\n".join(ln for ln in lines if not ln.strip() or rng.random() >= strength)
    if kind == "blocks_reordered":
        if len(lines) < 2:
            return text
        k = min(int(rng.integers(3, 8)), len(lines) - 1)
        cuts = np.sort(rng.choice(np.arange(1, len(lines)), size=k, replace=False))
        blocks = np.split(np.arange(len(lines)), cuts)
        return "\n".join(lines[j] for b in rng.permutation(len(blocks)) for j in blocks[b])
    raise ValueError(f"unknown damage kind {kind!r} (known: {', '.join(KINDS)})")
