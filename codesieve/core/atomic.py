"""Atomic writes: a temporary name in the target folder, fsync, then rename into place.

Inside `synced_later()` the fsync and rename of each file go to a background thread, so the
writer computes on while the disk writes (a pass task's fsyncs waited ~0.1 s per unit, and
with two workers on one disk each waited about as long as one worker alone); leaving the
block returns only once every file written in it is durable and in place.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

import pyarrow as pa
import pyarrow.parquet as pq

#: the codec of work files (pass state, gate keys, memo stores: written once, read once by
#: this run): LZ4 writes + reads the dev corpus's text in 0.85 CPU-s per 144 MB against
#: 1.17 for zstd level 1, at 1.6x the size (46.6 vs 28.8 MB)
WORK_CODEC = "lz4"
#: the codec of a global gate's keys (signatures, band and shingle hashes: random bits that
#: LZ4 cannot shrink; writing the dev corpus's keys uncompressed costs 0.22 CPU-s, not 0.30)
KEYS_CODEC = "none"


#: keyword arguments of the Parquet reads inside a task (`ParquetFile.read*`; `TABLE_READ`
#: for `pq.read_table`): read and decode on the calling thread. Arrow's pool threads allocate
#: from their own mimalloc heaps, whose freed pages `executors.release_memory` (it collects the
#: calling thread's heap) cannot hand back: with them, a worker's pass-1 tasks on 4x the dev
#: corpus started ~45 MB higher than at 1x (pages the dedup step's reads left there).
TASK_READ: dict[str, bool] = {"use_threads": False}
TABLE_READ: dict[str, bool] = {"use_threads": False, "pre_buffer": False}


def parquet_options(
    table: pa.Table, compression_level: int = 3, row_group_rows: int = 10_000, codec: str = "zstd"
) -> dict:
    """`pq.write_table` options of every codesieve file (the same bytes wherever it is written);
    `compression_level` applies to zstd only."""
    # dictionary-encoding document text or unique ids only costs time (2x on write and read)
    dictionary = [f.name for f in table.schema if f.name != "id" and f.type not in (pa.large_string(), pa.large_binary())]
    level = {"compression_level": compression_level} if codec == "zstd" else {}
    return dict(compression=codec, **level, row_group_size=row_group_rows,
                write_statistics=True, use_dictionary=dictionary)


def write_parquet_atomic(
    table: pa.Table, path: str, compression_level: int = 3, row_group_rows: int = 10_000, codec: str = "zstd"
) -> None:
    """Write to a temporary name in the target folder, fsync, then rename into place."""
    with _replacing(path) as tmp:
        pq.write_table(table, tmp, **parquet_options(table, compression_level, row_group_rows, codec))


def write_ipc_atomic(table: pa.Table, path: str) -> None:
    """An uncompressed Arrow IPC file, atomically (temporary name, fsync, rename): the pass
    state, written once and read once by the next pass of the same run. Writing + reading it
    costs ~0.5 CPU-ms per MB of text against ~4 for LZ4 Parquet (no encoding, no compression;
    the next pass maps it instead of decoding it); the work folder holds the text uncompressed."""
    with _replacing(path) as tmp, pa.OSFile(tmp, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def read_ipc(path: str) -> pa.Table:
    """A file of `write_ipc_atomic`, memory-mapped (no copy of the text)."""
    with pa.memory_map(path) as source:
        return pa.ipc.open_file(source).read_all()


def write_json_atomic(obj: object, path: str) -> None:
    with _replacing(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=1, sort_keys=True, default=str)


class _Later(threading.local):
    pool: ThreadPoolExecutor | None = None
    pending: list[Future] | None = None


_LATER = _Later()


@contextmanager
def synced_later() -> Iterator[None]:
    """Atomic writes in this block (this thread) fsync and rename on a background thread;
    the block ends when all of them are durable and in place, re-raising the first failure
    (an error in the block itself wins)."""
    if _LATER.pool is not None:  # nested: the outer block waits
        yield
        return
    _LATER.pool, _LATER.pending = ThreadPoolExecutor(1, thread_name_prefix="codesieve-fsync"), []
    failed = True
    try:
        yield
        failed = False
    finally:
        pool, pending = _LATER.pool, _LATER.pending
        _LATER.pool = _LATER.pending = None
        pool.shutdown(wait=True)
        if not failed:
            for fut in pending:
                fut.result()


def _sync_replace(tmp: str, path: str) -> None:
    try:
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


@contextmanager
def _replacing(path: str) -> Iterator[str]:
    """A temporary name in `path`'s folder to write; when the block ends without an error the
    file is fsynced and renamed to `path` (on `synced_later`'s thread inside that block); the
    temporary file never outlives the block (or its pending sync)."""
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".tmp-{uuid.uuid4().hex}-{os.path.basename(path)}")
    try:
        yield tmp
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    if _LATER.pool is not None:
        _LATER.pending.append(_LATER.pool.submit(_sync_replace, tmp, path))
    else:
        _sync_replace(tmp, path)
