"""Readers plan bounded units: compressed JSONL is streamed in units of `unit_rows` rows."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import zstandard
from conftest import SAMPLES

from codesieve.pipeline.io import discover, plan_units, read_unit


def _rows() -> list[dict]:
    t = pq.read_table(SAMPLES / "code-00000.parquet", columns=["content", "path"]).slice(0, 450)
    return t.to_pylist()


def _lines(rows: list[dict]) -> bytes:
    # a blank line in the middle: skipped, but line numbers (row keys) still count it
    body = [json.dumps(r).encode() for r in rows]
    return b"\n".join(body[:200] + [b""] + body[200:]) + b"\n"


@pytest.mark.parametrize("suffix", ["jsonl", "jsonl.gz", "jsonl.zst"])
def test_units_are_bounded_and_complete(tmp_path: Path, suffix: str) -> None:
    rows = _rows()
    data = _lines(rows)
    path = tmp_path / f"x.{suffix}"
    if suffix == "jsonl.gz":
        data = gzip.compress(data)
    elif suffix == "jsonl.zst":
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    files = discover(str(tmp_path))
    units = plan_units(files, "content", unit_rows=100, unit_bytes=40_000)
    assert len(units) >= 4
    got, keys = [], []
    for u in units:
        table, k, errors = read_unit(u, "content")
        if suffix != "jsonl":
            assert table.num_rows <= 100  # bounded by unit_rows, not by the file
        assert all(e is None for e in errors)
        got += table.to_pylist()
        keys += k.tolist()
    assert got == rows
    assert len(set(keys)) == len(keys)
    if suffix != "jsonl":  # row keys are line numbers: the blank line 200 is skipped
        assert keys == list(range(200)) + list(range(201, 451))


def test_limit_rows_cuts_streamed_units(tmp_path: Path) -> None:
    (tmp_path / "x.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(_lines(_rows())))
    units = plan_units(discover(str(tmp_path)), "content", unit_rows=100, unit_bytes=1 << 20, limit_rows=250)
    assert sum(read_unit(u, "content")[0].num_rows for u in units) == 250


def test_corrupt_compressed_file_is_one_line_error(tmp_path: Path) -> None:
    from codesieve.core.errors import InputError

    (tmp_path / "x.jsonl.zst").write_bytes(b"\x28\xb5\x2f\xfd garbage" * 10)
    with pytest.raises(InputError, match="x.jsonl.zst"):
        plan_units(discover(str(tmp_path)), "content", unit_rows=100, unit_bytes=1 << 20)
