"""/customers: the searchable customer list and each customer's credit file."""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for
from sqlalchemy.orm import Session

from webui.auth import login_required_view, require_groups
from webui.services import page_arg, services
from workflows.credit import roles
from workflows.credit.customer_views import MAX_INSTANCES, customer_file, list_customer_rows
from workflows.credit.customers import GRADES
from workflows.credit.dispute_views import customer_credit_notes, disputes_json, list_disputes
from workflows.credit.provisions import BUCKETS
from workflows.credit.recoveries import customer_recoveries
from workflows.credit.roles import CUSTOMER_READERS
from workflows.credit.write_offs import customer_write_offs
from workflows.definitions.deploy import latest_definition
from workflows.definitions.start_rights import may_start
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
# Processes a customer page offers to start, with the customer prefilled: (process key, button label).
CUSTOMER_ACTIONS = (
    (roles.CREDIT_APPLICATION, "New credit application"),
    (roles.CREDIT_LIMIT_REVIEW, "Review limit"),
)


def customer_actions(session: Session, actor: Actor, customer_id: int) -> list[tuple[str, str]]:
    """(label, start URL with the customer prefilled) of the customer processes the actor may start."""
    actions = []
    for key, label in CUSTOMER_ACTIONS:
        definition = latest_definition(session, key, required=False)
        if definition is not None and may_start(actor, definition):
            actions.append((label, url_for("start.start", key=key, customer_id=customer_id)))
    return actions


@bp.get("/customers")
@login_required_view
def index() -> str:
    svc = services()
    require_groups(CUSTOMER_READERS, "read customers")
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
    svc = services()
    actor = require_groups(CUSTOMER_READERS, "read customers")
    today = svc.clock().date()
    with svc.rt.factory() as session:
        found = customer_file(session, customer_id, today)
        return render_template(
            "customers/show.html",
            c=found.customer,
            exposure=found.exposure,
            overdue=found.overdue,
            utilisation=found.utilisation,
            history=found.history,
            invoices=found.invoices,
            buckets=[(BUCKET_LABELS[b], found.buckets[b]) for b in BUCKETS],
            bucket_labels=BUCKET_LABELS,
            cases=found.cases,
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
        )
