"""Dispatching the e-mail outbox: due rows claimed one by one and sent over one SMTP connection per run.

Queueing (rendering a template into a pending row in the caller's transaction) is mail.outbox.
"""

from __future__ import annotations

import functools
import logging
import smtplib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, CursorResult, Engine, Table, bindparam, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from workflows.clock import utcnow
from workflows.mail.smtp import Mailer
from workflows.redaction import redacted
from workflows.settings import MailSettings
from workflows.store.db import WRITE_OPTION
from workflows.store.models import MailStatus, OutboxEmail

logger = logging.getLogger(__name__)

# A claimed row is hidden from other dispatchers this long. It only matters when a dispatcher dies
# between claiming and recording the outcome: the row is then retried once the lease runs out.
CLAIM_LEASE = timedelta(minutes=10)


@dataclass(frozen=True)
class DispatchResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0


_OUTBOX = cast(Table, OutboxEmail.__table__)
# What the mailer reads of a claimed row; body_text is the text/plain part (smtp._plain_text_from_template).
_SENT_COLUMNS = ("id", "attempts", "message_id", "to", "subject", "body_html", "body_text", "attachments")


@functools.cache
def _claim_statements(postgres: bool, skipping: bool) -> tuple[Any, Any]:
    """The next due row (its id and what the mailer needs), and the UPDATE that claims it: built once (a
    dispatch claims a row per message). Only `skipping` lists the ids to skip: an expanding IN is written
    into the SQL at every execution, even an empty one, and usually there is nothing to skip."""
    c = _OUTBOX.c
    skipped = [c.id.not_in(bindparam("skip", expanding=True))] if skipping else []
    due = (
        select(*(c[name] for name in _SENT_COLUMNS))
        .where(
            c.status == MailStatus.PENDING,
            c.next_attempt_at <= bindparam("now"),
            or_(c.leased_until.is_(None), c.leased_until <= bindparam("wall")),
            *skipped,
        )
        .order_by(c.next_attempt_at, c.id)
        .limit(1)
    )
    if postgres:
        # Another dispatcher's claimed row is skipped, not waited for. SQLite needs nothing here:
        # every transaction starts with BEGIN IMMEDIATE, so claims are serialised.
        due = due.with_for_update(skip_locked=True)
    claim = (
        update(_OUTBOX)
        .where(c.id == bindparam("row"))
        .values(attempts=c.attempts + 1, next_attempt_at=bindparam("due_at"), leased_until=bindparam("lease"))
    )
    return due, claim


def _outcome_statement(*columns: str) -> Any:
    c = _OUTBOX.c
    return (
        update(_OUTBOX)
        .where(
            c.id == bindparam("row"),
            c.status == MailStatus.PENDING,
            # Unchanged attempts mean nobody reclaimed the row after our lease ran out.
            c.attempts == bindparam("claimed_attempts"),
        )
        .values({**{column: bindparam(f"new_{column}") for column in columns}, "leased_until": None})
    )


# The three outcomes of a send (sent; retried later; failed for good), each one statement built once.
_OUTCOMES = {
    frozenset(columns): _outcome_statement(*columns)
    for columns in (
        ("status", "sent_at"),
        ("status", "last_error", "next_attempt_at"),
        ("status", "last_error"),
    )
}


def _record_and_claim(
    factory: sessionmaker[Session],
    outcome: tuple[OutboxEmail, Mapping[str, Any]] | None,
    now: datetime,
    wall: datetime,
    skip: Sequence[int],
) -> OutboxEmail | None:
    """Record the previous row's outcome (if any) and claim the next due row, in one transaction."""
    with _writing(factory) as connection:
        if outcome is not None:
            _record(connection, *outcome)
        due, claim = _claim_statements(connection.dialect.name == "postgresql", bool(skip))
        parameters = {"now": now, "wall": wall, "skip": list(skip)} if skip else {"now": now, "wall": wall}
        row = connection.execute(due, parameters).first()
        if row is None:
            return None
        # Both clocks: the acting one keeps the scheduler from waking for the row, the wall one keeps a
        # `tick --now` a simulated day later (another process) from sending it a second time meanwhile.
        connection.execute(claim, {"row": row.id, "due_at": now + CLAIM_LEASE, "lease": wall + CLAIM_LEASE})
        # A detached row object with what the mailer reads (the mailer protocol takes an OutboxEmail).
        return OutboxEmail(**{**row._mapping, "attempts": row.attempts + 1})


def _record_outcome(factory: sessionmaker[Session], claimed: OutboxEmail, values: Mapping[str, Any]) -> None:
    with _writing(factory) as connection:
        _record(connection, claimed, values)


@contextmanager
def _writing(factory: sessionmaker[Session]) -> Iterator[Connection]:
    """A write transaction (BEGIN IMMEDIATE on SQLite, as store.db.transaction) on a Core connection of the
    factory's engine: the dispatcher runs Core statements only, and an ORM session around them cost as
    much CPU as the statements themselves, for every row sent."""
    engine: Engine = factory.kw["bind"]
    with engine.connect() as connection, connection.execution_options(**{WRITE_OPTION: True}).begin():
        yield connection


def _record(connection: Connection, claimed: OutboxEmail, values: Mapping[str, Any]) -> None:
    statement = _OUTCOMES[frozenset(values)]
    parameters = {f"new_{column}": value for column, value in values.items()}
    parameters.update(row=claimed.id, claimed_attempts=claimed.attempts)
    # An UPDATE always yields a CursorResult; Connection.execute is only typed as returning Result.
    result = cast("CursorResult[Any]", connection.execute(statement, parameters))
    if result.rowcount == 0:
        logger.warning(
            "e-mail %s (outbox row %s) was reclaimed by another dispatcher while this one was sending; "
            "its outcome here is not recorded. Raise CLAIM_LEASE if the relay is this slow.",
            claimed.message_id,
            claimed.id,
        )


def dispatch_due_emails(
    factory: sessionmaker[Session],
    mailer: Mailer,
    settings: MailSettings,
    now: datetime,
    limit: int = 200,
    *,
    wall: Callable[[], datetime] = utcnow,
) -> DispatchResult:
    """Send up to `limit` due outbox rows, oldest first, recording each outcome; never raises for SMTP errors.

    The rows go out one after another over one SMTP connection (when the mailer keeps one, as
    YagmailMailer.connection does; a connection per message cost more CPU than the message). Each row is
    claimed, with a lease, and committed before it is sent; its outcome is recorded once the server has
    answered, in the transaction that claims the next row (the last one's in a transaction of its own). So
    no database transaction stays open while the SMTP server is talked to, a row is marked sent only after
    the server accepted it, and a dispatcher killed mid-batch leaves at most the row it was sending leased
    (retried when the lease runs out), as with one connection per message.
    """
    sent = retried = failed = 0
    # Rows retried in this call: one retried with a zero delay must still be tried only once per call (a sent
    # or failed row is no longer pending, a claimed one is leased).
    retried_ids: list[int] = []
    outcome: tuple[OutboxEmail, Mapping[str, Any]] | None = None  # the last row's, not yet recorded
    with _connection(mailer) as connection:
        for _attempt in range(limit):
            email = _record_and_claim(factory, outcome, now, wall(), retried_ids)
            outcome = None
            if email is None:
                break
            try:
                connection.send(email)
            except Exception as exc:  # sweep loop: one undeliverable row must not stop the others
                values = _failure(email, exc, settings, now)
                if values["status"] == MailStatus.FAILED:
                    failed += 1
                else:
                    retried += 1
                    retried_ids.append(email.id)
                if relay_unreachable(exc):
                    # Every other row would wait out the same timeout (30 s each: hours on a dunning day,
                    # with the scheduler's one thread held). They stay due, untried, for the next round.
                    _record_outcome(factory, email, values)
                    break
                outcome = email, values
            else:
                sent += 1
                outcome = email, {"status": MailStatus.SENT, "sent_at": now}
    if outcome is not None:
        _record_outcome(factory, *outcome)
    return DispatchResult(sent=sent, retried=retried, failed=failed)


def _connection(mailer: Mailer) -> AbstractContextManager[Mailer]:
    """One connection for a run of rows when the mailer keeps one (`connection()`), else the mailer."""
    opener = getattr(mailer, "connection", None)
    return cast("AbstractContextManager[Mailer]", opener()) if callable(opener) else nullcontext(mailer)


def _failure(email: OutboxEmail, exc: Exception, settings: MailSettings, now: datetime) -> dict[str, Any]:
    """What a failed send writes to its row: failed for good after the last attempt, else due again later."""
    # A relay's reply or a driver's text may quote a credential: the row is read by its recipients too.
    error = redacted(str(exc)) or type(exc).__name__
    if email.attempts >= settings.max_attempts:
        logger.error(
            "e-mail %s to %s failed for good after %d attempts: %s",
            email.message_id,
            email.to,
            email.attempts,
            error,
        )
        return {"status": MailStatus.FAILED, "last_error": error}
    delay = timedelta(seconds=settings.retry_base_s * 2 ** (email.attempts - 1))
    logger.warning(
        "e-mail %s to %s failed (attempt %d of %d), retrying in %s: %s",
        email.message_id,
        email.to,
        email.attempts,
        settings.max_attempts,
        delay,
        error,
    )
    return {"status": MailStatus.PENDING, "last_error": error, "next_attempt_at": now + delay}


def relay_unreachable(exc: BaseException) -> bool:
    """The relay itself failed (refused, silent, dropped the connection), not this one message (a
    refused recipient or body: an SMTP reply, which the other messages would not get)."""
    if isinstance(exc, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError):
        return True
    return isinstance(exc, OSError) and not isinstance(exc, smtplib.SMTPException)


def next_mail_due(session: Session) -> datetime | None:
    """When the earliest pending outbox row is due (the scheduler sleeps until then), or None."""
    return session.scalar(
        select(func.min(OutboxEmail.next_attempt_at)).where(OutboxEmail.status == MailStatus.PENDING)
    )


def count_due_emails(session: Session, now: datetime) -> int:
    """Pending outbox rows due by `now` (how long a tick's e-mail progress bar is)."""
    due = select(func.count()).where(
        OutboxEmail.status == MailStatus.PENDING, OutboxEmail.next_attempt_at <= now
    )
    return int(session.scalar(due) or 0)
