"""/inbox: my tasks and my groups' queue, with filters, paging and claim/unclaim in place (htmx)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from webui.auth import login_required_view, same_site_path, web_actor
from webui.diagram_names import prime, task_title
from webui.services import page_arg, services
from workflows.definitions.versions import process_keys
from workflows.engine import runner
from workflows.errors import DomainError
from workflows.inbox import InboxFilter, get_task_for, list_inbox
from workflows.store.models import InboxItem
from workflows.users import Actor, group_names

bp = Blueprint("inbox", __name__)

# The id of the element holding the table and pager; htmx asks for just that part when filtering or paging.
RESULTS_TARGET = "inbox-results"
SORTS = {
    "due": lazy_gettext("Due date"),
    "created": lazy_gettext("Oldest first"),
    "-created": lazy_gettext("Newest first"),
}


def inbox_filter() -> InboxFilter:
    """The inbox filter from the query string; unknown values fall back to the defaults."""
    args = request.args
    sort = args.get("sort", "due")
    return InboxFilter(
        process_key=args.get("process") or None,
        group=args.get("group") or None,
        overdue=args.get("overdue") == "1",
        text=(args.get("q") or "").strip() or None,
        mine_only=args.get("mine") == "1",
        sort=sort if sort in SORTS else "due",
        page=page_arg(),
        per_page=services().rt.settings.web.page_size,
    )


@bp.get("/inbox")
@login_required_view
def inbox() -> str:
    svc = services()
    actor = web_actor()
    now = svc.clock()
    flt = inbox_filter()
    with svc.rt.factory() as session:
        found = list_inbox(session, actor, flt, now)
        prime(item.instance_id for item in found.items)  # the rows' versions, for their names in zh
        context = dict(
            found=found,
            flt=flt,
            now=now,
            sorts=SORTS,
            processes=process_keys(session),
            groups=_filter_groups(session, actor),
            args={k: v for k, v in request.args.items() if k != "page" and v},
        )
        if request.headers.get("HX-Target") == RESULTS_TARGET:
            return render_template("inbox/_results.html", **context)
        return render_template("inbox/list.html", **context)


@bp.post("/inbox/<int:task_id>/claim")
@login_required_view
def claim(task_id: int) -> str | Response | tuple[str, int]:
    svc = services()
    try:
        item = runner.claim_task(svc.rt, task_id, actor=web_actor(), now=svc.clock())
    except DomainError as exc:
        return _refused(task_id, exc)
    return _changed(item, _("You claimed task %(id)s, “%(title)s”.", id=item.id, title=task_title(item)))


@bp.post("/inbox/<int:task_id>/unclaim")
@login_required_view
def unclaim(task_id: int) -> str | Response | tuple[str, int]:
    svc = services()
    try:
        item = runner.unclaim_task(svc.rt, task_id, actor=web_actor(), now=svc.clock())
    except DomainError as exc:
        return _refused(task_id, exc)
    return _changed(
        item, _("Task %(id)s, “%(title)s”, is back in its group queue.", id=item.id, title=task_title(item))
    )


def _filter_groups(session: Session, actor: Actor) -> list[str]:
    """The groups worth filtering by: the actor's own (an admin sees every group's tasks)."""
    if actor.is_admin:
        return group_names(session)
    return sorted(actor.groups)


def _is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def _back() -> str:
    return same_site_path(request.form.get("next", ""), url_for("inbox.inbox"))


def _changed(item: InboxItem, message: str) -> str | Response:
    services().nudge()
    if _is_htmx():
        return render_template("inbox/_row.html", t=item, now=services().clock(), error=None)
    flash(message)
    return redirect(_back())


def _refused(task_id: int, exc: DomainError) -> str | Response | tuple[str, int]:
    """A refused claim: in place, the row as it is now with the sentence; otherwise the error page."""
    if not _is_htmx():
        raise exc
    svc = services()
    with svc.rt.factory() as session:
        try:
            item = get_task_for(session, web_actor(), task_id)
        except DomainError:
            return render_template("inbox/_gone.html", task_id=task_id, error=exc.message)
        # 200 so htmx swaps the row in; the sentence in it says what happened.
        return render_template("inbox/_row.html", t=item, now=svc.clock(), error=exc.message)
