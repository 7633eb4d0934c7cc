"""Signed-in pages: the home page lists the user's open tasks (the full inbox UI builds on this)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from webui import services
from webui.auth import login_required_view, web_actor
from workflows.inbox import InboxFilter, list_inbox

bp = Blueprint("pages", __name__)


@bp.get("/")
def home() -> Response:
    return redirect(url_for("pages.inbox"))


@bp.get("/inbox")
@login_required_view
def inbox() -> str:
    svc = services()
    now = svc.clock()
    page = request.args.get("page", "1")
    flt = InboxFilter(
        process_key=request.args.get("process_key") or None,
        text=request.args.get("q") or None,
        overdue=request.args.get("overdue") == "1",
        page=int(page) if page.isdigit() else 1,
    )
    with svc.rt.factory() as session:
        found = list_inbox(session, web_actor(), flt, now)
    return render_template("pages/inbox.html", page=found, flt=flt, now=now)
