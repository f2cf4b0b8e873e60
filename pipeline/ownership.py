"""An output folder belongs to one run: a lock while a run writes, and an owner record.

The lock (`OUT/.codesieve/lock`) is created atomically and holds the writer's host and pid;
a lock whose process is gone (e.g. after `kill -9`) is stale and taken over. The owner record
(`OUT/.codesieve/owner.json`) names the config and input the folder's data came from: a run of
another config or another input refuses the folder unless told `--overwrite` (the same config
and input resume it). Output inside the input is excluded from the input by construction;
input inside the output is refused. On `s3://` the lock is a conditional write (see
`remote_lock`), the owner record and manifest live in the bucket next to the tier files.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from codesieve.core.errors import UserError
from codesieve.pipeline import layout
from codesieve.pipeline.dest import Dest


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def output_lock(output: str) -> Iterator[None]:
    """Hold `OUT/.codesieve/lock` for the duration of a run."""
    path = layout.lock_path(output)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    except OSError as exc:
        raise UserError(f"--output {output}: cannot create the output folder ({exc.strerror})") from None
    me = {"host": socket.gethostname(), "pid": os.getpid()}
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _read(path)
            if holder.get("host") == me["host"] and isinstance(holder.get("pid"), int) and not _alive(holder["pid"]):
                os.remove(path)  # stale: its process died without releasing it
                continue
            if not holder:  # torn by a crash between create and write
                os.remove(path)
                continue
            raise UserError(
                f"--output {output}: another codesieve run (pid {holder.get('pid')} on {holder.get('host')}) "
                "is writing there; wait for it or choose another --output"
            ) from None
        except OSError as exc:
            raise UserError(f"--output {output}: cannot write there ({exc.strerror})") from None
        with os.fdopen(fd, "w") as fh:
            json.dump(me, fh)
        break
    try:
        yield
    finally:
        if _read(path) == me:
            os.remove(path)


def _read(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def check_owner(dest: Dest, owner: dict[str, Any], overwrite: bool) -> None:
    """Refuse a dataset root that holds another config's or input's run (unless `overwrite`)."""
    old = dest.read_json("owner.json") or {}
    if (old or dest.has_tiers()) and old != owner and not overwrite:
        what = "an unknown run" if not old else (
            "a run of another config" if old.get("config_hash") != owner["config_hash"] else "a run of another input")
        raise UserError(
            f"--output {dest.root}: holds {what} ({old.get('config_source', '?')} on {old.get('input', '?')}); "
            "pass --overwrite to replace it, or choose another --output"
        )


def claim(dest: Dest, owner: dict[str, Any], overwrite: bool) -> None:
    """`check_owner`, then record this run as the owner."""
    check_owner(dest, owner, overwrite)
    dest.write_json("owner.json", owner)


@contextmanager
def remote_lock(dest: Dest) -> Iterator[None]:
    """Hold `URI/.codesieve/lock` on S3 for the duration of a run.

    Created with a conditional write (`If-None-Match: *`): of two runs starting at once,
    exactly one gets it. A lock left by a dead run on this host (same host, pid gone) is
    taken over; one from another host cannot be checked and is refused, naming it (delete
    the object when that run is known to be dead). A store without conditional writes
    (`NotImplemented`) is refused rather than locked unsafely."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _, key = dest.path(f"{layout.META_DIR}/lock").partition("/")
    s3 = boto3.client("s3")
    me = {"host": socket.gethostname(), "pid": os.getpid()}
    body = json.dumps(me).encode()
    for _ in range(2):
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=body, IfNoneMatch="*")
            break
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code not in ("PreconditionFailed", "ConditionalRequestConflict", "412"):
                raise UserError(f"--output {dest.root}: cannot create the lock s3://{bucket}/{key} ({code or exc}); "
                                "the store must support conditional writes (If-None-Match)") from None
            holder = dest.read_json("lock") or {}
            if holder.get("host") == me["host"] and isinstance(holder.get("pid"), int) and not _alive(holder["pid"]):
                s3.delete_object(Bucket=bucket, Key=key)  # stale: its process died without releasing it
                continue
            raise UserError(
                f"--output {dest.root}: another codesieve run (pid {holder.get('pid')} on {holder.get('host')}) "
                f"holds s3://{bucket}/{key}; wait for it, or delete that object if the run is dead"
            ) from None
        except BotoCoreError as exc:
            raise UserError(f"--output {dest.root}: cannot reach the store ({exc})") from None
    try:
        yield
    finally:
        if dest.read_json("lock") == me:
            s3.delete_object(Bucket=bucket, Key=key)


def check_nesting(input_path: str, output: str) -> None:
    """Input inside the output would be overwritten while read: refuse it."""
    if "://" in input_path or "://" in output:
        inp, out = input_path.split("*")[0].rstrip("/"), output.rstrip("/")
        if inp == out or inp.startswith(out + "/"):
            raise UserError(f"--input {input_path}: is inside --output {output}; write the output somewhere else")
        return
    inp = os.path.realpath(input_path.split("*")[0].rstrip("/") or ".")
    out = os.path.realpath(output)
    if inp == out or inp.startswith(out + os.sep):
        raise UserError(f"--input {input_path}: is inside --output {output}; write the output somewhere else")
