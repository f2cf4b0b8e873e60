"""Where a run's finished dataset goes: the output folder itself, or object storage (`s3://`).

With a local `--output`, everything (tier files, manifest, owner record, lock, work files)
lives in that folder. With `--output s3://bucket/prefix`, the tasks write their tier files
straight to the bucket and the driver writes `.codesieve/{owner,manifest}.json` there; the
work files that make resuming possible (pass states, dedup keys, completion records) stay in
a *staging folder* (`--work-dir`, default `~/.cache/codesieve/runs/<hash of the URI>`), which
must be shared by all nodes on a multi-node cluster. Rerunning the same command resumes
from it. A tier file is uploaded in one request from a buffer: a task killed mid-upload
leaves no object (one PutObject request: S3 stores the object whole or not at all).
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from codesieve.core.atomic import parquet_options, write_json_atomic, write_parquet_atomic
from codesieve.core.errors import UserError
from codesieve.pipeline import layout


def is_remote(path: str) -> bool:
    return "://" in path


def staging_dir(uri: str, work_dir: str | None = None) -> str:
    """The local (or shared) folder holding the work files of a run writing to `uri`."""
    base = work_dir or os.environ.get("CODESIEVE_WORK_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "codesieve", "runs")
    return os.path.join(os.path.abspath(base), hashlib.sha256(uri.rstrip("/").encode()).hexdigest()[:16])


class Dest:
    """The dataset root: `tier=K/part-U.parquet` files and `.codesieve/*.json`, local or remote."""

    def __init__(self, root: str, option: str = "--output"):
        self.root = root.rstrip("/") if is_remote(root) else os.path.abspath(root)
        self.where = f"{option} {self.root}".strip()  # how error messages name it
        if is_remote(root):
            try:
                self.fs, self.base = pafs.FileSystem.from_uri(self.root)
            except Exception as exc:  # bad scheme, bucket name, credentials
                raise UserError(f"{option} {root}: cannot open ({exc})".strip()) from None
        else:
            self.fs, self.base = pafs.LocalFileSystem(), self.root
        self.remote = is_remote(root)

    def path(self, rel: str) -> str:
        """Path inside the filesystem (`bucket/prefix/rel` for S3)."""
        return f"{self.base}/{rel}"

    def uri(self, rel: str) -> str:
        return f"{self.root}/{rel}"

    def part(self, tier: int, unit: int) -> str:
        return self.path(f"tier={tier}/part-{unit:05d}.parquet")

    def write_parquet(self, table: pa.Table, path: str, level: int = 3, row_group_rows: int = 10_000) -> None:
        """Same bytes as a local write; on S3 one upload from memory (no partial objects)."""
        if not self.remote:
            write_parquet_atomic(table, path, level, row_group_rows)
            return
        buf = pa.BufferOutputStream()
        pq.write_table(table, buf, **parquet_options(table, level, row_group_rows))
        self._put(path, buf.getvalue())

    def _put(self, path: str, data: bytes | pa.Buffer) -> None:
        """One PutObject (boto3): the object appears whole or not at all."""
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, _, key = path.partition("/")
        try:
            boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=data if isinstance(data, bytes) else data.to_pybytes())
        except (BotoCoreError, ClientError) as exc:
            raise UserError(f"{self.where}: cannot write {key} ({exc})") from None

    def put(self, rel: str, data: bytes) -> None:
        """`data` as the object `rel` under a remote root, in one upload."""
        assert self.remote, "local roots write with pipeline.results.write_text_atomic"
        self._put(self.path(rel), data)

    def read_manifest(self) -> dict[str, Any]:
        """`.codesieve/manifest.json` of a finished run, or a one-line error saying what is
        there instead: no bucket, nothing under the prefix, or no finished run."""
        rel = f"{layout.META_DIR}/manifest.json"
        try:
            data = self._load_json(rel)
        except FileNotFoundError:
            raise UserError(self._why_missing(rel)) from None
        except (OSError, ValueError) as exc:
            raise UserError(f"{self.uri(rel)}: unreadable manifest ({str(exc).splitlines()[0]})") from None
        if not isinstance(data, dict):
            raise UserError(f"{self.uri(rel)}: unreadable manifest (not a JSON object)")
        return data

    def _why_missing(self, rel: str) -> str:
        bucket = self.base.split("/")[0]
        if self.remote and self.fs.get_file_info(bucket).type == pafs.FileType.NotFound:
            return f"{self.where}: no bucket {bucket!r} there (or no access to it)"
        if self.fs.get_file_info(self.base).type == pafs.FileType.NotFound:
            return f"{self.where}: nothing is stored under this prefix"
        return f"{self.where}: no {rel} (not a finished codesieve output)"

    def delete(self, paths: list[str]) -> None:
        for info in self.fs.get_file_info(paths):
            if info.type == pafs.FileType.File:
                self.fs.delete_file(info.path)

    def parts(self) -> list[str]:
        """Every `tier=K/part-*.parquet` under the root (paths inside the filesystem), sorted (tier, name)."""
        sel = pafs.FileSelector(self.base, recursive=True, allow_not_found=True)
        found = []
        for info in self.fs.get_file_info(sel):
            rel = info.path[len(self.base) + 1:].split("/")
            if len(rel) == 2 and rel[0].startswith("tier=") and rel[0][5:].isdigit() \
                    and rel[1].startswith("part-") and rel[1].endswith(".parquet"):
                found.append((int(rel[0][5:]), info.path))
        return [p for _, p in sorted(found)]

    def has_tiers(self) -> bool:
        sel = pafs.FileSelector(self.base, recursive=False, allow_not_found=True)
        return any(os.path.basename(i.path).startswith("tier=") for i in self.fs.get_file_info(sel))

    def read_table(self, path: str, columns: list[str] | None = None) -> pa.Table:
        return pq.read_table(path, columns=columns, filesystem=self.fs)

    def read_schema(self, path: str) -> pa.Schema:
        return pq.read_schema(path, filesystem=self.fs)

    def read_json(self, rel: str) -> dict[str, Any] | None:
        """A JSON object under `.codesieve/`, or None when missing or unreadable."""
        try:
            data = self._load_json(f"{layout.META_DIR}/{rel}")
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _load_json(self, rel: str) -> Any:
        """The parsed JSON file at `rel` under the root; OSError / ValueError pass through."""
        with self.fs.open_input_stream(self.path(rel)) as fh:
            return json.loads(fh.read())

    def write_json(self, rel: str, obj: Any) -> None:
        path = self.path(f"{layout.META_DIR}/{rel}")
        if not self.remote:
            write_json_atomic(obj, path)
        else:
            self._put(path, json.dumps(obj, indent=1, sort_keys=True, default=str).encode())

    def remove_json(self, rel: str) -> None:
        self.delete([self.path(f"{layout.META_DIR}/{rel}")])
