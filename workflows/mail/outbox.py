"""The e-mail outbox: render a template, queue it in the caller's transaction, dispatch due rows over SMTP.

The rendered plain-text body is kept in the outbox for the API and audit; the mailer (mail.smtp)
builds the mail's own text/plain part from the HTML body.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
import smtplib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, String, Table, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from workflows.clock import utcnow
from workflows.mail.letters_pdf import PDF, letter_pdf
from workflows.mail.recipients import common_language
from workflows.mail.smtp import Attachment, Mailer
from workflows.mail.templates import render_email
from workflows.messages import _
from workflows.settings import MailSettings
from workflows.store.db import is_postgres, transaction
from workflows.store.models import MailStatus, OutboxEmail

logger = logging.getLogger(__name__)

# A claimed row is hidden from other dispatchers this long. It only matters when a dispatcher dies
# between claiming and recording the outcome: the row is then retried once the lease runs out.
CLAIM_LEASE = timedelta(minutes=10)


# --- templates -------------------------------------------------------------------------------------


# --- queueing --------------------------------------------------------------------------------------


def message_id_for(dedupe_key: str) -> str:
    """The Message-ID of the e-mail queued under `dedupe_key`; stable, so receivers can de-duplicate."""
    return f"<{hashlib.sha256(dedupe_key.encode()).hexdigest()[:32]}@creditflow>"


def _column_length(column: Any) -> int:
    column_type = column.property.columns[0].type
    assert isinstance(column_type, String) and column_type.length is not None
    return column_type.length


def _clean_recipients(to: Sequence[str], template: str) -> list[str]:
    if isinstance(to, str):
        raise TypeError(
            _(
                "e-mail %(template)r: `to` must be a list of addresses, not the string %(to)r",
                template=template,
                to=to,
            )
        )
    recipients = list(dict.fromkeys(address.strip() for address in to))  # keeps order, drops repeats
    if not recipients:
        raise ValueError(
            _("e-mail %(template)r has no recipients; pass at least one address in `to`", template=template)
        )
    for address in recipients:
        # Recipients are stored comma-joined and become the To header, so a comma or line break would
        # silently change who receives the message.
        if "@" not in address or any(c in address for c in ",;\r\n\t "):
            raise ValueError(
                _(
                    "e-mail %(template)r: %(address)r is not a single e-mail address",
                    template=template,
                    address=address,
                )
            )
    joined = ", ".join(recipients)
    if len(joined) > _column_length(OutboxEmail.to):
        raise ValueError(
            _(
                "e-mail %(template)r: %(count)s recipients (%(chars)s characters) exceed the outbox limit of "
                "%(limit)s characters; send to a shared mailbox instead",
                template=template,
                count=len(recipients),
                chars=len(joined),
                limit=_column_length(OutboxEmail.to),
            )
        )
    return recipients


def _dedupe_key_taken(session: Session, dedupe_key: str) -> bool:
    return session.scalar(_QUEUED_WITH_KEY, {"dedupe_key": dedupe_key}) is not None


_QUEUED_WITH_KEY = select(OutboxEmail.id).where(OutboxEmail.dedupe_key == bindparam("dedupe_key"))


def queue_email(
    session: Session,
    *,
    to: Sequence[str],
    template: str,
    context: Mapping[str, Any],
    dedupe_key: str,
    now: datetime,
    instance_id: int | None = None,
    attachments: Sequence[Attachment] = (),
    language: str | None = None,
    pdf_letter: str = "",
) -> int | None:
    """Render and insert one pending outbox row in the caller's transaction (not committed); its id.

    The template's version in `language` ("en", "zh") is rendered, else the English one; by default (None)
    the recipients' language (mail.recipients.common_language: the users' chosen one, a customer's; English
    when they differ). `pdf_letter`, a file name, attaches the rendered letter as a PDF too (letters_pdf).

    Returns None, writing nothing, when an e-mail with this `dedupe_key` was queued before, or is being
    queued by a concurrent transaction right now.

    Raises:
        ValueError: `to` is empty or holds something that is not one address, or `dedupe_key` is empty.
        TypeError: `to` is a string instead of a sequence of addresses.
        TemplateError: the template is unknown or does not render with `context`.
    """
    recipients = _clean_recipients(to, template)
    if not dedupe_key or len(dedupe_key) > _column_length(OutboxEmail.dedupe_key):
        raise ValueError(
            _(
                "e-mail %(template)r: dedupe_key must be 1 to 200 characters, got %(key)r",
                template=template,
                key=dedupe_key,
            )
        )
    if _dedupe_key_taken(session, dedupe_key):
        return None
    if language is None:
        language = common_language(session, recipients)
    rendered = render_email(template, context, language=language)
    if pdf_letter:
        pdf = letter_pdf(rendered.html, language=rendered.language, on=now.date(), title=rendered.subject)
        attachments = [*attachments, Attachment.of_bytes(pdf_letter, PDF, pdf)]
    subject = rendered.subject
    max_subject = _column_length(OutboxEmail.subject)
    if len(subject) > max_subject:
        subject = subject[: max_subject - 1] + "…"
    values = {
        "dedupe_key": dedupe_key,
        "message_id": message_id_for(dedupe_key),
        "instance_id": instance_id,
        "to": ", ".join(recipients),
        "subject": subject,
        "body_text": rendered.text,
        "body_html": rendered.html,
        "template": template,
        "attachments": [dataclasses.asdict(a) for a in attachments],
        "status": MailStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": "",
        "created_at": now,
        "sent_at": None,
    }
    # A concurrent step may queue the same key between the check above and this insert (on PostgreSQL;
    # SQLite's BEGIN IMMEDIATE serialises writers). ON CONFLICT makes that an expected outcome rather
    # than an error: no exception, no savepoint, and no ERROR line in the PostgreSQL log.
    # The statement is built once per dialect and the row bound as parameters: building it with
    # `.values(row)` on every call cost more than running it (every notification of a step queues one).
    new_id = session.connection().execute(_insert_for(is_postgres(session)), values).scalar()
    return None if new_id is None else int(new_id)


@functools.cache
def _insert_for(postgres: bool) -> Any:
    dialect = postgresql if postgres else sqlite
    table = cast(Table, OutboxEmail.__table__)
    return (
        dialect.insert(table)
        .on_conflict_do_nothing(index_elements=[table.c.dedupe_key])
        .returning(table.c.id)
    )


# --- sending ---------------------------------------------------------------------------------------


# --- dispatching -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DispatchResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0


def _claim_next(
    factory: sessionmaker[Session], now: datetime, wall: datetime, skip: Sequence[int]
) -> OutboxEmail | None:
    with transaction(factory) as session:
        query = (
            select(OutboxEmail)
            .where(
                OutboxEmail.status == MailStatus.PENDING,
                OutboxEmail.next_attempt_at <= now,
                or_(OutboxEmail.leased_until.is_(None), OutboxEmail.leased_until <= wall),
            )
            .order_by(OutboxEmail.next_attempt_at, OutboxEmail.id)
            .limit(1)
        )
        if skip:
            query = query.where(OutboxEmail.id.not_in(skip))
        if is_postgres(session):
            # Another dispatcher's claimed row is skipped, not waited for. SQLite needs nothing here:
            # every transaction starts with BEGIN IMMEDIATE, so claims are serialised.
            query = query.with_for_update(skip_locked=True)
        row = session.scalars(query).first()
        if row is None:
            return None
        row.attempts += 1
        # Both clocks: the acting one keeps the scheduler from waking for the row, the wall one keeps a
        # `tick --now` a simulated day later (another process) from sending it a second time meanwhile.
        row.next_attempt_at, row.leased_until = now + CLAIM_LEASE, wall + CLAIM_LEASE
        session.flush()
        # Detached with its loaded values, so the row stays readable after commit under any factory.
        session.expunge(row)
        return row


def _record_outcome(factory: sessionmaker[Session], claimed: OutboxEmail, values: Mapping[str, Any]) -> None:
    with transaction(factory) as session:
        # An UPDATE always yields a CursorResult; Session.execute is only typed as returning Result.
        result = cast(
            "CursorResult[Any]",
            session.execute(
                update(OutboxEmail)
                .where(
                    OutboxEmail.id == claimed.id,
                    OutboxEmail.status == MailStatus.PENDING,
                    # Unchanged attempts mean nobody reclaimed the row after our lease ran out.
                    OutboxEmail.attempts == claimed.attempts,
                )
                .values(**values, leased_until=None)
            ),
        )
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

    Each row is claimed and committed before sending and its outcome recorded in a second short
    transaction, so no database transaction stays open while the SMTP server is talked to.
    """
    sent = retried = failed = 0
    handled: list[int] = []  # a row retried with a zero delay must still be tried only once per call
    for _attempt in range(limit):
        email = _claim_next(factory, now, wall(), handled)
        if email is None:
            break
        handled.append(email.id)
        try:
            mailer.send(email)
        except Exception as exc:  # sweep loop: one undeliverable row must not stop the others
            error = str(exc) or type(exc).__name__
            if email.attempts >= settings.max_attempts:
                failed += 1
                logger.error(
                    "e-mail %s to %s failed for good after %d attempts: %s",
                    email.message_id,
                    email.to,
                    email.attempts,
                    error,
                )
                _record_outcome(factory, email, {"status": MailStatus.FAILED, "last_error": error})
            else:
                retried += 1
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
                _record_outcome(factory, email, {"last_error": error, "next_attempt_at": now + delay})
            if relay_unreachable(exc):
                # Every other row would wait out the same timeout (30 s each: hours on a dunning day,
                # with the scheduler's one thread held). They stay due, untried, for the next round.
                break
        else:
            sent += 1
            _record_outcome(factory, email, {"status": MailStatus.SENT, "sent_at": now})
    return DispatchResult(sent=sent, retried=retried, failed=failed)


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
