"""Executors run a function over many argument tuples: in-process, or as Ray tasks.

Steps never import Ray; they call `executor.map(fn, items)`. Results always come back
in the order of `items`, whatever the completion order, so output is deterministic.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from codesieve.core.errors import UserError


def _unwrap(exc: BaseException) -> BaseException:
    """Ray wraps task exceptions; return the user's original one when there is one."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        return cause
    return exc


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast with one line when a cluster address does not answer (Ray would retry for minutes)."""
    import socket

    if address == "auto" or "://" in address:
        return
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout).close()
    except (OSError, ValueError) as exc:
        raise UserError(f"--ray-address {address}: no Ray cluster answers there ({exc})") from None


class Executor:
    """Runs `fn(*args)` for every args tuple; subclasses implement `imap`."""

    name = "base"
    workers = 1

    def imap(self, fn: Callable[..., Any], items: Sequence[tuple]) -> Iterator[tuple[int, Any]]:
        """Yield (index, result) as calls finish, in any order."""
        raise NotImplementedError

    def map(self, fn: Callable[..., Any], items: Sequence[tuple]) -> list[Any]:
        """All results, in the order of `items` whatever the completion order."""
        out: list[Any] = [None] * len(items)
        for i, r in self.imap(fn, items):
            out[i] = r
        return out

    def close(self) -> None:
        pass


class LocalExecutor(Executor):
    """Runs every call in this process, one after another (for debugging and tests)."""

    name = "local"

    def imap(self, fn: Callable[..., Any], items: Sequence[tuple]) -> Iterator[tuple[int, Any]]:
        for i, args in enumerate(items):
            yield i, fn(*args)


class RayExecutor(Executor):
    """Ray core tasks, one CPU each. Starts an embedded local Ray unless given an address."""

    name = "ray"

    def __init__(self, workers: int | None = None, address: str | None = None):
        token = os.path.expanduser("~/.ray/auth_token")
        if address and "RAY_AUTH_MODE" not in os.environ and os.path.exists(token):
            # `ray start --head` enables token auth when this file exists, but
            # ray.init(address=...) only sends the token when asked to (Ray >= 2.59)
            os.environ["RAY_AUTH_MODE"] = "token"
        import ray

        self.workers = workers or os.cpu_count() or 1
        self._started = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = dict(
                include_dashboard=False,
                log_to_driver=True,
                configure_logging=False,
                logging_level="ERROR",
            )
            if address:
                _check_reachable(address)
                if address.split(":")[0] in ("127.0.0.1", "localhost"):
                    kwargs["_node_ip_address"] = "127.0.0.1"
                try:
                    ray.init(address=address, **kwargs)
                except Exception as exc:  # connection problems are user errors
                    raise UserError(f"--ray-address {address}: cannot join the Ray cluster ({exc})") from None
            else:  # embedded: everything on loopback, nothing listens on other interfaces
                # address="local": never join a cluster left running on this machine
                ray.init(address="local", num_cpus=self.workers, _node_ip_address="127.0.0.1", **kwargs)
            self._started = True
        if address:
            self.workers = workers or int(ray.cluster_resources().get("CPU", 1))
        self._ray = ray
        self._remote_cache: dict[Any, Any] = {}

    def _remote(self, fn: Callable[..., Any]) -> Any:
        if fn not in self._remote_cache:
            self._remote_cache[fn] = self._ray.remote(num_cpus=1, max_retries=2)(fn)
        return self._remote_cache[fn]

    def imap(self, fn: Callable[..., Any], items: Sequence[tuple]) -> Iterator[tuple[int, Any]]:
        ray = self._ray
        remote = self._remote(fn)
        pending: dict[Any, int] = {}
        todo = iter(enumerate(items))
        limit = max(2 * self.workers, 2)

        def submit() -> None:
            for i, args in todo:
                pending[remote.remote(*args)] = i
                if len(pending) >= limit:
                    return

        submit()
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                ref = done[0]
                i = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except Exception as exc:
                    raise _unwrap(exc) from None
                submit()
                yield i, result
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()


def make_executor(kind: str, workers: int | None, address: str | None) -> Executor:
    if kind == "local":
        return LocalExecutor()
    if kind == "ray":
        return RayExecutor(workers, address)
    raise UserError(f"--executor: unknown executor {kind!r} (allowed: local, ray)")

