"""Sending mail: the Mailer protocol and its yagmail implementation, to a relay or the built-in sink."""

from __future__ import annotations

import base64
import dataclasses
import io
import itertools
import logging
import secrets
import smtplib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from email.header import Header
from email.message import Message
from email.utils import format_datetime
from typing import Any, Protocol

import yagmail
from yagmail.headers import resolve_addresses
from yagmail.message import prepare_message

from workflows.clock import Clock
from workflows.mail.header_fold import QUICK_COMPAT32
from workflows.mail.sink import SINK_HOST, TOKEN_HEADER, sink_token
from workflows.messages import _
from workflows.settings import MailSettings
from workflows.store.models import OutboxEmail

logger = logging.getLogger(__name__)


# An unresponsive relay must not stall the scheduler thread; the row is retried later instead.
SMTP_TIMEOUT_S = 30.0


class Mailer(Protocol):
    def send(self, email: OutboxEmail) -> None:
        """Deliver one outbox row; raise on any failure so that the row is retried."""


@dataclass(frozen=True)
class Attachment:
    """A document sent with an e-mail (stored in the outbox row, so a retry sends the same bytes): text as it
    is (`encoding` "utf-8"), or a binary file such as a PDF letter as base64 (`encoding` "base64",
    Attachment.of_bytes)."""

    filename: str
    content_type: str
    content: str
    encoding: str = "utf-8"

    @classmethod
    def of_bytes(cls, filename: str, content_type: str, data: bytes) -> Attachment:
        return cls(filename, content_type, base64.b64encode(data).decode("ascii"), "base64")

    @property
    def data(self) -> bytes:
        return attachment_bytes(dataclasses.asdict(self))


def attachment_bytes(stored: Mapping[str, str]) -> bytes:
    """The bytes of an attachment as the outbox stores it (rows from before `encoding` hold UTF-8 text)."""
    if stored.get("encoding") == "base64":
        return base64.b64decode(stored["content"])
    return stored["content"].encode("utf-8")


def _attachment_file(stored: Mapping[str, str]) -> io.BytesIO:
    # yagmail takes attachments as named file objects; the name sets filename and MIME type (a .pdf is sent
    # as application/pdf with Content-Disposition: attachment).
    handle = io.BytesIO(attachment_bytes(stored))
    handle.name = _one_line_name(stored["filename"])
    return handle


def _one_line_name(name: str) -> str:
    """The file name with each run of unprintable characters (CR, LF, tab, U+2028, bidi controls…) made one
    `_`. yagmail writes an ASCII name into Content-Disposition as it is: a line break there ended the part's
    headers (its Content-Transfer-Encoding became body text) or raised HeaderParseError on every dispatch, so
    the row never sent. Our names are ids (letter_names); this holds for stored rows of any age too."""
    runs = itertools.groupby(name, key=str.isprintable)
    return "".join("".join(chars) if printable else "_" for printable, chars in runs)


def _addresses(to: str) -> list[str]:
    return [a.strip() for a in to.split(",") if a.strip()]


def encoded_subject(subject: str) -> str:
    """The Subject as RFC 2047 wants a non-ASCII one: UTF-8 encoded words of at most 75 characters each, on
    folded lines. yagmail sends the message with as_string(), which folds no header, so a long subject would
    go out as one overlong encoded word. An ASCII subject is sent as it is."""
    if subject.isascii():
        return subject
    return Header(subject, "utf-8", header_name="Subject").encode()


class YagmailMailer:
    """Sends outbox rows with yagmail to one SMTP server (thread-safe: nothing is shared between sends).

    `send` uses a connection of its own per message; `connection()` keeps one open for a run of messages
    (dispatch_due_emails sends a batch over one). yagmail builds the message; its text/plain and text/html
    parts are then the rendered NAME.txt and NAME.html as they are (yagmail would derive both from the HTML
    body with a `<br>` for each line break); `prettify_html=False` because its premailer pass drops content.
    """

    def __init__(
        self,
        settings: MailSettings,
        smtp_host: str,
        smtp_port: int,
        extra_headers: Mapping[str, str] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.smtp_host = smtp_host
        self.smtp_port = smtp_port or (465 if settings.use_ssl else 25)
        self.extra_headers = dict(extra_headers or {})
        self.clock = clock  # sets the Date header (the simulated time in a training environment)

    def send(self, email: OutboxEmail) -> None:
        """Deliver one row on a connection of its own; raises when the server does not accept it."""
        with self.connection() as connection:
            connection.send(email)

    @contextmanager
    def connection(self) -> Iterator[SmtpConnection]:
        """One SMTP connection for the rows sent through it: opened by the first, closed (QUIT) at the end."""
        connection = SmtpConnection(self)
        try:
            yield connection
        finally:
            connection.close()

    def _client(self) -> _Client:
        return _Client(
            user={self.settings.sender: "creditflow"},
            password=self.settings.password or None,
            host=self.smtp_host,
            port=self.smtp_port,
            smtp_ssl=self.settings.use_ssl,
            smtp_starttls=self.settings.use_starttls,
            smtp_skip_login=not self.settings.username,
            soft_email_validation=False,
            timeout=SMTP_TIMEOUT_S,
        )

    def _message(self, client: _Client, email: OutboxEmail) -> tuple[list[str], str]:
        """The row's recipients and the message as yagmail writes it."""
        # RFC 3834: no out-of-office replies
        headers = {"Auto-Submitted": "auto-generated", **self.extra_headers}
        if self.clock is not None:
            headers["Date"] = format_datetime(self.clock())
        # yagmail's prepare_send, but with the MIME boundaries chosen here: the email package's own choice
        # compiles a new regular expression per multipart part to check its random boundary against the
        # text, a third of a message's CPU. A 128-bit random token cannot occur in the parts.
        addresses = resolve_addresses(client.user, client.useralias, _addresses(email.to), None, None)
        message = prepare_message(
            client.user,
            client.useralias,
            addresses,
            encoded_subject(email.subject),
            [email.body_html],
            [_attachment_file(a) for a in email.attachments] or None,
            headers,
            client.encoding,
            False,  # prettify_html: its premailer pass drops content
            email.message_id,
            False,  # group_messages
            client.dkim,
        )
        for part in message.walk():
            _name_for_every_client(part)
            if part.is_multipart():
                part.set_boundary(f"==============={secrets.token_hex(16)}==")
                if part.get_content_subtype() == "alternative":
                    _plain_text_from_template(part, email.body_text)
                elif part.get_content_subtype() == "related":
                    _html_as_rendered(part, email.body_html)
        return list(addresses["recipients"]), message.as_string(policy=QUICK_COMPAT32)

    def _dropped(self) -> ConnectionError:
        return ConnectionError(
            _(
                "the SMTP server %(host)s:%(port)s dropped the connection",
                host=self.smtp_host,
                port=self.smtp_port,
            )
        )


class SmtpConnection:
    """An SMTP connection of a YagmailMailer for a run of messages: opened by the first `send`, closed by
    `close` (or after a message fails, so the next one starts on a fresh connection as it always did).

    `send` returns once the server accepted the message (its reply to DATA) and raises otherwise. A relay
    may close a connection it finds idle: when a reused connection turns out closed (or answers 421) before
    the message's DATA was sent, nothing of the message can have been accepted, so it is sent again once on
    a new connection. A connection lost during or after DATA is an error (ConnectionError): the message
    may have arrived, and the outbox retries it later, as when a connection per message was lost.
    """

    def __init__(self, mailer: YagmailMailer) -> None:
        self.mailer = mailer
        self.client: _Client | None = None
        self.sent = 0  # messages the open connection carried

    def send(self, email: OutboxEmail) -> None:
        """Deliver one row; raises when the server does not accept it."""
        client = self.client or self.mailer._client()
        recipients, message = self.mailer._message(client, email)
        try:
            try:
                refused = self._transmit(client, recipients, message)
            except (smtplib.SMTPServerDisconnected, smtplib.SMTPResponseException) as exc:
                if self.sent == 0 or client.smtp.data_sent or not _closing(exc):
                    raise
                self.close()  # the relay closed the idle connection before this message's DATA
                refused = self._transmit(self.mailer._client(), recipients, message)
        except smtplib.SMTPServerDisconnected:
            self.close()
            raise self.mailer._dropped() from None
        except BaseException:
            self.close()  # a refused message or a broken link: the next row starts afresh
            raise
        if refused:
            # Retrying would re-send to the recipients that did accept, so the row counts as sent.
            logger.warning("e-mail %s: the server refused some recipients: %s", email.message_id, refused)

    def _transmit(self, client: _Client, recipients: list[str], message: str) -> dict[str, Any]:
        if self.client is not client:
            client.login()  # connects (and STARTTLS, AUTH as configured)
            self.client, self.sent = client, 0
        client.smtp.data_sent = False
        refused: dict[str, Any] = client.smtp.sendmail(client.user, recipients, message)
        self.sent += 1
        return refused

    def close(self) -> None:
        """QUIT and drop the connection, if one is open."""
        if self.client is not None:
            client, self.client, self.sent = self.client, None, 0
            try:
                client.close()
            except (OSError, smtplib.SMTPException):
                pass  # the link is gone already; nothing waits on it


def _closing(exc: Exception) -> bool:
    """The relay closed the connection: it dropped it, or said 421 (closing the channel) and then did."""
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return True
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code == 421


class _NotesData:
    """An smtplib connection that notes when a message's DATA command goes out (`data_sent`)."""

    data_sent = False

    def data(self, msg: Any) -> Any:
        self.data_sent = True
        return super().data(msg)  # type: ignore[misc]


class _SMTP(_NotesData, smtplib.SMTP):
    pass


class _SMTPSSL(_NotesData, smtplib.SMTP_SSL):
    pass


class _Client(yagmail.SMTP):  # type: ignore[misc]  # yagmail is untyped
    """yagmail's client on a connection that notes when DATA goes out."""

    smtp: _SMTP | _SMTPSSL

    @property
    def connection(self) -> type[_SMTP | _SMTPSSL]:
        return _SMTPSSL if self.ssl else _SMTP


def mailer_for(settings: MailSettings, sink_port: int | None, *, clock: Clock | None = None) -> Mailer:
    """The configured relay when `smtp_host` is set, else the built-in sink on 127.0.0.1:`sink_port`;
    `clock` (the runtime's) dates each message, else the wall clock does.

    Raises:
        ValueError: no relay is configured and no sink port was given.
    """
    if settings.smtp_host:
        return YagmailMailer(settings, settings.smtp_host, settings.smtp_port, clock=clock)
    if not sink_port:
        raise ValueError(
            "no SMTP relay is configured ([mail] smtp_host or CREDITFLOW_SMTP_HOST) and no built-in sink "
            "port was given; start one with workflows.mail.sink.start_sink() and pass its port"
        )
    # The sink is plain SMTP on loopback: no TLS and no login, whatever the relay settings say. A sink this
    # process runs admits only mail carrying its token.
    plain = dataclasses.replace(settings, use_ssl=False, use_starttls=False, username="", password="")
    token = sink_token(sink_port)
    return YagmailMailer(plain, SINK_HOST, sink_port, {TOKEN_HEADER: token} if token else None, clock=clock)


def _plain_text_from_template(alternative: Message, text: str) -> None:
    """Put the rendered plain-text template (NAME.txt) into the text/plain alternative: yagmail derives that
    part from the HTML (its source, `<br>` and all), which is not what a plain-text reader should get."""
    for part in alternative.get_payload():
        if isinstance(part, Message) and part.get_content_type() == "text/plain" and text:
            del part["Content-Transfer-Encoding"]
            part.set_payload(text, charset="utf-8")


def _html_as_rendered(related: Message, html: str) -> None:
    """Put the rendered HTML template, as it is, into the text/html part. yagmail treats every content string
    as plain text to be shown as HTML: it replaces each line break with `<br>` and wraps the string in a
    `<div>`, so a whole document arrived as `<div><!DOCTYPE html><br><html …><br><head><br>…`: a stray blank
    line after every tag in the reader's client (R21 F-14)."""
    for part in related.get_payload():
        if isinstance(part, Message) and part.get_content_type() == "text/html":
            del part["Content-Transfer-Encoding"]
            part.set_payload(html, charset="utf-8")
            return


def _name_for_every_client(part: Message) -> None:
    """Name a non-ASCII attachment (催款函-….pdf) so that every mail client shows it.

    yagmail (through the email package) writes it as RFC 2231 wants, `filename*=utf-8''%E5%82%AC…` in
    Content-Disposition and `name*=` in Content-Type: Thunderbird, Apple Mail, Gmail and current Outlook read
    that. Older Outlook, Foxmail and some webmail read only Content-Type's `name`, in the RFC 2047 form their
    own mail uses (`name="=?utf-8?b?…?="`); without it they show a blank or "ATT00001.bin". So
    Content-Disposition keeps the RFC 2231 name and Content-Type carries the RFC 2047 one.
    """
    name = part.get_filename()
    if not name or name.isascii() or part.get_content_disposition() != "attachment":
        return
    # Encoded words of at most 75 characters each (RFC 2047), side by side in one quoted value.
    words = " ".join(word.strip() for word in Header(name, "utf-8").encode(linesep="\n").split("\n"))
    part.replace_header("Content-Type", f'{part.get_content_type()}; name="{words}"')
