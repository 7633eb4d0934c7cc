"""/mail: what the built-in SMTP sink received (the demo's stand-in for real mailboxes)."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from webui import services
from webui.auth import login_required_view, web_actor
from workflows.errors import Forbidden
from workflows.smtp_sink import list_sink_messages
from workflows.users import emails_of

bp = Blueprint("mail", __name__)


@bp.get("/mail")
@login_required_view
def mailbox() -> str:
    actor = web_actor()
    page = request.args.get("page", "1")
    # Everyone sees their own mail; admins see the whole sink.
    to = request.args.get("to") or None
    with services().rt.factory() as session:
        if not actor.is_admin:
            mine = emails_of(session, usernames=[actor.username])
            if to and to not in mine:
                raise Forbidden("you may only read your own mail")
            to = mine[0] if mine else actor.username
        found = list_sink_messages(session, to=to, page=int(page) if page.isdigit() else 1)
    return render_template("mail/list.html", found=found, to=to)
