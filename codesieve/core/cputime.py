"""CPU seconds per pipeline step, summed per process and handed to the manifest.

`timed(name)` adds the process CPU time (all threads: lingua's and Arrow's pools count) spent
inside the block to a counter; `take()` returns the counters and resets them. A work unit's
task calls `take()` at its end, so the manifest's `cpu` figures are per unit, summed. Names
nest by convention (`language.nl` is part of `gate:language`); blocks may nest.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

_TOTALS: dict[str, float] = {}


@contextmanager
def timed(name: str) -> Iterator[None]:
    """Add the CPU seconds spent in the block to counter `name`."""
    c0 = time.process_time()
    try:
        yield
    finally:
        _TOTALS[name] = _TOTALS.get(name, 0.0) + time.process_time() - c0


def take() -> dict[str, float]:
    """The counters since the last call (CPU seconds by name), then reset."""
    out = dict(_TOTALS)
    _TOTALS.clear()
    return out


def merge(parts: list[dict[str, float]]) -> dict[str, float]:
    """Sum counter dicts (e.g. over work units); sorted by name."""
    out: dict[str, float] = {}
    for part in parts:
        for k, v in part.items():
            out[k] = out.get(k, 0.0) + v
    return dict(sorted(out.items()))
