"""Attack: take the SMTP relay down the slow way (it accepts connections and never answers).

Each due e-mail then waited the full SMTP timeout (30 s) before the next was tried: a dunning day's
5,241 notices held the tick (or the scheduler's one thread, and with it every timer and daily job) for
about 44 hours. An e-mail that fails because the relay is unreachable now ends the round's e-mail phase:
it is retried with its backoff, the others stay due, untouched (no attempt counted), for the next round.
A message the relay refuses (a bad address) is the message's own failure: the others still go.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import select

from workflows.batch.jobs import dispatch_all_due_emails
from workflows.engine.runtime import Runtime
from workflows.mail import smtp
from workflows.mail.outbox import queue_email
from workflows.store.db import transaction
from workflows.store.models import OutboxEmail

NOTICES = 6
TIMEOUT_S = 1.0


@pytest.fixture
def silent_relay() -> Iterator[int]:
    """A port that accepts SMTP connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def queue_notices(rt: Runtime, now: datetime, addresses: list[str]) -> None:
    with transaction(rt.factory) as session:
        for n, address in enumerate(addresses):
            queue_email(
                session,
                to=[address],
                template="generic",
                context={"subject": f"Notice {n}", "message": "Please pay."},
                dedupe_key=f"notice:{n}",
                now=now,
            )


def attempts(rt: Runtime) -> list[int]:
    with rt.factory() as session:
        return list(session.scalars(select(OutboxEmail.attempts).order_by(OutboxEmail.id)))


def test_a_silent_relay_costs_one_timeout_per_round_not_one_per_email(
    rt: Runtime, clock: datetime, silent_relay: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(smtp, "SMTP_TIMEOUT_S", TIMEOUT_S)  # 30 s in production; the count is the point
    queue_notices(rt, clock, [f"customer{n}@example.com" for n in range(NOTICES)])
    settings = rt.settings.mail
    relay = smtp.YagmailMailer(settings, "127.0.0.1", silent_relay)

    started = time.monotonic()
    result = dispatch_all_due_emails(rt, relay, clock)

    assert time.monotonic() - started < 3 * TIMEOUT_S
    assert (result.sent, result.retried) == (0, 1)
    assert attempts(rt) == [1] + [0] * (NOTICES - 1)  # the others were not tried, so not counted
