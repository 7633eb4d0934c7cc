"""The built-in SMTP sink in a child process of `serve`, so that receiving and storing mail runs beside the
web process on another core instead of taking turns with the requests for the web process's one GIL.

The child is the same sink (sink.start_sink in the child): 127.0.0.1, the configured port (0 = any free
one), a SinkMessage row per message, only mail carrying the token. The parent chooses the token and hands it
over on the child's stdin, never in argv or the environment (which other local users can read in /proc).
stdin then stays open: the child stops when it reads end-of-file there, which happens when the parent stops
it and also when the parent dies in any way (kill -9 included: the kernel closes the parent's end), so no
sink outlives its `serve`. Run as `python -m workflows.mail.sink_process` by start_sink_process only.

Given the mail and clock settings, the child also sends the outbox to itself (mail.dispatch_loop): `serve`'s
scheduler then leaves e-mail out of its rounds, and the web process only nudges the child through that pipe
when a request may have queued mail (SinkProcess.nudge). With a relay configured, `serve` starts the same
child without a sink (start_mail_process), sending to the relay.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import secrets
import selectors
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from workflows.mail.sink import SINK_HOST, forget_token, remember_token, start_sink
from workflows.settings import ClockSettings, DatabaseSettings, MailSettings
from workflows.store.db import make_engine, make_session_factory

if TYPE_CHECKING:
    from workflows.mail.dispatch_loop import MailDispatcher

logger = logging.getLogger(__name__)

MODULE = "workflows.mail.sink_process"
# The directory holding the `workflows` package: the child must import the same code as its parent.
PACKAGE_ROOT = Path(__file__).resolve().parents[2]
# Importing the sink's modules takes ~0.3 s; aiosmtpd gives up on a server not listening within 5 s.
START_TIMEOUT_S = 30.0
# Stopping waits this long for the child to finish the messages it is storing, then kills it.
STOP_TIMEOUT_S = 10.0
# Of which the child's dispatcher may take this long to end its round.
DISPATCH_STOP_S = 5.0
# A child that ended on its own is started again; a start that fails is tried again after this long.
RESPAWN_WAIT_S = 5.0


class SinkProcess:
    """A running sink child process: `port` is its bound port (None: a mail process without a sink, which
    sends to the relay), `stop()` ends it (a second call: nothing)."""

    def __init__(
        self,
        child: subprocess.Popen[bytes],
        host: str,
        port: int | None,
        dispatches: bool,
        respawn: Callable[[int], tuple[subprocess.Popen[bytes], int | None]] | None = None,
    ) -> None:
        self._child: subprocess.Popen[bytes] | None = child
        self.host = host
        self.port = port
        self.pid = child.pid
        self.dispatches = dispatches  # the child sends the outbox (start_sink_process's `mail`)
        self._pipe = threading.Lock()
        self._stopping = threading.Event()
        self._respawn = respawn
        if respawn is not None:
            threading.Thread(target=self._watch, name="mail-process-watch", daemon=True).start()

    def nudge(self) -> None:
        """Tell the child's dispatcher that mail may have been queued (a request thread calls this)."""
        with self._pipe:
            child = self._child
            if child is None or child.stdin is None or child.stdin.closed:
                return  # stopped, or ended and not yet replaced
            try:
                os.write(child.stdin.fileno(), b"\n")
            except BlockingIOError:
                pass  # the pipe is full of nudges the child has not read yet: it will run a round anyway
            except OSError:
                pass  # the child has ended: _watch starts a new one, which looks for due mail itself

    def _watch(self) -> None:
        """Start a new child when the running one ends on its own (killed by an operator or for memory),
        on the same port with the same token, so mail keeps going out and /mail keeps receiving. Ends
        when stop() has taken the child away."""
        assert self._respawn is not None
        while True:
            with self._pipe:
                child = self._child
            if child is None:
                return
            code = child.wait()
            if self._stopping.is_set():
                return
            logger.error("the mail process %s ended (exit code %s); starting a new one", child.pid, code)
            with self._pipe:  # a nudge never writes to a closed (or reused) descriptor
                _end(child)  # its pipes; it has exited
            while not self._stopping.is_set():
                try:
                    replacement, _port = self._respawn(self.port or 0)
                    break
                except OSError as exc:
                    logger.error("the mail process could not be started again: %s; retrying", exc)
                    self._stopping.wait(RESPAWN_WAIT_S)
            else:
                return
            with self._pipe:
                if self._stopping.is_set():  # stop() came while it started
                    _end(replacement)
                    return
                self._child, self.pid = replacement, replacement.pid

    def stop(self) -> None:
        """Close the child's stdin (it stops listening and exits) and wait for it."""
        self._stopping.set()
        with self._pipe:
            child, self._child = self._child, None
        if child is not None:
            if self.port is not None:
                forget_token(self.port)
            _end(child)

    def __enter__(self) -> SinkProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_sink_process(
    database: DatabaseSettings,
    host: str = SINK_HOST,
    port: int = 0,
    *,
    mail: MailSettings | None = None,
    clock: ClockSettings | None = None,
) -> SinkProcess:
    """Start the built-in sink in a child process storing into `database`; returns once it listens.

    Mail reaches it only through `mail.smtp.mailer_for(settings, sink.port)` in this process, which adds
    the token this function chose and handed to the child. With `mail` (and `clock`, the process clock's
    settings) the child also dispatches the outbox to itself; nudge() it when mail may have been queued.

    Raises:
        OSError: the address cannot be bound (the message names the setting to change), or the child
            ended or stayed silent before it listened.
    """
    return _start(database, host, port, mail, clock, receive=True)


def start_mail_process(database: DatabaseSettings, mail: MailSettings, clock: ClockSettings) -> SinkProcess:
    """Start a child process that only sends the outbox, to the relay `mail` names (no sink): `serve`
    with a relay keeps its mail off the web process's GIL too. nudge() it when mail may have been queued.

    Raises:
        OSError: the child ended or stayed silent before it started.
    """
    return _start(database, SINK_HOST, 0, mail, clock, receive=False)


def _start(
    database: DatabaseSettings,
    host: str,
    port: int,
    mail: MailSettings | None,
    clock: ClockSettings | None,
    *,
    receive: bool,
) -> SinkProcess:
    token = secrets.token_urlsafe(32)
    spawn = functools.partial(_spawn, database, host, mail, clock, receive, token)
    child, bound = spawn(port)
    # A child that sends the outbox is started again if it ends on its own (else mail would stop until
    # serve restarts); a sink that only receives is not (serve runs one only with the scheduler off, when
    # nothing sends to it).
    return SinkProcess(child, host, bound, mail is not None, respawn=spawn if mail is not None else None)


def _spawn(
    database: DatabaseSettings,
    host: str,
    mail: MailSettings | None,
    clock: ClockSettings | None,
    receive: bool,
    token: str,
    port: int,
) -> tuple[subprocess.Popen[bytes], int | None]:
    """A started child and its bound port (None without a sink)."""
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(_python_path())}
    child = subprocess.Popen(
        [sys.executable, "-m", MODULE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=environment
    )
    try:
        assert child.stdin is not None and child.stdout is not None
        settings: dict[str, Any] = {
            "database": dataclasses.asdict(database),
            "host": host,
            "port": port,
            "token": token,
            "receive": receive,
        }
        if mail is not None:
            settings["dispatch"] = {
                "mail": dataclasses.asdict(mail),
                "clock": dataclasses.asdict(clock or ClockSettings(mode="real", start="")),
            }
        child.stdin.write(json.dumps(settings).encode() + b"\n")
        child.stdin.flush()
        answer = _answer(child, START_TIMEOUT_S)
        child.stdout.close()  # the child says nothing more
        os.set_blocking(child.stdin.fileno(), False)  # a nudge never waits for the child (SinkProcess.nudge)
    except BaseException:
        _end(child)
        raise
    if "port" not in answer:
        _end(child)
        raise OSError(answer.get("errno"), answer["error"])
    if answer["port"] is not None:
        remember_token(answer["port"], token)
    return child, answer["port"]


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
    factory = make_session_factory(engine)
    sink = None
    try:
        if settings["receive"]:
            sink = start_sink(factory, settings["host"], settings["port"], token=settings["token"])
    except OSError as exc:  # its text names the setting to change; the parent raises it again
        _say({"errno": exc.errno, "error": exc.strerror or str(exc)})
        engine.dispose()
        sys.exit(1)
    port = sink.port if sink is not None else None
    dispatcher = _dispatcher(settings.get("dispatch"), factory, port)
    _say({"port": port})
    try:
        while os.read(sys.stdin.fileno(), 4096):  # nudges; end-of-file is the signal to stop
            if dispatcher is not None:
                dispatcher.nudge()
    finally:
        if dispatcher is not None:
            dispatcher.stop(DISPATCH_STOP_S)
        if sink is not None:
            sink.stop()
        engine.dispose()


def _dispatcher(
    settings: dict[str, Any] | None, factory: sessionmaker[Session], port: int | None
) -> MailDispatcher | None:
    """The child's outbox dispatcher, started, when the parent handed it the mail and clock settings: to
    this child's sink on `port`, or (None) to the relay the mail settings name."""
    if not settings:
        return None
    # Imported here: a sink that does not dispatch needs neither yagmail nor the clock's tables.
    from workflows.mail.dispatch_loop import MailDispatcher
    from workflows.mail.smtp import mailer_for
    from workflows.store.stored_clock import clock_for

    mail = MailSettings(**settings["mail"])
    clock = clock_for(ClockSettings(**settings["clock"]), factory)
    dispatcher = MailDispatcher(factory, mailer_for(mail, port, clock=clock), mail, clock)
    dispatcher.start()
    return dispatcher


def _say(answer: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
