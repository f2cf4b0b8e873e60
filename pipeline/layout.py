"""Where a run keeps its files.

The output folder is one Parquet dataset: `OUT/tier=K/part-UUUUU.parquet` and nothing else
that a Parquet reader would pick up. Everything else lives under the hidden `OUT/.codesieve/`
(the Hive/Spark convention for side files): the manifest, the lock, and the work files that
make resuming possible (Parquet bytes under a `.pq` suffix, so `OUT/**/*.parquet` globs never
match them; the pass state is an uncompressed Arrow IPC file, `.arrow`).
"""

from __future__ import annotations

import os

META_DIR = ".codesieve"


def meta_dir(output: str) -> str:
    return os.path.join(output, META_DIR)


def manifest_path(output: str) -> str:
    """`OUT/.codesieve/manifest.json`: written last, atomically."""
    return os.path.join(meta_dir(output), "manifest.json")


def work_dir(output: str) -> str:
    return os.path.join(meta_dir(output), "work")


def lock_path(output: str) -> str:
    return os.path.join(meta_dir(output), "lock")


def pass_state(work: str, p: int, unit: int) -> str:
    """The rows of `unit` with their state after pass `p` (read by pass p + 1; Arrow IPC)."""
    return os.path.join(work, f"pass{p}", f"unit-{unit:05d}.arrow")


def pass_done(work: str, p: int, unit: int) -> str:
    """Completion record of pass `p` for `unit`: {"key", "stats"}."""
    return os.path.join(work, "done", f"pass{p}", f"unit-{unit:05d}.json")


def parse_timeouts(work: str) -> str:
    """Documents that wedged a parser, per unit (`codesieve.core.parsewatch`)."""
    return os.path.join(work, "parse_timeouts")


def gate_dir(work: str, gate: str) -> str:
    """A global gate's own folder: its keys, what `resolve` writes, its completion record."""
    return os.path.join(work, "global", gate)


def gate_keys(work: str, gate: str, unit: int) -> str:
    return os.path.join(gate_dir(work, gate), "keys", f"unit-{unit:05d}.pq")


def gate_done(work: str, gate: str) -> str:
    return os.path.join(gate_dir(work, gate), "done.json")
