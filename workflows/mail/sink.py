"""The built-in SMTP sink: when no relay is configured, mail is received on loopback and stored for /mail."""

from __future__ import annotations

import asyncio
import email
import email.policy
import hmac
import logging
import secrets
import socket
from email.parser import BytesHeaderParser
from typing import Any, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession
from sqlalchemy import ColumnElement, Engine, Table, func, insert, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from workflows.clock import utcnow
from workflows.store.db import WRITE_OPTION
from workflows.store.paging import Page
from workflows.store.sink_tables import SinkMessage

logger = logging.getLogger(__name__)

SINK_HOST = "127.0.0.1"
# Passed to aiosmtpd so it does not call socket.getfqdn(), which can wait seconds on a slow resolver.
SINK_SERVER_NAME = "creditflow-sink"
MAX_PER_PAGE = 500
# The header by which creditflow's own mailer proves a message comes from this process (stripped on receipt).
TOKEN_HEADER = "X-Creditflow-Sink-Token"

# The token of each sink this process runs, by port. A token never leaves the process: only a mailer made
# here (mail.smtp.mailer_for, which callers hand the port) can present it, so another local program that
# finds the port cannot make its mail appear at /mail. Callers pass ports around, hence the lookup by port.
_TOKENS: dict[int, str] = {}


def sink_token(port: int) -> str | None:
    """The token a message to this process's sink on `port` must carry; None for any other server."""
    return _TOKENS.get(port)


def remember_token(port: int, token: str) -> None:
    """Note the token of a sink on `port` run for this process (in it, or in its child: sink_process)."""
    _TOKENS[port] = token


def forget_token(port: int) -> None:
    """The sink on `port` has stopped: mail to that port no longer carries its token."""
    _TOKENS.pop(port, None)


class SinkController(Controller):
    """aiosmtpd's threaded controller, able to listen on port 0 (any free port)."""

    def _trigger_server(self) -> None:
        # Controller.start() finishes by connecting to self.port; with port 0 that must be the port the
        # OS actually bound, which only the listening socket knows (binding 0 avoids a pick-then-bind race).
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]  # aiosmtpd leaves it unannotated


def _bind_error(host: str, port: int, exc: OSError) -> OSError:
    return OSError(
        exc.errno,
        f"cannot start the SMTP sink on {host}:{port}: {exc.strerror or exc}; "
        "set [mail] sink_port (0 = any free port) or configure a relay with CREDITFLOW_SMTP_HOST",
    )


def start_controller(handler: Any, host: str = SINK_HOST, port: int = 0) -> SinkController:
    """Start an aiosmtpd server for `handler` in its own thread; the bound port is on `.port`.

    Raises:
        OSError: the address cannot be bound (e.g. the port is in use); the message names the setting.
    """
    if port:
        # aiosmtpd reports a failed bind only after its 5 s start-up timeout; a probe fails at once.
        try:
            family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
            socket.create_server((host, port), family=family).close()
        except OSError as exc:
            raise _bind_error(host, port, exc) from exc
    controller = SinkController(handler, hostname=host, port=port, server_hostname=SINK_SERVER_NAME)
    try:
        controller.start()
    except OSError as exc:
        controller.stop(no_assert=True)
        # aiosmtpd leaves the event loop of a server that never started open.
        if not controller.loop.is_closed():
            controller.loop.close()
        raise _bind_error(host, port, exc) from exc
    return controller


def _clip(value: str, column: Any) -> str:
    # The sink must accept whatever arrives; over-long header values are cut to fit their column.
    length: int = column.property.columns[0].type.length
    return value if len(value) <= length else value[: length - 1] + "…"


_SINK_TABLE = cast(Table, SinkMessage.__table__)
_INSERT = insert(_SINK_TABLE)


def _store(factory: sessionmaker[Session], mail_from: str, rcpt_tos: list[str], raw: bytes) -> None:
    # Only the headers are read: parsing the body (HTML, a PDF letter) cost more than the rest of the store.
    parsed = BytesHeaderParser(policy=email.policy.default).parsebytes(raw)
    row = {
        # Real time is right here: this records when the message was observed, not domain time.
        "received_at": utcnow(),
        "mail_from": _clip(mail_from, SinkMessage.mail_from),
        "rcpt_to": _clip(", ".join(rcpt_tos), SinkMessage.rcpt_to),
        "subject": _clip(str(parsed.get("Subject", "")), SinkMessage.subject),
        "message_id": _clip(str(parsed.get("Message-ID", "")), SinkMessage.message_id),
        "raw": raw.decode("utf-8", errors="replace"),
    }
    # One Core INSERT on a connection of its own (BEGIN IMMEDIATE on SQLite, as store.db.transaction): an
    # ORM session and unit of work around it cost more CPU than the statement, for every message received.
    engine: Engine = factory.kw["bind"]
    with engine.connect() as connection, connection.execution_options(**{WRITE_OPTION: True}).begin():
        connection.execute(_INSERT, row)


def _strip_token(raw: bytes) -> bytes:
    """The message without its token header, so /mail never shows the token."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = raw.partition(b"\n\n")
    newline = b"\r\n" if b"\r\n" in head else b"\n"
    prefix = TOKEN_HEADER.lower().encode() + b":"
    kept = [line for line in head.split(newline) if not line.lower().startswith(prefix)]
    return newline.join(kept) + sep + body


class _DatabaseHandler:
    """aiosmtpd handler that stores every message carrying the sink's token as a SinkMessage row."""

    def __init__(self, factory: sessionmaker[Session], token: str) -> None:
        self.factory = factory
        self.token = token

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        """Store the message; refuse one without the token (550) and answer 451 (the sender retries)
        when the database is unavailable."""
        content = envelope.content or b""
        raw = content.encode("utf-8") if isinstance(content, str) else content
        presented = BytesHeaderParser().parsebytes(raw).get(TOKEN_HEADER, "")
        if not hmac.compare_digest(str(presented).strip().encode(), self.token.encode()):
            logger.warning(
                "SMTP sink refused a message from %s without creditflow's token", envelope.mail_from
            )
            return "550 5.7.1 The built-in sink accepts mail only from creditflow itself"
        raw = _strip_token(raw)
        loop = asyncio.get_running_loop()
        try:
            # Off the event loop: a busy SQLite file may block for seconds, and other SMTP sessions
            # on this loop must keep being served meanwhile.
            await loop.run_in_executor(
                None, _store, self.factory, envelope.mail_from or "", list(envelope.rcpt_tos), raw
            )
        except SQLAlchemyError:
            logger.exception("SMTP sink could not store a message from %s", envelope.mail_from)
            return "451 4.3.0 Message not stored, try again later"
        return "250 Message accepted for delivery"


class SmtpSink:
    """A running built-in sink; `port` is the bound port, `stop()` shuts it down."""

    def __init__(self, controller: SinkController) -> None:
        self._controller: SinkController | None = controller
        self.host: str = controller.hostname
        self.port: int = controller.port

    def stop(self) -> None:
        """Stop listening and wait for the server thread to end; a second call does nothing."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
            forget_token(self.port)

    def __enter__(self) -> SmtpSink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_sink(
    factory: sessionmaker[Session], host: str = SINK_HOST, port: int = 0, *, token: str | None = None
) -> SmtpSink:
    """Start the built-in sink in this process (on a thread), storing every message this process sends it
    as a SinkMessage row. `serve` runs it in a child process instead (sink_process.start_sink_process).

    Mail reaches it only through `mail.smtp.mailer_for(settings, sink.port)` in this process: each sink has
    a random token (`token`: the one the parent of a sink process chose), and a message without it is refused.

    Raises:
        OSError: the address cannot be bound; the message names the setting to change.
    """
    token = token or secrets.token_urlsafe(32)
    sink = SmtpSink(start_controller(_DatabaseHandler(factory, token), host, port))
    remember_token(sink.port, token)
    return sink


def _addressed_to(address: str) -> ColumnElement[bool]:
    # rcpt_to is the comma-joined envelope; match whole addresses so that anna@ never sees joanna@'s mail.
    needle = address.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    column = func.lower(SinkMessage.rcpt_to)
    patterns = (needle, f"{needle}, %", f"%, {needle}", f"%, {needle}, %")
    return or_(*(column.like(pattern, escape="\\") for pattern in patterns))


def list_sink_messages(
    session: Session, *, to: str | None = None, page: int = 1, per_page: int = 50
) -> Page[SinkMessage]:
    """One page of received messages, newest first; with `to`, only those sent to that address.

    Raises:
        ValueError: `page` is below 1 or `per_page` is outside 1..500.
    """
    if page < 1:
        raise ValueError(f"page must be 1 or more, got {page}")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise ValueError(f"per_page must be between 1 and {MAX_PER_PAGE}, got {per_page}")
    conditions = [_addressed_to(to)] if to else []
    total = session.scalar(select(func.count()).select_from(SinkMessage).where(*conditions)) or 0
    messages = session.scalars(
        select(SinkMessage)
        .where(*conditions)
        .order_by(SinkMessage.received_at.desc(), SinkMessage.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page(list(messages), total, page, per_page)
