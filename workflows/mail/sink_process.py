"""The built-in SMTP sink in a child process of `serve`, so that receiving and storing mail runs beside the
web process on another core instead of taking turns with the requests for the web process's one GIL.

The child is the same sink (sink.start_sink in the child): 127.0.0.1, the configured port (0 = any free
one), a SinkMessage row per message, only mail carrying the token. The parent chooses the token and hands it
over on the child's stdin, never in argv or the environment (which other local users can read in /proc).
stdin then stays open: the child stops when it reads end-of-file there, which happens when the parent stops
it and also when the parent dies in any way (kill -9 included: the kernel closes the parent's end), so no
sink outlives its `serve`. Run as `python -m workflows.mail.sink_process` by start_sink_process only.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import secrets
import selectors
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from workflows.mail.sink import SINK_HOST, forget_token, remember_token, start_sink
from workflows.settings import DatabaseSettings
from workflows.store.db import make_engine, make_session_factory

MODULE = "workflows.mail.sink_process"
# The directory holding the `workflows` package: the child must import the same code as its parent.
PACKAGE_ROOT = Path(__file__).resolve().parents[2]
# Importing the sink's modules takes ~0.3 s; aiosmtpd gives up on a server not listening within 5 s.
START_TIMEOUT_S = 30.0
# Stopping waits this long for the child to finish the messages it is storing, then kills it.
STOP_TIMEOUT_S = 10.0


class SinkProcess:
    """A running sink child process: `port` is its bound port, `stop()` ends it (a second call: nothing)."""

    def __init__(self, child: subprocess.Popen[bytes], host: str, port: int) -> None:
        self._child: subprocess.Popen[bytes] | None = child
        self.host = host
        self.port = port
        self.pid = child.pid

    def stop(self) -> None:
        """Close the child's stdin (it stops listening and exits) and wait for it."""
        if self._child is not None:
            child, self._child = self._child, None
            forget_token(self.port)
            _end(child)

    def __enter__(self) -> SinkProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_sink_process(database: DatabaseSettings, host: str = SINK_HOST, port: int = 0) -> SinkProcess:
    """Start the built-in sink in a child process storing into `database`; returns once it listens.

    Mail reaches it only through `mail.smtp.mailer_for(settings, sink.port)` in this process, which adds
    the token this function chose and handed to the child.

    Raises:
        OSError: the address cannot be bound (the message names the setting to change), or the child
            ended or stayed silent before it listened.
    """
    token = secrets.token_urlsafe(32)
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(_python_path())}
    child = subprocess.Popen(
        [sys.executable, "-m", MODULE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=environment
    )
    try:
        assert child.stdin is not None and child.stdout is not None
        settings = {"database": dataclasses.asdict(database), "host": host, "port": port, "token": token}
        child.stdin.write(json.dumps(settings).encode() + b"\n")
        child.stdin.flush()
        answer = _answer(child, START_TIMEOUT_S)
        child.stdout.close()  # the child says nothing more
    except BaseException:
        _end(child)
        raise
    if "port" not in answer:
        _end(child)
        raise OSError(answer.get("errno"), answer["error"])
    remember_token(answer["port"], token)
    return SinkProcess(child, host, answer["port"])


def _python_path() -> list[str]:
    # The parent may have found `workflows` through its own sys.path (a checkout, a test's PYTHONPATH).
    inherited = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return [str(PACKAGE_ROOT), *inherited]


def _answer(child: subprocess.Popen[bytes], timeout_s: float) -> dict[str, Any]:
    """The child's one line: {"port": N} once it listens, or {"errno": E, "error": text}."""
    assert child.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(child.stdout, selectors.EVENT_READ)
        if not selector.select(timeout_s):
            raise OSError(f"the built-in SMTP sink did not start within {timeout_s:.0f} s")
    line = child.stdout.readline()
    if not line:
        code = child.wait(timeout=STOP_TIMEOUT_S)
        raise OSError(f"the built-in SMTP sink process ended with exit code {code} before it listened")
    answer: dict[str, Any] = json.loads(line)
    return answer


def _end(child: subprocess.Popen[bytes]) -> None:
    for stream in (child.stdin, child.stdout):
        if stream is not None:
            try:
                stream.close()
            except BrokenPipeError:
                pass  # the child is gone already
    try:
        child.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


# --- the child --------------------------------------------------------------------------------------------


def main() -> None:
    """The child: read the settings line, start the sink, answer with its port, serve until stdin ends."""
    # Ctrl-C in a terminal signals the whole process group; `serve` stops its sink itself, after its
    # scheduler's last round, which may still be sending mail here.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = json.loads(sys.stdin.buffer.readline())
    engine = make_engine(DatabaseSettings(**settings["database"]))
    try:
        sink = start_sink(
            make_session_factory(engine), settings["host"], settings["port"], token=settings["token"]
        )
    except OSError as exc:  # its text names the setting to change; the parent raises it again
        _say({"errno": exc.errno, "error": exc.strerror or str(exc)})
        engine.dispose()
        sys.exit(1)
    _say({"port": sink.port})
    try:
        while os.read(sys.stdin.fileno(), 4096):
            pass  # the parent writes nothing more: end-of-file is the signal to stop
    finally:
        sink.stop()
        engine.dispose()


def _say(answer: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
