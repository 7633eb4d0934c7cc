"""pytest plugin: `smtp_sink`, a real aiosmtpd server on loopback that records every message it receives."""

from __future__ import annotations

import email
import email.policy
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from workflows.mail.sink import SINK_HOST, start_controller


class RecordingSink:
    """Parsed messages and envelope recipients, in arrival order; filled from aiosmtpd's own thread."""

    def __init__(self) -> None:
        self.host = SINK_HOST
        self.port = 0
        self.messages: list[EmailMessage] = []
        self.envelope_recipients: list[list[str]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Record the message (aiosmtpd calls this once per DATA command)."""
        content = envelope.content or b""
        raw = content.encode() if isinstance(content, str) else content
        # SMTP carries CRLF line ends; tests compare bodies with the "\n" the templates were written with.
        raw = raw.replace(b"\r\n", b"\n")
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        with self._lock:
            self.messages.append(parsed)
            self.envelope_recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 5.0) -> list[EmailMessage]:
        """Wait until at least `count` messages arrived and return them all; fail the test on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if len(self.messages) >= count:
                    return list(self.messages)
                got = [str(m["Subject"]) for m in self.messages]
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"expected {count} message(s) at the SMTP sink within {timeout}s, got {got}"
                )
            # Polling is fine here: delivery happens on aiosmtpd's thread, asynchronously to the test.
            time.sleep(0.01)


@pytest.fixture
def smtp_sink() -> Iterator[RecordingSink]:
    """A started SMTP server on 127.0.0.1 and a free port, stopped after the test."""
    sink = RecordingSink()
    controller = start_controller(sink, SINK_HOST, 0)
    sink.port = controller.port
    yield sink
    controller.stop()
