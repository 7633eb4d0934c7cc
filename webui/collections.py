"""/collections: the collectors' worklist, ranked by collection_priority.dmn, and each case's contact log."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from werkzeug.wrappers import Response

from webui.auth import login_required_view, require_groups
from webui.collection_labels import TEMPLATE_GLOBALS
from webui.decision_sources import source_html
from webui.formatting import format_day
from webui.services import page_arg, services
from workflows.credit.collection_contacts import (
    FIELDS,
    KINDS,
    NEXT_ACTION_MAX,
    NOTE_MAX,
    OUTCOMES,
    list_contacts,
)
from workflows.credit.collection_log import case_groups, load_case_for, log_contact, may_work, worklist_scope
from workflows.credit.collection_priority import deployed_priority
from workflows.credit.collection_worklist import worklist
from workflows.credit.dunning import case_json
from workflows.credit.roles import COLLECTION_READERS
from workflows.errors import Invalid
from workflows.store.paging import Page

bp = Blueprint("collections_pages", __name__)
for template_global in TEMPLATE_GLOBALS:
    bp.add_app_template_global(template_global)

DUE_FILTERS = (("today", lazy_gettext("Due today")), ("all", lazy_gettext("All open cases")))


@bp.get("/collections")
@login_required_view
def index() -> str:
    """Open cases of the user's collector groups, highest priority first; "due today" by default."""
    svc = services()
    actor = require_groups(COLLECTION_READERS, _("read the collectors' worklist"))
    due = request.args.get("due", "today")
    due = due if due in dict(DUE_FILTERS) else "today"
    page, per_page = page_arg(), svc.rt.settings.web.page_size
    now = svc.clock()
    with svc.rt.factory() as session:
        priority = deployed_priority(session)
        rows, total = worklist(
            session,
            today=now.date(),
            base=svc.rt.settings.credit.base_currency,
            priority=priority,
            scope=worklist_scope(svc.rt, session, actor),
            due_only=due == "today",
            page=page,
            per_page=per_page,
        )
        return render_template(
            "collections/list.html",
            found=Page(rows, total, page, per_page),
            due=due,
            due_filters=DUE_FILTERS,
            args={"due": due},
            today=now.date(),
            base=svc.rt.settings.credit.base_currency,
            source=source_html(priority.source),
        )


@bp.get("/collections/<int:case_id>")
@login_required_view
def show(case_id: int) -> str:
    return _case_page(case_id)


@bp.post("/collections/<int:case_id>/contacts")
@login_required_view
def add_contact(case_id: int) -> Response | tuple[str, int]:
    """The case page's form: the same checks and promise path as POST /api/dunning-cases/ID/contacts."""
    svc = services()
    actor = require_groups(COLLECTION_READERS, _("log contacts"))
    typed = {name: request.form.get(name, "") for name in FIELDS}
    raw = {name: value for name, value in typed.items() if value != ""}
    try:
        contact = log_contact(svc.rt, case_id, raw, actor=actor, now=svc.clock())
    except Invalid as exc:
        errors = dict(exc.details.get("fields") or {}) or {"kind": str(exc)}
        kept = {k: v.replace("\x00", "")[:NOTE_MAX] for k, v in typed.items()}
        return _case_page(case_id, errors=errors, typed=kept), 422
    svc.nudge()
    when = contact["next_action_date"]
    if when:
        when = format_day(when)  # the reader's way: "14 Jan 2027", "2027年1月14日"
        flash(_("Contact logged on case %(id)s. Next action on %(when)s.", id=case_id, when=when))
    else:
        flash(_("Contact logged on case %(id)s. No next action is set: the case stays due.", id=case_id))
    return redirect(url_for("collections_pages.index"))


def _case_page(
    case_id: int, *, errors: dict[str, str] | None = None, typed: dict[str, str] | None = None
) -> str:
    svc = services()
    actor = require_groups(COLLECTION_READERS, _("read dunning cases"))
    with svc.rt.factory() as session:
        case = load_case_for(svc.rt, session, case_id, actor, work=False)
        groups = case_groups(svc.rt, session, case)
        page = page_arg()
        contacts, total = list_contacts(session, case_id, page=page, per_page=svc.rt.settings.web.page_size)
        found = Page(contacts, total, page, svc.rt.settings.web.page_size)
        context: dict[str, Any] = {
            "case": case_json(session, case),
            "contacts": found,
            "groups": groups,
            "may_log": may_work(actor, groups),
            "errors": errors or {},
            "typed": typed or {},
            "kinds": KINDS,
            "outcomes": OUTCOMES,
            "note_max": NOTE_MAX,
            "next_action_max": NEXT_ACTION_MAX,
            "today": svc.clock().date(),
        }
        return render_template("collections/show.html", **context)
