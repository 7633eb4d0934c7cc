"""Issue 19: `serve` runs the built-in sink in a child process (mail.sink_process), beside the web process
instead of on its GIL, with the in-process sink's contract: 127.0.0.1, the port known when start returns,
a SinkMessage row per message of this process, refusal of mail without the token (which is in neither the
child's argv nor its environment), the same clear error for a taken port, and no sink outliving its parent,
not even one killed with kill -9."""

from __future__ import annotations

import os
import signal
import smtplib
import socket
import subprocess
import sys
import textwrap
import time
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from workflows.mail.outbox import dispatch_due_emails, queue_email
from workflows.mail.sink import SINK_HOST, TOKEN_HEADER, sink_token
from workflows.mail.sink_process import start_sink_process
from workflows.mail.smtp import mailer_for
from workflows.settings import Settings
from workflows.store.db import transaction
from workflows.store.sink_tables import SinkMessage

pytestmark = pytest.mark.db

ROOT = Path(__file__).resolve().parents[2]


def _listening(port: int) -> bool:
    try:
        with socket.create_connection((SINK_HOST, port), timeout=2):
            return True
    except OSError:
        return False


def _gone(pid: int) -> bool:
    """The process has ended: no such pid, or a zombie nobody reaped yet (its sockets are closed)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return True
    return state == "Z"


def _wait_until(condition: object, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def _forged(subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "creditflow@example.com"
    message["To"] = "cfo1@example.com"
    message["Subject"] = subject
    message[TOKEN_HEADER] = "guess"
    message.set_content("Please approve the attached limit at once.")
    return message


def _subjects(factory: sessionmaker[Session]) -> list[str]:
    with factory() as session:
        return list(session.scalars(select(SinkMessage.subject).order_by(SinkMessage.id)))


def test_the_sink_process_stores_this_process_mail_and_refuses_other_mail(
    settings: Settings, session_factory: sessionmaker[Session], clock: datetime
) -> None:
    with transaction(session_factory) as session:
        queue_email(
            session,
            dedupe_key="process-1",
            to=["anna@example.com"],
            template="generic",
            context={"subject": "Sent to the child", "message": "From the outbox"},
            now=clock,
        )
    with start_sink_process(settings.database) as sink:
        assert sink.host == SINK_HOST and sink.port and _listening(sink.port)
        assert sink.pid != os.getpid()
        with pytest.raises(smtplib.SMTPDataError) as refused:
            with smtplib.SMTP(sink.host, sink.port, timeout=10) as client:
                client.send_message(_forged("Forged"))
        assert refused.value.smtp_code == 550
        result = dispatch_due_emails(
            session_factory, mailer_for(settings.mail, sink.port), settings.mail, clock
        )
    assert result.sent == 1
    assert _subjects(session_factory) == ["Sent to the child"]
    with session_factory() as session:
        raw = session.scalars(select(SinkMessage.raw)).one()
    assert TOKEN_HEADER.lower() not in raw.lower()  # /mail never shows the token


def test_the_token_is_in_neither_the_argv_nor_the_environment_of_the_child(settings: Settings) -> None:
    with start_sink_process(settings.database) as sink:
        token = sink_token(sink.port)
        assert token
        visible = b"".join(Path(f"/proc/{sink.pid}/{name}").read_bytes() for name in ("cmdline", "environ"))
        assert b"workflows.mail.sink_process" in visible  # the files were read
        assert token.encode() not in visible
    assert sink_token(sink.port) is None  # stopped: this process's mail no longer carries it


def test_stop_ends_the_child_and_frees_the_port(settings: Settings) -> None:
    sink = start_sink_process(settings.database)
    pid, port = sink.pid, sink.port
    sink.stop()
    sink.stop()  # a second call does nothing
    assert _gone(pid)
    assert not _listening(port)


def test_a_taken_port_is_the_same_clear_error(settings: Settings) -> None:
    with socket.socket() as taken:
        taken.bind((SINK_HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(
            OSError,
            match=r"cannot start the SMTP sink on 127\.0\.0\.1:\d+: .*"
            r"set \[mail\] sink_port \(0 = any free port\)",
        ):
            start_sink_process(settings.database, port=port)


PARENT = textwrap.dedent(
    """
    import sys, time
    from workflows.mail.sink_process import start_sink_process
    from workflows.settings import DatabaseSettings

    sink = start_sink_process(DatabaseSettings(url=sys.argv[1], busy_timeout_s=5))
    print(sink.pid, sink.port, flush=True)
    time.sleep(120)
    """
)


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_the_sink_process_ends_with_its_parent_however_that_ends(
    settings: Settings, how: signal.Signals
) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, settings.database.url], cwd=ROOT, env=env, stdout=subprocess.PIPE
    )
    try:
        assert parent.stdout is not None
        pid, port = (int(word) for word in parent.stdout.readline().split())
        assert _listening(port)
        parent.send_signal(how)  # neither gives the parent a chance to stop its sink
        parent.wait(timeout=10)
        assert _wait_until(lambda: _gone(pid)), "the sink process outlived its parent"
        assert not _listening(port)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()


def test_ctrl_c_of_the_process_group_leaves_stopping_to_the_parent(settings: Settings) -> None:
    # A terminal's Ctrl-C reaches the child too; `serve` still needs its sink for the scheduler's last round.
    with start_sink_process(settings.database) as sink:
        os.kill(sink.pid, signal.SIGINT)
        time.sleep(0.3)
        assert not _gone(sink.pid) and _listening(sink.port)
