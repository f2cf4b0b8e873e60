"""A terminal progress bar for passes over work units (units and rows done, rows/s, ETA)."""

from __future__ import annotations

import sys
import time
from typing import Any


class Progress:
    def __init__(self, label: str, units: int, rows: int, quiet: bool = False, done: int = 0):
        self.label = label
        self.quiet = quiet or not units
        self.rows = 0
        self.t0 = time.perf_counter()
        self.bar: Any = None
        if not self.quiet:
            from tqdm import tqdm

            self.bar = tqdm(
                total=units, initial=done, desc=label, unit="unit", file=sys.stderr, dynamic_ncols=True,
                bar_format="{desc}: {n_fmt}/{total_fmt} units |{bar:20}| {postfix} [{elapsed}<{remaining}]",
            )
            self.bar.set_postfix_str(f"0 rows (of ~{rows:,})" if rows else "0 rows")

    def update(self, rows: int) -> None:
        self.rows += rows
        if self.bar is not None:
            rate = self.rows / max(time.perf_counter() - self.t0, 1e-9)
            self.bar.set_postfix_str(f"{self.rows:,} rows, {rate:,.0f} rows/s", refresh=False)
            self.bar.update(1)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()
