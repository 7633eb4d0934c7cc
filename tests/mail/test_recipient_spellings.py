"""One reader is one recipient whatever the letter case of the address they are listed under
(outbox._clean_recipients): repeats are dropped by the whole address lower-cased, as languages_of matches
users; the first spelling is the one written, and the order given is kept."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from workflows.mail.outbox import queue_email
from workflows.store.db import transaction
from workflows.store.models import OutboxEmail


def test_an_address_in_two_letter_cases_is_one_recipient_written_as_first_given(
    session_factory: Any, clock: datetime
) -> None:
    to = ["Ann@Example.com", "bob@example.com", " ann@EXAMPLE.COM ", "BOB@example.com", "carl@example.com"]
    with transaction(session_factory) as session:
        queued = queue_email(
            session,
            to=to,
            template="generic",
            context={"subject": "s", "message": "m"},
            dedupe_key="spellings",
            now=clock,
        )
    assert queued is not None
    with session_factory() as session:
        (written,) = session.scalars(select(OutboxEmail.to))
    assert written == "Ann@Example.com, bob@example.com, carl@example.com"
