"""GET /api/emails: the outbox; staff see mail addressed to them, admins all of it."""

from __future__ import annotations

from flask import Response, request

from webui.api import bp, current_actor, paged, paging_args
from webui.services import services
from workflows.mail.listing import list_outbox, outbox_email_json


@bp.get("/emails")
def get_emails() -> Response:
    actor = current_actor()
    page, per_page = paging_args(max_per_page=200)
    with services().rt.factory() as session:
        rows, total = list_outbox(
            session,
            actor,
            to=request.args.get("to") or None,
            status=request.args.get("status") or None,
            page=page,
            per_page=per_page,
        )
        items = [outbox_email_json(e) for e in rows]
    return paged(items, total, page, per_page)
