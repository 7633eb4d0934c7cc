"""The e-mail outbox: render a template, queue it in the caller's transaction, dispatch due rows over SMTP.

The rendered plain-text and HTML bodies are kept in the outbox (for the API and audit too); the mailer
(mail.smtp) sends them as the mail's text/plain and text/html parts. Dispatching is mail.dispatch (its names
are importable from here too).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import String, Table, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from workflows.languages import LANGUAGES
from workflows.mail.dispatch import CLAIM_LEASE as CLAIM_LEASE
from workflows.mail.dispatch import DispatchResult as DispatchResult
from workflows.mail.dispatch import count_due_emails as count_due_emails
from workflows.mail.dispatch import dispatch_due_emails as dispatch_due_emails
from workflows.mail.dispatch import next_mail_due as next_mail_due
from workflows.mail.dispatch import relay_unreachable as relay_unreachable
from workflows.mail.letter_names import file_for
from workflows.mail.letters_pdf import PDF, letter_pdf
from workflows.mail.recipients import by_language, common_language
from workflows.mail.sender import company_of
from workflows.mail.smtp import Attachment
from workflows.mail.templates import render_email, template_language
from workflows.messages import _
from workflows.store.db import is_postgres
from workflows.store.models import MailStatus, OutboxEmail

logger = logging.getLogger(__name__)

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
                "e-mail '%(template)s': `to` must be a list of addresses, not the string '%(to)s'",
                template=template,
                to=to,
            )
        )
    # One copy per reader: a repeat is dropped by the whole address lower-cased, the first spelling kept.
    # RFC 5321 lets a server tell local parts apart by case, but mail systems do not, and languages_of
    # already takes 'Li@Example.com' and 'li@example.com' for one user: two copies would reach one inbox.
    firsts: dict[str, str] = {}
    for address in to:
        firsts.setdefault(address.strip().lower(), address.strip())
    recipients = list(firsts.values())  # in the order given
    if not recipients:
        raise ValueError(
            _("e-mail '%(template)s' has no recipients; pass at least one address in `to`", template=template)
        )
    for address in recipients:
        # Recipients are stored comma-joined and become the To header, so a comma or line break would
        # silently change who receives the message.
        if "@" not in address or any(c in address for c in ",;\r\n\t "):
            raise ValueError(
                _(
                    "e-mail '%(template)s': '%(address)s' is not a single e-mail address",
                    template=template,
                    address=address,
                )
            )
    joined = ", ".join(recipients)
    if len(joined) > _column_length(OutboxEmail.to):
        raise ValueError(
            _(
                "e-mail '%(template)s': %(count)s recipients (%(chars)s characters) exceed the outbox limit"
                " of "
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
_QUEUED_WITH_KEYS = (
    select(OutboxEmail.id).where(OutboxEmail.dedupe_key.in_(bindparam("keys", expanding=True))).limit(1)
)


def _keys_of(dedupe_key: str) -> list[str]:
    """Every key queue_email_by_language may have queued one mail under: its own and one per language."""
    return [dedupe_key, *(f"{dedupe_key}:{language}" for language in LANGUAGES)]


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
    pdf_letter: str | Mapping[str, str] = "",
) -> int | None:
    """Render and insert one pending outbox row in the caller's transaction (not committed); its id.

    The template's version in `language` ("en", "zh") is rendered, else the English one; by default (None)
    the recipients' language (mail.recipients.common_language: the users' chosen one, a customer's; English
    when they differ). `pdf_letter`, a file name (or one per language: letter_names), attaches the rendered
    letter as a PDF too (letters_pdf), named in the language it was written in.

    Returns None, writing nothing, when an e-mail with this `dedupe_key` was queued before, or is being
    queued by a concurrent transaction right now.

    Raises:
        ValueError: `to` is empty or holds something that is not one address, or `dedupe_key` is empty.
        TypeError: `to` is a string instead of a sequence of addresses.
        TemplateError: the template is unknown or does not render with `context`.
    """
    values = _outbox_row(
        session,
        to=to,
        template=template,
        context=context,
        dedupe_key=dedupe_key,
        now=now,
        instance_id=instance_id,
        attachments=attachments,
        language=language,
        pdf_letter=pdf_letter,
    )
    return None if values is None else _insert_row(session, values)


def _outbox_row(
    session: Session,
    *,
    to: Sequence[str],
    template: str,
    context: Mapping[str, Any],
    dedupe_key: str,
    now: datetime,
    instance_id: int | None,
    attachments: Sequence[Attachment] = (),
    language: str | None = None,
    pdf_letter: str | Mapping[str, str] = "",
    checked: bool = False,
) -> dict[str, Any] | None:
    """The rendered outbox row queue_email inserts (reads only); None when its dedupe_key was queued
    (`checked`: the caller has looked that up already)."""
    recipients = _clean_recipients(to, template)
    if not dedupe_key or len(dedupe_key) > _column_length(OutboxEmail.dedupe_key):
        raise ValueError(
            _(
                "e-mail '%(template)s': dedupe_key must be 1 to 200 characters, got '%(key)s'",
                template=template,
                key=dedupe_key,
            )
        )
    if not checked and _dedupe_key_taken(session, dedupe_key):
        return None
    if language is None:
        language = common_language(session, recipients)
    company = company_of(session)  # who signs: [mail] company_name(_zh), carried by the Runtime's sessions
    rendered = render_email(template, context, language=language, company=company)
    if pdf_letter:
        written = rendered.language
        signed = company.in_language(written)
        pdf = letter_pdf(
            rendered.html, language=written, on=now.date(), title=rendered.subject, company=signed
        )
        attachments = [*attachments, Attachment.of_bytes(file_for(pdf_letter, rendered.language), PDF, pdf)]
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
    return values


def _insert_row(session: Session, values: Mapping[str, Any]) -> int | None:
    """Insert one rendered row; its id, or None when a concurrent transaction queued its key meanwhile."""
    # A concurrent step may queue the same key between the check above and this insert (on PostgreSQL;
    # SQLite's BEGIN IMMEDIATE serialises writers). ON CONFLICT makes that an expected outcome rather
    # than an error: no exception, no savepoint, and no ERROR line in the PostgreSQL log.
    # The statement is built once per dialect and the row bound as parameters: building it with
    # `.values(row)` on every call cost more than running it (every notification of a step queues one).
    new_id = session.connection().execute(_insert_for(is_postgres(session)), values).scalar()
    return None if new_id is None else int(new_id)


def queue_email_by_language(
    session: Session,
    *,
    to: Sequence[str],
    template: str,
    context: Mapping[str, Any],
    dedupe_key: str,
    now: datetime,
    instance_id: int | None = None,
) -> list[int]:
    """Internal mail to people who read different languages: one e-mail per language the template is
    written in (mail.recipients.by_language), so each reader gets theirs; the ids of the rows queued (none
    when a retried step had queued them before). Readers of one language get one e-mail under `dedupe_key`,
    exactly as queue_email(language=None) queues it; with several, each goes under `dedupe_key:LANGUAGE`.

    The mail is queued once whatever languages its readers read: nothing is queued when a row under
    `dedupe_key` or any `dedupe_key:LANGUAGE` exists (a reader who switched language between two runs of a
    weekly job would otherwise get the week's mail twice, under a key of the other split).

    Raises: as queue_email.
    """
    groups: dict[str, list[str]] = {}
    for language, addresses in by_language(session, _clean_recipients(to, template)).items():
        groups.setdefault(template_language(template, language), []).extend(addresses)
    # On the connection: a Core read skips the ORM's execute path (and the outbox has no pending ORM rows).
    queued = session.connection().execute(_QUEUED_WITH_KEYS, {"keys": _keys_of(dedupe_key)}).first()
    if queued is not None:
        return []
    # Every version is rendered before any row is written: a version that fails to render leaves nothing
    # queued (notify.email runs without a savepoint on SQLite: its writes are its last statements).
    rows = [
        _outbox_row(
            session,
            to=addresses,
            template=template,
            context=context,
            dedupe_key=dedupe_key if len(groups) == 1 else f"{dedupe_key}:{language}",
            now=now,
            instance_id=instance_id,
            language=language,
            checked=True,
        )
        for language, addresses in groups.items()
    ]
    inserted = (_insert_row(session, values) for values in rows if values is not None)
    return [row for row in inserted if row is not None]


@functools.cache
def _insert_for(postgres: bool) -> Any:
    dialect = postgresql if postgres else sqlite
    table = cast(Table, OutboxEmail.__table__)
    return (
        dialect.insert(table)
        .on_conflict_do_nothing(index_elements=[table.c.dedupe_key])
        .returning(table.c.id)
    )
