"""The script worker pool: snippets that could run away are evaluated in child processes with hard limits.

Each worker is a small Python process (engine.script_worker) that caps its own address space, CPU time,
files and child processes with setrlimit before it takes any work, so a script that allocates in C
(`"x".ljust(10**10)`, `l.extend(map(abs, l))`) gets a MemoryError there instead of growing the server,
and one that loops (whatever it catches) is killed once its wall-clock budget is spent. A worker serves
one evaluation at a time and many in a row; the pool keeps idle ones, starts one when none is idle (about
30-80 ms, once per concurrently evaluating thread) and replaces any it had to kill.

The protocol is length-prefixed pickles over the worker's stdin/stdout. Replies are unpickled with a
whitelist of value types, so even a snippet that escaped the sandbox could not make the server run code.
"""

from __future__ import annotations

import atexit
import builtins
import decimal
import io
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from workflows.engine.script_builtins import ScriptLimitExceeded
from workflows.engine.script_clock import script_now
from workflows.messages import _

# Wall-clock seconds one script, expression or template may run, the round trip to the worker included.
# Read at every call, so tests can shorten it.
TIME_LIMIT_S = 5.0
# Address space one evaluation may add to a worker (the worker itself takes about 30 MB).
MEMORY_LIMIT_MB = 256
# The largest request or reply: task data beyond this does not belong in a process instance anyway.
MAX_MESSAGE_BYTES = 16 * 2**20
# Seconds a new worker may take to import and report ready (a cold start on a loaded machine).
START_TIMEOUT_S = 30.0

_HEADER = struct.Struct(">I")
_ROOT = Path(__file__).resolve().parents[2]  # the directory holding the `workflows` package
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from workflows.engine.script_worker import serve; serve(int(sys.argv[2]))"
)
READY = b"ready"


@dataclass(frozen=True)
class Outcome:
    """What a worker sent back: the value, or the exception the snippet raised and its line (0: unknown)."""

    value: Any = None
    error: Exception | None = None
    line: int = 0


class WorkerFailed(RuntimeError):
    """A script worker could not be started or broke the protocol (not the script's fault)."""


def write_frame(fd: int, payload: bytes) -> None:
    """Write one length-prefixed message to a pipe."""
    data = memoryview(_HEADER.pack(len(payload)) + payload)
    while data:
        data = data[os.write(fd, data) :]


def read_frame(fd: int, deadline: float | None = None, limit: int = MAX_MESSAGE_BYTES) -> bytes | None:
    """Read one length-prefixed message; None at end of file.

    Raises:
        TimeoutError: `deadline` (time.monotonic) passed first.  WorkerFailed: the message is too long.
    """
    header = _read_exactly(fd, _HEADER.size, deadline)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    if size > limit:
        raise WorkerFailed(
            _(
                "a message of %(size)s bytes is over the %(limit)s byte limit",
                size=format(size, ","),
                limit=format(limit, ","),
            )
        )
    body = _read_exactly(fd, size, deadline)
    if body is None:
        return None
    return body


def _read_exactly(fd: int, size: int, deadline: float | None) -> bytes | None:
    chunks: list[bytes] = []
    missing = size
    while missing:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(missing, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


class _ReplyUnpickler(pickle.Unpickler):
    """Only the value types task data holds; a reply naming anything else (a function, os.system) fails."""

    _ALLOWED = {("builtins", name) for name in ("set", "frozenset", "range")} | {
        ("decimal", "Decimal"),
        ("datetime", "date"),
        ("datetime", "datetime"),
        ("datetime", "time"),
        ("datetime", "timedelta"),
        ("datetime", "timezone"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"a script result may not hold {module}.{name}")
        return super().find_class(module, name)


def load_reply(payload: bytes) -> Any:
    """Unpickle a worker's reply with the value-type whitelist."""
    return _ReplyUnpickler(io.BytesIO(payload)).load()


class ScriptError(Exception):
    """An exception of a type the server does not rebuild, carried over from the worker by name."""


def rebuild_error(type_name: str, args: tuple[Any, ...]) -> Exception:
    """The worker's exception as the same builtin or decimal type when possible, else a ScriptError."""
    module, _, name = type_name.rpartition(".")
    source = {"builtins": builtins, "decimal": decimal}.get(module)
    cls = getattr(source, name, None) if source is not None else None
    if module == ScriptLimitExceeded.__module__ and name == ScriptLimitExceeded.__name__:
        cls = ScriptLimitExceeded
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(*args)
        except Exception:  # noqa: BLE001 - a type whose constructor wants other arguments
            pass
    return ScriptError(f"{name}: {', '.join(map(str, args))}")


class _Worker:
    """One child process and its two pipes."""

    def __init__(self, memory_limit_mb: int) -> None:
        self.memory_limit_mb = memory_limit_mb
        # A minimal environment: the worker needs no secrets (database URL, SMTP password) to compute.
        env = {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8"}
        self.process = subprocess.Popen(
            [sys.executable, "-c", _BOOT, str(_ROOT), str(memory_limit_mb)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            close_fds=True,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self._in: IO[bytes] = self.process.stdin
        self._out: IO[bytes] = self.process.stdout
        try:
            greeting = read_frame(self._out.fileno(), time.monotonic() + START_TIMEOUT_S)
        except TimeoutError:
            greeting = None
        if greeting != READY:
            self.kill()
            command = f"{sys.executable} -c '{_BOOT}' {_ROOT} {memory_limit_mb}"
            raise WorkerFailed(
                _("the script worker did not start; run `%(command)s` to see its error", command=command)
            )

    def exchange(self, request: bytes, time_limit_s: float) -> bytes:
        """Send a request and wait for the reply within the budget.

        Raises:
            ScriptLimitExceeded: no reply in time, or the worker died (it is then killed).
            BrokenPipeError: the worker was gone before it got the request.
        """
        write_frame(self._in.fileno(), request)
        try:
            reply = read_frame(self._out.fileno(), time.monotonic() + time_limit_s)
        except TimeoutError:
            self.kill()
            raise ScriptLimitExceeded(
                _(
                    "the script ran longer than %(seconds)s s and was stopped; look for a loop that never "
                    "ends or work on very large data",
                    seconds=format(time_limit_s, "g"),
                )
            ) from None
        if reply is None:
            code = self.kill()
            cause = (
                _("its CPU time limit") if code == -signal.SIGXCPU else _("exit status %(code)s", code=code)
            )
            raise ScriptLimitExceeded(
                _(
                    "the script's worker process stopped (%(cause)s); the script used more time or memory "
                    "than allowed (%(seconds)s s, %(mb)s MB)",
                    cause=cause,
                    seconds=format(time_limit_s, "g"),
                    mb=self.memory_limit_mb,
                )
            )
        return reply

    def kill(self) -> int:
        """Stop the process at once and reap it; returns its exit status."""
        if self.process.poll() is None:
            self.process.kill()
        code = self.process.wait()
        self._in.close()
        self._out.close()
        return code

    def detach(self) -> None:
        """Close this process's ends of the pipes without touching the worker (after a fork)."""
        self._in.close()
        self._out.close()

    def close(self) -> None:
        """Let an idle worker exit on end of input; kill it if it does not within a second."""
        try:
            self._in.close()
            self.process.wait(timeout=1)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()


class ScriptPool:
    """Idle script workers of this process, handed to one calling thread at a time.

    At most `max_workers` run at once (others wait their turn, each at most one time budget per worker
    ahead of it), so many runaway scripts at once cost at most max_workers x memory_limit_mb.
    """

    def __init__(self, memory_limit_mb: int = MEMORY_LIMIT_MB, max_workers: int | None = None) -> None:
        self.memory_limit_mb = memory_limit_mb
        self.max_workers = max_workers or max(2, os.cpu_count() or 2)
        self._slots = threading.BoundedSemaphore(self.max_workers)
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        # Pipes a forked child inherited; kept (not closed) so the parent's workers are not disturbed.
        self._inherited: list[_Worker] = []

    def call(self, request: tuple[Any, ...]) -> Outcome:
        """Run one request (see engine.script_worker) in a worker.

        Raises:
            ScriptLimitExceeded: over the time or memory budget.  WorkerFailed: no worker could start.
        """
        time_limit_s = TIME_LIMIT_S
        try:
            # With the step's time: the worker's `datetime.now()` answers it (engine.script_clock).
            payload = pickle.dumps((time_limit_s, request, script_now()), protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, AttributeError, TypeError) as exc:
            raise TypeError(
                _(
                    "a value the script uses cannot be sent to the script worker (%(problem)s); task data "
                    "must be plain values, and helpers module-level functions",
                    problem=str(exc),
                )
            ) from exc
        if len(payload) > MAX_MESSAGE_BYTES:
            raise ScriptLimitExceeded(
                _(
                    "the script's task data is %(size)s MB; the limit is %(limit)s MB, so keep large records "
                    "in tables and their ids in task data",
                    size=format(len(payload) / 2**20, ".1f"),
                    limit=MAX_MESSAGE_BYTES // 2**20,
                )
            )
        with self._slots:
            return self._call(payload, time_limit_s)

    def _call(self, payload: bytes, time_limit_s: float) -> Outcome:
        worker = self._acquire()
        try:
            try:
                reply = worker.exchange(payload, time_limit_s)
            except BrokenPipeError:  # it died while idle (killed from outside): a fresh one, once
                worker.kill()
                worker = _Worker(self.memory_limit_mb)
                reply = worker.exchange(payload, time_limit_s)
            status, retire, *rest = load_reply(reply)
        except ScriptLimitExceeded:
            raise  # exchange() already killed the worker
        except BaseException:
            worker.kill()
            raise
        if retire:  # it exits after this reply (a MemoryError, or a heap grown past half its budget)
            worker.kill()
        else:
            self._release(worker)
        if status == "limit":
            raise ScriptLimitExceeded(rest[0])
        if status == "error":
            type_name, args, line = rest
            return Outcome(error=rebuild_error(type_name, tuple(args)), line=int(line))
        return Outcome(value=rest[0])

    def _acquire(self) -> _Worker:
        while True:
            with self._lock:
                if not self._idle:
                    break
                worker = self._idle.pop()
            if worker.process.poll() is None:
                return worker
            worker.kill()  # it died while idle (killed from outside): reap it, try the next
        return _Worker(self.memory_limit_mb)

    def _release(self, worker: _Worker) -> None:
        with self._lock:
            self._idle.append(worker)

    def close(self) -> None:
        """Stop every idle worker (at exit, or when a test is done with its own pool)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.close()

    def forget_after_fork(self) -> None:
        """In a forked child: the parent's workers are not ours to use or stop.

        The child closes its copies of their pipes (so a worker still sees end of input when the parent
        goes) and keeps the objects, which would otherwise warn that their process still runs.
        """
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.max_workers)
        for worker in self._idle:
            worker.detach()
        self._inherited.extend(self._idle)
        self._idle = []


_SHARED = ScriptPool()
atexit.register(_SHARED.close)
os.register_at_fork(after_in_child=_SHARED.forget_after_fork)


def shared_pool() -> ScriptPool:
    """The process's pool: workers are operating-system processes, so one set serves every runtime."""
    return _SHARED
