"""GET /api/emails: the outbox; staff see mail addressed to them, admins and auditors all of it."""

from __future__ import annotations

from flask import Response

from webui.api import bp, current_actor, paged
from webui.api.openapi import Model, Page, PageQuery, Timestamp, api, responses
from webui.services import services
from workflows.mail.listing import list_outbox, outbox_email_json


class EmailQuery(PageQuery):
    to: str | None = None
    status: str | None = None


class OutboxEmail(Model):
    id: int
    to: str
    subject: str
    template: str
    status: str
    attempts: int
    instance_id: int | None
    created_at: Timestamp
    sent_at: Timestamp | None
    last_error: str


class EmailPage(Page):
    items: list[OutboxEmail]


@bp.get("/emails")
@api.validate(resp=responses(200, EmailPage))
def get_emails(query: EmailQuery) -> Response:
    """The outbox, newest first: mail addressed to the caller (admins and auditors: all of it)."""
    actor = current_actor()
    with services().rt.factory() as session:
        rows, total = list_outbox(
            session, actor, to=query.to, status=query.status, page=query.page, per_page=query.per_page
        )
        items = [outbox_email_json(e) for e in rows]
    return paged(items, total, query.page, query.per_page)
