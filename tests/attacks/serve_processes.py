"""A `creditflow serve` of an attack test's own, with the built-in sink on a port the test chooses, and the
processes it started (issue 19: the sink and the outbox dispatch run in a child process of serve)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.e2e.conftest import CREDITFLOW, START_TIMEOUT_S, Server, free_port, run_cli, server_environment
from tests.mail.test_sink_process import _gone as gone
from tests.mail.test_sink_process import _listening as listening
from tests.mail.test_sink_process import _wait_until as until

__all__ = ["gone", "listening", "until"]


def serve_with_sink_port(
    directory: Path, sink_port: int, *, init: bool = True, workers: int = 0, max_sleep_s: int = 0
) -> Server:
    """`creditflow init --demo` (unless `init` is False: the database exists), then `serve` with
    [mail] sink_port = `sink_port`; returns once /api/health answers (fails the caller's assertion with the
    log when serve exits first)."""
    directory.mkdir(parents=True, exist_ok=True)
    env = server_environment(directory)
    config = Path(env["CREDITFLOW_CONFIG"])
    text = config.read_text().replace("sink_port = 0", f"sink_port = {sink_port}")
    if max_sleep_s:
        text = text.replace("[scheduler]\n", f"[scheduler]\nmax_sleep_s = {max_sleep_s}\n")
    config.write_text(text)
    if init:
        run_cli(env, directory, "init", "--demo")
    port = free_port()
    with (directory / "serve.log").open("ab") as log:
        process = subprocess.Popen(
            [
                str(CREDITFLOW),
                "serve",
                "--port",
                str(port),
                *(["--workers", str(workers)] if workers else []),
            ],
            env=env,
            cwd=directory,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, f"http://127.0.0.1:{port}", env, directory)
    until(lambda: _answers_or_ended(server), START_TIMEOUT_S)
    return server  # the caller checks process.poll() and reads the log


def _answers_or_ended(server: Server) -> bool:
    if server.process.poll() is not None:
        return True
    try:
        return bool(server.request("GET", "/api/health").json().get("status") == "ok")
    except (OSError, ValueError):
        return False  # not listening yet


def children(pid: int) -> list[int]:
    """The pids of the live children of `pid` (Linux /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(word) for word in (task / "children").read_text().split()]
        except OSError:
            continue  # the thread ended meanwhile
    return found


def descendants(pid: int) -> list[int]:
    found: list[int] = []
    for child in children(pid):
        found += [child, *descendants(child)]
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return False


def kill(server: Server) -> None:
    """End a server still running: SIGTERM (gunicorn's workers and every mail process end with it), then
    SIGKILL if it does not exit in time."""
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
