"""/customers: the searchable customer list and each customer's credit file."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from webui.auth import login_required_view, require_groups
from webui.customer_credit import ORDER_STATUSES, order_panel
from webui.i18n import label_of
from webui.services import page_arg, services
from workflows.credit import roles
from workflows.credit.customer_views import MAX_INSTANCES, customer_file, list_customer_rows
from workflows.credit.customers import GRADES
from workflows.credit.dispute_views import customer_credit_notes, disputes_json, list_disputes
from workflows.credit.provisions import BUCKETS
from workflows.credit.recoveries import (
    UNBLOCK_REASON_MAX,
    customer_recoveries,
    lift_block,
    unblock_reason,
)
from workflows.credit.roles import BLOCK_LIFTERS, CUSTOMER_READERS
from workflows.credit.write_offs import customer_write_offs
from workflows.definitions.start_rights import may_start
from workflows.definitions.versions import latest_definition
from workflows.store.db import transaction
from workflows.store.paging import Page
from workflows.users import Actor

bp = Blueprint("customers_pages", __name__)

BUCKET_LABELS = {
    "not_due": "Not due",
    "days_1_30": "1–30 days",
    "days_31_60": "31–60 days",
    "days_61_90": "61–90 days",
    "days_91_120": "91–120 days",
    "over_120": "Over 120 days",
}
# The same buckets in the page's language, for the customer page (the dashboard and the portfolio page keep
# BUCKET_LABELS as their tests and charts read them).
BUCKET_TITLES = {
    "not_due": lazy_gettext("Not due"),
    "days_1_30": lazy_gettext("1–30 days"),
    "days_31_60": lazy_gettext("31–60 days"),
    "days_61_90": lazy_gettext("61–90 days"),
    "days_91_120": lazy_gettext("91–120 days"),
    "over_120": lazy_gettext("Over 120 days"),
}
# What happened to a dunning case (DunningEvent.kind, handlers/dunning*.py) as its timeline shows it; any
# other kind is shown as stored with "_" as a space.
DUNNING_EVENT_LABELS = {
    "opened": lazy_gettext("case opened"),
    "ladder_grade": lazy_gettext("dunning ladder chosen by grade"),
    "level_reached": lazy_gettext("dunning level reached"),
    "notice_sent": lazy_gettext("dunning notice sent"),
    "notice_undeliverable": lazy_gettext("dunning notice undeliverable"),
    "fee_added": lazy_gettext("dunning fee added"),
    "customer_blocked": lazy_gettext("customer blocked"),
    "status_changed": lazy_gettext("status changed"),
    "dispute_opened": lazy_gettext("dispute opened"),
    "promise_to_pay": lazy_gettext("promise to pay recorded"),
    "promise_kept": lazy_gettext("promise kept"),
    "promise_broken": lazy_gettext("promise broken"),
    "promise_lapsed": lazy_gettext("promise lapsed"),
    "promise_refused": lazy_gettext("promise refused"),
    "promise_approved": lazy_gettext("promise approved"),
    "promise_outside_policy": lazy_gettext("promise outside policy"),
    "legal_handover": lazy_gettext("handed over to legal"),
    "closed": lazy_gettext("case closed"),
}


def dunning_event_label(kind: str) -> str:
    """A dunning case event's kind in the page's language ("level_reached" -> "已升至催收级别")."""
    return label_of(DUNNING_EVENT_LABELS, kind)


# Processes a customer page offers to start, with the customer prefilled: (process key, button label).
CUSTOMER_ACTIONS = (
    (roles.CREDIT_APPLICATION, lazy_gettext("New credit application")),
    (roles.CREDIT_LIMIT_REVIEW, lazy_gettext("Review limit")),
    (roles.DISPUTE_RESOLUTION, lazy_gettext("Raise a dispute")),  # collections
    (roles.WRITE_OFF, lazy_gettext("Propose a legal outcome")),  # legal: write-off, settlement or recovery
)


def customer_actions(session: Session, actor: Actor, customer_id: int) -> list[tuple[str, str]]:
    """(label, start URL with the customer prefilled) of the customer processes the actor may start."""
    actions = []
    for key, label in CUSTOMER_ACTIONS:
        definition = latest_definition(session, key, required=False)
        if definition is not None and may_start(actor, definition):
            actions.append((str(label), url_for("start.start", key=key, customer_id=customer_id)))
    return actions


@bp.get("/customers")
@login_required_view
def index() -> str:
    svc = services()
    require_groups(CUSTOMER_READERS, _("read customers"))
    grade = request.args.get("grade", "")
    blocked_arg = request.args.get("blocked", "")
    flt = {
        "q": (request.args.get("q") or "").strip(),
        "grade": grade if grade in GRADES else "",
        "blocked": blocked_arg if blocked_arg in ("yes", "no") else "",
    }
    page, per_page = page_arg(), svc.rt.settings.web.page_size
    today = svc.clock().date()
    with svc.rt.factory() as session:
        rows, total = list_customer_rows(
            session,
            today=today,
            text=flt["q"] or None,
            grade=flt["grade"] or None,
            blocked={"yes": True, "no": False}.get(flt["blocked"]),
            page=page,
            per_page=per_page,
        )
        return render_template(
            "customers/list.html",
            found=Page(rows, total, page, per_page),
            flt=flt,
            grades=GRADES,
            args={k: v for k, v in flt.items() if v},
        )


@bp.get("/customers/<int:customer_id>")
@login_required_view
def show(customer_id: int) -> str:
    return _customer_page(customer_id)


@bp.post("/customers/<int:customer_id>/unblock")
@login_required_view
def unblock(customer_id: int) -> Response | tuple[str, int]:
    """A credit manager lifts the credit block a legal outcome left, with a reason (audited by name)."""
    svc = services()
    actor = require_groups(BLOCK_LIFTERS, _("lift a credit block"))
    typed = request.form.get("reason") or ""
    reason = unblock_reason(typed)
    if reason is None:
        kept = typed.strip().replace("\x00", "")[:UNBLOCK_REASON_MAX]
        # UNBLOCK_REASON_RULE (the API's sentence) in the page's language.
        rule = _("Say why the block is lifted (1 to %(max)d characters).", max=UNBLOCK_REASON_MAX)
        return _customer_page(customer_id, unblock_error=rule, reason=kept), 422
    with transaction(svc.rt.factory) as session:
        lift_block(session, customer_id, actor=actor.username, reason=reason, now=svc.clock())
    flash(_("The credit block is lifted."))
    return redirect(url_for("customers_pages.show", customer_id=customer_id))


def _customer_page(customer_id: int, *, unblock_error: str | None = None, reason: str = "") -> str:
    svc = services()
    actor = require_groups(CUSTOMER_READERS, _("read customers"))
    today = svc.clock().date()
    with svc.rt.factory() as session:
        found = customer_file(session, customer_id, today)
        panel = order_panel(
            session,
            customer_id,
            page=page_arg("orders_page"),
            status=(request.args.get("orders_status") or "").strip(),
        )
        return render_template(
            "customers/show.html",
            c=found.customer,
            exposure=found.exposure,
            overdue=found.overdue,
            utilisation=found.utilisation,
            history=found.history,
            invoices=found.invoices,
            buckets=[(str(BUCKET_TITLES[b]), found.buckets[b]) for b in BUCKETS],
            bucket_labels={b: str(title) for b, title in BUCKET_TITLES.items()},
            cases=found.cases,
            event_label=dunning_event_label,
            instances=found.instances,
            customer_since=found.customer_since,
            collateral=found.collateral,
            today=today,
            actions=customer_actions(session, actor, customer_id),
            max_instances=MAX_INSTANCES,
            write_offs=customer_write_offs(session, customer_id),
            recoveries=customer_recoveries(session, customer_id),
            disputes=disputes_json(session, list_disputes(session, customer_id=customer_id, per_page=20)[0]),
            credit_notes=customer_credit_notes(session, customer_id),
            panel=panel,
            order_statuses=ORDER_STATUSES,
            may_unblock=actor.in_any(BLOCK_LIFTERS),
            unblock_error=unblock_error,
            unblock_reason=reason,
        )
