"""Attack: move the simulated clock while the scheduler is sending an e-mail.

A dispatcher claims an outbox row by pushing its `next_attempt_at` a lease (10 minutes) past the time
it acts at, so another dispatcher leaves the row alone while it is being sent. On a simulated clock
that lease is simulated time: a `tick --now` a day later (another process, at once) finds the row due
again and sends it too, while the first send is still in flight. The customer gets the notice twice.
Fixed: the claim also holds a lease on the wall clock (outbox_emails.leased_until, migration 0010m).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.smtp import RecordingSink
from workflows.engine.runtime import Runtime
from workflows.mail.outbox import dispatch_due_emails, queue_email
from workflows.mail.sink import SINK_HOST, start_controller
from workflows.mail.smtp import mailer_for
from workflows.store.db import transaction


class SlowSink(RecordingSink):
    """A relay that takes a second to accept each message."""

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await asyncio.sleep(1.0)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def slow_sink() -> Iterator[SlowSink]:
    sink = SlowSink()
    controller = start_controller(sink, SINK_HOST, 0)
    sink.port = controller.port
    yield sink
    controller.stop()


def test_a_clock_move_during_a_send_does_not_send_the_notice_twice(
    rt: Runtime, clock: datetime, slow_sink: SlowSink
) -> None:
    with transaction(rt.factory) as session:
        queue_email(
            session,
            to=["ap@customer.example"],
            template="generic",
            context={"subject": "Payment reminder", "message": "Please pay."},
            dedupe_key="notice:1",
            now=clock,
        )
    mailer = mailer_for(rt.settings.mail, slow_sink.port)
    scheduler = threading.Thread(
        target=dispatch_due_emails, args=(rt.factory, mailer, rt.settings.mail, clock)
    )
    scheduler.start()  # the scheduler's round at the clock's time: the send takes a second
    threading.Event().wait(0.3)
    # Meanwhile a trainer's `tick --now` a day later, in another process.
    dispatch_due_emails(rt.factory, mailer, rt.settings.mail, clock + timedelta(days=1))
    scheduler.join()

    assert len(slow_sink.messages) == 1
