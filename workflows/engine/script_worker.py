"""The script worker: a child process that evaluates snippets and renders templates under hard limits.

Started by engine.script_pool as `python -c ... serve(memory_mb)`. Before it reads its first request it
caps its own address space (RLIMIT_AS), file size, open files, child processes and core dumps; before
each request it caps its CPU time. The server kills it when a request overruns its wall-clock budget,
so nothing a snippet catches (`except:`, `except BaseException`, `finally:`) keeps it running.

Requests are (time_limit_s, (kind, ...)) with kind "eval", "exec" or "render"; replies are
("ok", retire, value), ("error", retire, type name, args, line) or ("limit", retire, message). After a
MemoryError, or when its heap has grown past half its budget, the worker says `retire` and exits.
"""

from __future__ import annotations

import math
import os
import pickle
import resource
import signal
import sys
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from workflows.engine.script_builtins import SAFE_BUILTINS, check_result
from workflows.engine.script_clock import scripts_see
from workflows.engine.script_code import SCRIPT_FILENAME, checked_snippet
from workflows.engine.script_pool import MAX_MESSAGE_BYTES, READY, read_frame, write_frame
from workflows.engine.task_texts import render_capped

_MAX_ARG_CHARS = 2_000


def serve(memory_limit_mb: int) -> None:
    """Answer requests on stdin/stdout until the server closes the pipe."""
    requests = sys.stdin.fileno()
    # Replies get their own descriptor; fd 1 then points at stderr, so stray output cannot corrupt them.
    replies = os.dup(sys.stdout.fileno())
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    # Ctrl-C in a terminal reaches the whole process group; the worker ends with the server's pipe.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _warm_up()
    statm = os.open("/proc/self/statm", os.O_RDONLY) if os.path.exists("/proc/self/statm") else -1
    baseline = _address_space(statm)
    _limit_resources(baseline + memory_limit_mb * 2**20)
    write_frame(replies, READY)
    while True:
        frame = read_frame(requests)
        if frame is None:
            return
        reply = _answer(frame, memory_limit_mb)
        retire = reply[1] or _address_space(statm) > baseline + memory_limit_mb * 2**19
        try:
            payload = pickle.dumps((reply[0], retire, *reply[2:]), protocol=pickle.HIGHEST_PROTOCOL)
        except MemoryError:
            payload, retire = pickle.dumps(("limit", True, _memory_message(memory_limit_mb))), True
        except (pickle.PicklingError, TypeError, AttributeError, RecursionError) as exc:
            # check_result refuses what task data cannot hold; this guards a render or an odd value. The
            # worker answers instead of dying (which the server would report as a broken budget).
            message = f"the script's result cannot be sent back: {type(exc).__name__}: {exc}"[:_MAX_ARG_CHARS]
            payload = pickle.dumps(("error", retire, "builtins.TypeError", (message,), 0))
        if len(payload) > MAX_MESSAGE_BYTES:
            message = (
                f"the script's result is {len(payload) / 2**20:.1f} MB; the limit is "
                f"{MAX_MESSAGE_BYTES // 2**20} MB, so keep large records in tables and their ids in task data"
            )
            payload = pickle.dumps(("limit", retire, message))
        write_frame(replies, payload)
        if retire:
            return


def _answer(frame: bytes, memory_limit_mb: int) -> tuple[Any, ...]:
    try:
        time_limit_s, request, now = pickle.loads(frame)
        _limit_cpu(time_limit_s)
        with scripts_see(now):
            result = _run(request)
        check_result(result)
        return ("ok", False, result)
    except MemoryError:
        return ("limit", True, _memory_message(memory_limit_mb))
    except BaseException as exc:  # noqa: BLE001 - every failure of the snippet goes back to the server
        return ("error", False, _type_name(exc), _plain_args(exc), _script_line(exc))


def _run(request: tuple[Any, ...]) -> Any:
    kind = request[0]
    if kind == "eval":
        _, source, scope = request
        return eval(
            checked_snippet(source, "eval").code, {**scope, "__builtins__": SAFE_BUILTINS}
        )  # checked, sandboxed
    if kind == "exec":
        _, source, scope, strip = request
        analysis = checked_snippet(source, "exec")
        context = {**scope, "__builtins__": SAFE_BUILTINS}
        exec(analysis.code, context)  # checked, sandboxed
        return _results(context, analysis.names, strip)
    if kind == "render":
        _, template, data, max_chars, *language = request  # the language came later: older requests lack it
        return render_capped(template, data, max_chars, *language)
    raise ValueError(f"unknown request {kind!r}")


def _results(context: Mapping[str, Any], names: frozenset[str], strip: frozenset[str]) -> dict[str, Any]:
    """The task data a script leaves: its names, without helpers, external values and callables."""
    return {
        name: context[name]
        for name in names
        if name in context and name not in strip and not callable(context[name])
    }


def _type_name(exc: BaseException) -> str:
    return f"{type(exc).__module__}.{type(exc).__qualname__}"


def _plain_args(exc: BaseException) -> tuple[Any, ...]:
    """Arguments the server can rebuild the exception from: short strings and plain numbers."""
    plain: list[Any] = []
    for arg in exc.args:
        if isinstance(arg, (int, float, bool)) or arg is None:
            plain.append(arg)
        else:
            text = arg if isinstance(arg, str) else str(arg)
            plain.append(text[:_MAX_ARG_CHARS])
    return tuple(plain)


def _script_line(exc: BaseException) -> int:
    """The line of the snippet where it failed (the innermost frame compiled from the snippet)."""
    line = getattr(exc, "lineno", 0) if isinstance(exc, SyntaxError) else 0
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == SCRIPT_FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return int(line or 0)


def _memory_message(memory_limit_mb: int) -> str:
    return (
        f"the script needed more than {memory_limit_mb} MB of memory and was stopped; scripts are for "
        "credit arithmetic on task data, not for building large values"
    )


def _warm_up() -> None:
    """Import and run once what snippets use lazily, before the file and memory limits apply."""
    datetime.strptime("2026-01-31", "%Y-%m-%d")  # imports _strptime
    eval(checked_snippet("[x * 2 for x in range(3)]", "eval").code, {"__builtins__": SAFE_BUILTINS})
    render_capped("{% for x in items %}{{ x|money }}{% endfor %}", {"items": [1]}, 100)
    "x".encode("utf-8").decode("ascii", "replace")  # noqa: UP012 - loads the codecs once


def _address_space(statm: int) -> int:
    """This process's virtual memory size in bytes, from /proc/self/statm kept open (0 without /proc)."""
    if statm < 0:
        return 0
    return int(os.pread(statm, 100, 0).split()[0]) * resource.getpagesize()


def _limit_resources(address_space: int) -> None:
    """Hard limits that hold whatever a snippet does; each is lowered only, never raised again."""
    if address_space:  # Linux; other systems do not report (or enforce) it, see bpmn/README.md
        _set_limit(resource.RLIMIT_AS, address_space)
    _set_limit(resource.RLIMIT_CORE, 0)  # SIGXCPU would otherwise dump a core of up to the memory budget
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past RLIMIT_FSIZE fails instead of killing
    _set_limit(resource.RLIMIT_FSIZE, 0)
    fd_dir = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"
    _set_limit(resource.RLIMIT_NOFILE, max(int(fd) for fd in os.listdir(fd_dir)) + 1)
    _set_limit(resource.RLIMIT_NPROC, 0)  # no fork (root is exempt; the other limits still hold)


def _limit_cpu(time_limit_s: float) -> None:
    """A CPU-time backstop per request: if the server died, SIGXCPU still ends a runaway snippet."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    seconds = math.ceil(usage.ru_utime + usage.ru_stime + time_limit_s) + 1
    _set_limit(resource.RLIMIT_CPU, seconds, soft_only=True)


def _set_limit(which: int, value: int, *, soft_only: bool = False) -> None:
    """Set a limit, never above its hard limit; without `soft_only` the hard limit drops for good."""
    _soft, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, hard if soft_only else value))
