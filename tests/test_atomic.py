"""Atomic writes with the fsync + rename handed to a background thread (`synced_later`)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from codesieve.core import atomic
from codesieve.core.atomic import (
    read_ipc,
    synced_later,
    write_ipc_atomic,
    write_json_atomic,
    write_parquet_atomic,
)


def _table(n: int) -> pa.Table:
    return pa.table({"id": pa.array(range(n), pa.int64()), "content": pa.array([f"def f{i}(): pass\n" * 50 for i in range(n)])})


def test_files_of_the_block_are_complete_and_in_place_when_it_ends(tmp_path: Path) -> None:
    t = _table(2_000)
    with synced_later():
        write_ipc_atomic(t, str(tmp_path / "state.arrow"))
        write_parquet_atomic(t, str(tmp_path / "keys.parquet"), codec="none")
        write_json_atomic({"a": 1}, str(tmp_path / "sub" / "done.json"))
    assert read_ipc(str(tmp_path / "state.arrow")).equals(t)
    assert pq.read_table(tmp_path / "keys.parquet").equals(t)
    assert (tmp_path / "sub" / "done.json").read_text().strip().startswith("{")
    assert not [p for p in tmp_path.rglob(".tmp-*")]


def test_the_fsync_and_rename_run_on_another_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside the block the writer's thread does not fsync; outside it does."""
    threads: list[str] = []
    real = os.fsync

    def spy(fd: int) -> None:
        threads.append(threading.current_thread().name)
        real(fd)

    monkeypatch.setattr(atomic.os, "fsync", spy)
    with synced_later():
        write_json_atomic({"a": 1}, str(tmp_path / "a.json"))
        with synced_later():  # nested: one pool, the outer block waits
            write_json_atomic({"b": 2}, str(tmp_path / "b.json"))
    write_json_atomic({"c": 3}, str(tmp_path / "c.json"))
    me = threading.current_thread().name
    assert len(threads) == 3
    assert all(t.startswith("codesieve-fsync") for t in threads[:2]) and threads[2] == me
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json", "c.json"]


def test_a_failed_rename_is_raised_when_the_block_ends(tmp_path: Path) -> None:
    target = tmp_path / "is-a-folder"
    (target / "occupied").mkdir(parents=True)  # os.replace of a file onto a non-empty folder fails
    with pytest.raises(OSError), synced_later():
        write_json_atomic({"a": 1}, str(target))
    assert not [p for p in tmp_path.rglob(".tmp-*")]


def test_an_error_in_the_block_wins_and_finished_files_still_land(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="boom"), synced_later():
        write_json_atomic({"a": 1}, str(tmp_path / "a.json"))
        with atomic._replacing(str(tmp_path / "b.json")) as tmp:
            Path(tmp).write_text("half")
            raise ValueError("boom")
    assert (tmp_path / "a.json").exists()  # written before the error: durable and in place
    assert not (tmp_path / "b.json").exists()
    assert not [p for p in tmp_path.rglob(".tmp-*")]
    assert atomic._LATER.pool is None  # the next block starts afresh
