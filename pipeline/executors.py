"""Executors run a function over many argument tuples: in-process, or as Ray tasks.

Steps never import Ray; they call `executor.map(fn, items)`. Results always come back
in the order of `items`, whatever the completion order, so output is deterministic.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from codesieve.core.errors import UserError

MAX_RETRIES = 2  # Ray re-runs a task whose worker died this many times (not on the task's own exception)
#: thread pools of a Ray worker, which runs one task on the one CPU it reserved: the rayon
#: pools of the Rust extensions (lingua, rensa) would otherwise start one thread per core in
#: every worker (when NL detection still called lingua's `_in_parallel` form, one worker used
#: ~1.3 cores and N workers ran N x cores threads on N cores) (Arrow
#: follows OMP_NUM_THREADS, which Ray sets to the task's CPUs itself). The embedded Ray's
#: raylet inherits them from `ray.init`'s environment and its workers from the raylet: as a
#: job `runtime_env` they made every task wait for new workers started through the runtime-env
#: agent (~1.5-2 s at the first task, and the workers Ray prestarts at `ray.init` sat idle)
TASK_THREADS = {"RAYON_NUM_THREADS": "1"}


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    """`values` in os.environ inside the block (what processes started there inherit), then restored."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _unwrap(exc: BaseException) -> BaseException:
    """Ray wraps task exceptions; return the user's original one when there is one."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        return cause
    return exc


class TaskFailed(UserError):
    """A task failed for good (its exception, or its worker died on every retry).

    The message is one line naming the task's work unit and input file; `detail` keeps
    the full remote traceback (the CLI prints it when CODESIEVE_DEBUG is set)."""

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.detail = detail


def describe_task(fn: Callable[..., Any], args: tuple) -> str:
    """Names what a task works on: the first argument that is a work unit (`.index` and
    `.file.rel`), e.g. "unit 3 (input sub/a.parquet)", else the function's name."""
    for arg in args:
        rel = getattr(getattr(arg, "file", None), "rel", None)
        index = getattr(arg, "index", None)
        if isinstance(rel, str) and isinstance(index, int):
            return f"unit {index} (input {rel})"
    return f"task {getattr(fn, '__name__', 'task')}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def task_failure(fn: Callable[..., Any], args: tuple, exc: BaseException, attempts: int) -> BaseException:
    """The one-line error for a task that failed: the user's own UserError unchanged, an
    exception raised by the task's code, or its worker lost `attempts` times (Ray errors)."""
    import traceback

    cause = _unwrap(exc)
    if isinstance(cause, UserError):
        return cause
    what = describe_task(fn, args)
    detail = str(exc) if cause is not exc else "".join(traceback.format_exception(exc))
    if isinstance(cause, OSError) and cause.errno in _NO_ROOM:
        return TaskFailed(f"{what}: cannot write its files: {os.strerror(cause.errno)} (a full disk, a quota or a "
                          "file-size limit; make room and rerun the same command to resume)", detail)
    if _is_ray_system_error(exc):
        return TaskFailed(f"{what}: the task's worker was lost {attempts} times in a row, giving up "
                          f"({_first_line(exc)}); was it killed, or out of memory?", detail)
    return TaskFailed(f"{what}: the task failed: {_first_line(cause)} (set CODESIEVE_DEBUG=1 for the traceback)",
                      detail)


_NO_ROOM = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}


def _is_ray_system_error(exc: BaseException) -> bool:
    """True for Ray's errors about a lost worker/node/object, False for the task's own exception."""
    try:
        from ray.exceptions import RayError, RayTaskError
    except ImportError:
        return False
    return isinstance(exc, RayError) and not isinstance(exc, RayTaskError)


_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])  # + empty SETTINGS


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast with one line when a cluster address does not answer as a Ray cluster.

    Ray's GCS speaks gRPC (HTTP/2): after a client's connection preface it sends a SETTINGS
    frame. A closed port, or a port that accepts TCP but is something else (or silent),
    fails here within `timeout` seconds; Ray itself would retry for minutes."""
    import socket

    if address == "auto" or "://" in address or os.environ.get("RAY_USE_TLS", "0") not in ("0", ""):
        return
    host, _, port = address.rpartition(":")
    try:
        sock = socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout)
    except (OSError, ValueError) as exc:
        raise UserError(f"--ray-address {address}: no Ray cluster answers there ({exc})") from None
    head = b""
    with sock:
        try:
            sock.sendall(_H2_PREFACE)
            while len(head) < 9 and (chunk := sock.recv(9 - len(head))):
                head += chunk
        except OSError:
            pass
    if len(head) < 9 or head[3] != 4:
        raise UserError(f"--ray-address {address}: something listens there, but it is not a Ray cluster "
                        f"(no gRPC handshake within {timeout:g} s)")


#: a worker keeps its allocators' freed pages while its resident size stays below this (MB):
#: handing them back after every task and faulting them in again cost ~1 CPU-s of 18 on the
#: dev corpus (most of it the dedup step's ~45 small tasks, each trimming the whole heap)
RELEASE_ABOVE_MB = 512


def release_memory(above_mb: float = RELEASE_ABOVE_MB) -> None:
    """Hand the memory Arrow's allocator keeps for reuse back to the OS when the process holds
    more than `above_mb` MB (always where the resident size is unknown). mimalloc (pyarrow's
    default pool) holds freed pages: ~250 MB after a dedup cluster task, which would raise
    every later task's peak in that worker. glibc's malloc (numpy's arrays) keeps freed
    heap pages too once its mmap threshold has grown: `malloc_trim(0)` returns them."""
    import pyarrow as pa

    if _resident_mb() < above_mb:
        return
    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _resident_mb() -> float:
    """This process's resident set (MB) from /proc/self/statm; infinite where there is none."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return float("inf")


@functools.cache
def _malloc_trim() -> Any:
    """glibc's `malloc_trim`, or None (another C library)."""
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def released(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn`, then `release_memory()`: what a worker runs for every task."""

    def task(*args: Any) -> Any:
        try:
            return fn(*args)
        finally:
            release_memory()

    task.__name__ = task.__qualname__ = getattr(fn, "__name__", "task")
    task.__doc__ = fn.__doc__
    return task


#: what a worker calls once when it starts, after its imports (e.g. a `functools.partial`)
Warm = Callable[[], Any]


def call(target: str, *args: Any) -> Any:
    """`module:function`(*args), the module imported now: as a task argument (a
    `functools.partial` of this) it imports nothing while it is unpickled."""
    import importlib

    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)(*args)


def worker_start(modules: tuple[str, ...], warm: Warm | None = None) -> int:
    """Set the process up (`procsetup`), import `modules`, then call `warm` (a worker's
    start-up); returns the process id. Its arguments must import nothing when unpickled
    (`call`), or pyarrow could probe for pandas before `skip_pandas_probe`."""
    import importlib

    from codesieve.core.procsetup import skip_pandas_probe

    skip_pandas_probe()
    for name in modules:
        importlib.import_module(name)
    if warm is not None:
        warm()
    return os.getpid()


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
            try:
                result = released(fn)(*args)
            except Exception as exc:
                raise task_failure(fn, args, exc, 1) from exc
            yield i, result


class RayExecutor(Executor):
    """Ray core tasks, one CPU each. Starts an embedded local Ray unless given an address;
    with `preload`, every worker imports those modules before the executor is returned (part
    of starting the workers, like a process pool's initializer), then runs `warm` (e.g.
    loading the run's models, `runner.warm_task`)."""

    name = "ray"

    def __init__(
        self, workers: int | None = None, address: str | None = None, preload: Sequence[str] = (),
        warm: Warm | None = None,
    ):
        token = os.path.expanduser("~/.ray/auth_token")
        if address and "RAY_AUTH_MODE" not in os.environ and os.path.exists(token):
            # `ray start --head` enables token auth when this file exists, but
            # ray.init(address=...) only sends the token when asked to (Ray >= 2.59)
            os.environ["RAY_AUTH_MODE"] = "token"
        import ray

        t0 = time.perf_counter()
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
                with _environ(TASK_THREADS):
                    ray.init(address="local", num_cpus=self.workers, _node_ip_address="127.0.0.1", **kwargs)
            self._started = True
        if address:
            self.workers = workers or int(ray.cluster_resources().get("CPU", 1))
        self._ray = ray
        self._remote_cache: dict[Any, Any] = {}
        if preload or warm:
            try:
                self.map(worker_start, [(tuple(preload), warm)] * self.workers)
            except BaseException:
                self.close()  # the caller never gets this executor to close
                raise
        #: seconds to start (or join) Ray and start the workers: imports, `warm`
        self.start_seconds = time.perf_counter() - t0

    def _remote(self, fn: Callable[..., Any]) -> Any:
        if fn not in self._remote_cache:
            self._remote_cache[fn] = self._ray.remote(num_cpus=1, max_retries=MAX_RETRIES)(released(fn))
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
                    raise task_failure(fn, items[i], exc, MAX_RETRIES + 1) from None
                submit()
                yield i, result
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()


def make_executor(
    kind: str, workers: int | None, address: str | None, preload: Sequence[str] = (), warm: Warm | None = None
) -> Executor:
    """`preload`: modules every Ray worker imports while the executor starts (one task per
    worker), then it calls `warm` (e.g. `runner.warm_task`: the run's gates load their
    models), so that the run's first tasks find code and models loaded. The local executor
    loads them in its first task instead."""
    if kind == "local":
        return LocalExecutor()
    if kind == "ray":
        return RayExecutor(workers, address, preload, warm)
    raise UserError(f"--executor: unknown executor {kind!r} (allowed: local, ray)")

