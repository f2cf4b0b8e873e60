"""Per-document parse watchdog: one document that wedges a parser cannot stall a run.

A tree-sitter grammar can loop forever inside its external scanner (C code that holds the
GIL: no Python thread, signal handler, progress callback or parser timeout gets to run;
`tests/test_treesitter_hang.py`). So the watchdog lives outside Python: `faulthandler`'s
C thread, armed with `input.parse_timeout_s` (600 s by default; normal parses take
milliseconds). Inside a pass task (`watch`), every parse is bracketed by `parsing(data)`,
which writes the document's fingerprint (unit, UTF-8 length, xxh64 of the parsed bytes)
into a small memory-mapped marker file, and re-arms the timer when half the budget has
passed since it was last armed; `batch()` disarms it when a loop of parses ends. So a parse
that runs longer than the budget always ends the process, and none shorter than half of it
does. The process ends writing a traceback into `<work>/parse_timeouts/dump-<host>-<pid>`,
the evidence `collect` needs:

- on Ray the worker dies and Ray reruns the task (`MAX_RETRIES`); the rerun turns the
  marker of the dead process into a record in `unit-N.jsonl`, quarantines the rows whose
  text starts with those bytes in tier 0 (reason `parse_timeout`) before any gate sees
  them, and the run finishes;
- with `--executor local` the run itself ends (exit status 1); rerunning the same command
  resumes and quarantines the document the same way.
"""

from __future__ import annotations

import contextlib
import faulthandler
import functools
import json
import mmap
import os
import socket
import struct
import sys
import time
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

import xxhash

REASON = "parse_timeout"
P = ParamSpec("P")
R = TypeVar("R")
_MARK = struct.Struct("<BxxxiqQ")  # parsing?, unit, bytes, xxh64


class _Watch:
    """The process's marker, evidence file and timer state."""

    def __init__(self) -> None:
        self.budget = 0.0  # seconds; 0 = not watching
        self.unit = -1
        self.folder = ""
        self.armed_at = -1.0  # time.monotonic() when the timer was last armed; < 0: disarmed
        self.mark: mmap.mmap | None = None
        self.dump = None  # the evidence file, kept open for faulthandler

    def open(self, folder: str) -> None:
        if self.folder == folder and self.mark is not None:
            return
        os.makedirs(folder, exist_ok=True)
        name = f"{socket.gethostname()}-{os.getpid()}"
        with open(os.path.join(folder, f"inflight-{name}"), "wb") as fh:
            fh.write(bytes(_MARK.size))
        fd = os.open(os.path.join(folder, f"inflight-{name}"), os.O_RDWR)
        try:
            self.mark = mmap.mmap(fd, _MARK.size)
        finally:
            os.close(fd)
        self.dump = open(os.path.join(folder, f"dump-{name}"), "w")  # noqa: SIM115 (faulthandler writes to it later)
        self.folder = folder

    def disarm(self) -> None:
        if self.armed_at >= 0:
            faulthandler.cancel_dump_traceback_later()
            self.armed_at = -1.0


_WATCH = _Watch()


@contextlib.contextmanager
def watch(folder: str, unit: int, budget: float) -> Iterator[None]:
    """Time every parse of this block (one pass of `unit`) against `budget` seconds."""
    _WATCH.open(folder)
    _WATCH.unit, _WATCH.budget = unit, float(budget)
    try:
        yield
    finally:
        _WATCH.disarm()
        _WATCH.budget = 0.0


@contextlib.contextmanager
def batch() -> Iterator[None]:
    """A loop of parses: the timer is disarmed when it ends."""
    try:
        yield
    finally:
        _WATCH.disarm()


def parse_loop(fn: Callable[P, R]) -> Callable[P, R]:
    """`fn` (a loop of parses) within `batch()`."""

    @functools.wraps(fn)
    def loop(*args: P.args, **kwargs: P.kwargs) -> R:
        with batch():
            return fn(*args, **kwargs)

    return loop


@contextlib.contextmanager
def parsing(data: bytes) -> Iterator[None]:
    """Bracket one parse of `data` (the bytes given to the parser)."""
    w = _WATCH
    if not w.budget or w.mark is None:
        yield
        return
    _MARK.pack_into(w.mark, 0, 1, w.unit, len(data), xxhash.xxh64_intdigest(data))
    now = time.monotonic()
    if w.armed_at < 0 or now - w.armed_at > w.budget / 2:
        faulthandler.dump_traceback_later(w.budget, exit=True, file=w.dump)
        w.armed_at = now
    try:
        yield
    finally:
        w.mark[0] = 0


def collect(folder: str) -> None:
    """Turn the marker of every process the timer ended into a record of its unit."""
    if not os.path.isdir(folder):
        return
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if not name.startswith("dump-") or ".claimed" in name or os.path.getsize(path) == 0:
            continue
        claimed = f"{path}.claimed-{os.getpid()}"
        try:
            os.rename(path, claimed)  # one collector per dead process
        except OSError:
            continue
        mark = os.path.join(folder, "inflight-" + name[len("dump-"):])
        with open(mark, "rb") as fh:
            flag, unit, n, digest = _MARK.unpack(fh.read(_MARK.size))
        if flag:
            record(os.path.join(folder, f"unit-{unit:05d}.jsonl"), n, digest)
            print(f"codesieve: unit {unit}: a document ({n:,} bytes parsed) wedged the parser past "
                  f"input.parse_timeout_s in an earlier attempt; it is quarantined in tier 0 ({REASON!r})",
                  file=sys.stderr, flush=True)
        os.remove(mark)


def record(path: str, n: int, digest: int) -> None:
    """Append a fingerprint to the quarantine file `path`."""
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"bytes": n, "xxh64": digest}) + "\n")


def quarantined(folder: str, unit: int, texts: list[str | None]) -> list[int]:
    """Positions of the texts that begin with a document recorded for `unit` (sorted)."""
    path = os.path.join(folder, f"unit-{unit:05d}.jsonl")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as fh:
        prints = {(r["bytes"], r["xxh64"]) for r in (json.loads(line) for line in fh if line.strip())}
    sizes = {n for n, _ in prints}
    out = []
    for i, text in enumerate(texts):
        if text is None:
            continue
        data = text.encode("utf-8", "surrogatepass")
        if any(len(data) >= n and (n, xxhash.xxh64_intdigest(data[:n])) in prints for n in sizes):
            out.append(i)
    return out
