"""Read side of the outbox: the paged list of queued and sent e-mail the API shows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from workflows.readers import reads_everything
from workflows.store.models import OutboxEmail
from workflows.store.paging import page_rows
from workflows.users import Actor, emails_of


def _addressed_to(address: str) -> ColumnElement[bool]:
    """Rows whose comma-separated recipients include exactly this address (no substring matches)."""
    to = OutboxEmail.to
    return or_(
        to == address,
        to.startswith(f"{address},", autoescape=True),
        to.endswith(f", {address}", autoescape=True),
        to.contains(f", {address},", autoescape=True),
    )


def list_outbox(
    session: Session,
    actor: Actor,
    *,
    to: str | None = None,
    status: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[OutboxEmail], int]:
    """One page of outbox e-mail, newest first, and the total; `to` matches part of the recipients.

    Staff see mail addressed to them; the whole outbox is for admins and auditors.
    """
    query = select(OutboxEmail)
    if to:
        query = query.where(OutboxEmail.to.contains(to))
    if status:
        query = query.where(OutboxEmail.status == status)
    if not reads_everything(actor):
        mine = emails_of(session, usernames=[actor.username])
        query = query.where(or_(*(_addressed_to(a) for a in mine)) if mine else OutboxEmail.id < 0)
    return page_rows(session, query.order_by(OutboxEmail.id.desc()), page, per_page)


def outbox_email_json(email: OutboxEmail) -> dict[str, Any]:
    """An outbox e-mail as the REST API shows it."""
    return {
        "id": email.id,
        "to": email.to,
        "subject": email.subject,
        "template": email.template,
        "status": email.status,
        "attempts": email.attempts,
        "instance_id": email.instance_id,
        "created_at": email.created_at.isoformat(),
        "sent_at": email.sent_at.isoformat() if email.sent_at else None,
        "last_error": email.last_error,
    }
