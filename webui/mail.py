"""/mail: what the built-in SMTP sink received (the demo's stand-in for real mailboxes)."""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass
from email.message import EmailMessage

from flask import Blueprint, render_template, request

from webui.auth import login_required_view, web_actor
from webui.services import page_arg, services
from workflows.errors import Forbidden, NotFound
from workflows.mail.sink import list_sink_messages
from workflows.messages import _
from workflows.readers import reads_everything
from workflows.store.sink_tables import SinkMessage
from workflows.users import emails_of

bp = Blueprint("mail", __name__)


@dataclass(frozen=True)
class MailBody:
    text: str
    html: str


@bp.get("/mail")
@login_required_view
def mailbox() -> str:
    actor = web_actor()
    # Everyone sees their own mail; admins and auditors (who read everything) see the whole sink.
    everything = reads_everything(actor)
    to = request.args.get("to") or None
    with services().rt.factory() as session:
        if not everything:
            mine = emails_of(session, usernames=[actor.username])
            if to and to not in mine:
                raise Forbidden(_("you may only read your own mail"))
            to = mine[0] if mine else actor.username
        found = list_sink_messages(session, to=to, page=page_arg())
    args = {"to": to} if everything and to else {}
    return render_template("mail/list.html", found=found, to=to, args=args, everything=everything)


@bp.get("/mail/<int:message_id>")
@login_required_view
def message(message_id: int) -> str:
    """One message: headers, the plain text, and the HTML part in a sandboxed frame (no scripts, no forms)."""
    actor = web_actor()
    with services().rt.factory() as session:
        found = session.get(SinkMessage, message_id)
        if found is None:
            raise NotFound(_("mail %(message_id)s is not in the sink", message_id=message_id))
        if not reads_everything(actor):
            mine = {address.lower() for address in emails_of(session, usernames=[actor.username])}
            recipients = {address.strip().lower() for address in found.rcpt_to.split(",")}
            if not mine & recipients:
                raise Forbidden(_("you may only read your own mail"))
        return render_template("mail/show.html", m=found, body=_body(found.raw))


def _body(raw: str) -> MailBody:
    parsed = email.message_from_string(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    parts = {}
    for kind in ("plain", "html"):
        part = parsed.get_body(preferencelist=(kind,))
        parts[kind] = part.get_content() if part is not None else ""
    return MailBody(text=parts["plain"], html=parts["html"])
