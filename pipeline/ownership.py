"""An output folder belongs to one run: a lock while a run writes, and an owner record.

The lock (`OUT/.codesieve/lock`) is created atomically and holds the writer's host and pid;
a lock whose process is gone (e.g. after `kill -9`) is stale and taken over. The owner record
(`OUT/.codesieve/owner.json`) names the config and input the folder's data came from: a run of
another config or another input refuses the folder unless told `--overwrite` (the same config
and input resume it). Output inside the input is excluded from the input by construction;
input inside the output is refused.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from codesieve.core.atomic import write_json_atomic
from codesieve.core.errors import UserError
from codesieve.pipeline import layout


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


def claim(output: str, owner: dict[str, Any], overwrite: bool) -> None:
    """Refuse a folder that holds another config's or input's run (unless `overwrite`)."""
    path = os.path.join(layout.meta_dir(output), "owner.json")
    old = _read(path)
    has_data = any(name.startswith("tier=") for name in _listdir(output))
    if (old or has_data) and old != owner and not overwrite:
        what = "an unknown run" if not old else (
            "a run of another config" if old.get("config_hash") != owner["config_hash"] else "a run of another input")
        raise UserError(
            f"--output {output}: holds {what} ({old.get('config_source', '?')} on {old.get('input', '?')}); "
            "pass --overwrite to replace it, or choose another --output"
        )
    write_json_atomic(owner, path)


def _listdir(folder: str) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []


def check_nesting(input_path: str, output: str) -> None:
    """Input inside the output would be overwritten while read: refuse it."""
    if "://" in input_path:
        return
    inp = os.path.realpath(input_path.split("*")[0].rstrip("/") or ".")
    out = os.path.realpath(output)
    if inp == out or inp.startswith(out + os.sep):
        raise UserError(f"--input {input_path}: is inside --output {output}; write the output somewhere else")
