"""/suppliers and /contracts: searchable lists, a supplier's risk file and a contract's terms and versions."""

from __future__ import annotations

from babel import Locale
from flask import Blueprint, render_template, request, url_for
from flask_babel import lazy_gettext
from sqlalchemy.orm import Session

from webui.auth import login_required_view, require_groups
from webui.i18n import label_of
from webui.page_dates import page_locale
from webui.services import page_arg, services
from workflows.credit import roles
from workflows.credit.contracts import list_contracts
from workflows.credit.roles import SUPPLIER_READERS
from workflows.credit.supplier_views import contract_counts, contract_file, supplier_file, supplier_names
from workflows.credit.suppliers import GRADES, list_suppliers
from workflows.definitions.start_rights import may_start
from workflows.definitions.versions import latest_definition
from workflows.messages import _
from workflows.store.paging import Page
from workflows.users import Actor

bp = Blueprint("suppliers_pages", __name__)

# The process a contract page offers to start, with the contract prefilled.
CONTRACT_CHANGE = (roles.SUPPLIER_CONTRACT_CHANGE, lazy_gettext("Contract change request"))
# A contract change's type (contracts.CHANGE_TYPES) and a change request's status as the pages say them.
CHANGE_TYPE_LABELS = {
    "price": lazy_gettext("price"),
    "payment_terms": lazy_gettext("payment terms"),
    "quantity": lazy_gettext("quantity"),
    "delivery_date": lazy_gettext("delivery date"),
    "liability": lazy_gettext("liability"),
    "termination": lazy_gettext("termination"),
    "clauses": lazy_gettext("clauses"),
}
CHANGE_STATUS_LABELS = {
    "in_review": lazy_gettext("in review"),
    "awaiting_countersignature": lazy_gettext("awaiting countersignature"),
    "rejected": lazy_gettext("rejected"),
    "expired": lazy_gettext("expired"),
    "completed": lazy_gettext("completed"),
}


# The contract's own columns a change may set (contracts.CHANGEABLE_COLUMNS); other keys are the contract's
# terms, named as the buyer typed them.
CONTRACT_FIELD_LABELS = {
    "value": lazy_gettext("value"),
    "payment_terms_days": lazy_gettext("payment terms days"),
    "start_date": lazy_gettext("start date"),
    "end_date": lazy_gettext("end date"),
}


# The supplier scorecard's factors (handlers/supplier_risk.WEIGHTS) as an evaluation row names them; the
# English labels are the keys in words, as the page always showed them.
FACTOR_LABELS = {
    "financial_size": lazy_gettext("financial size"),
    "age": lazy_gettext("age"),
    "litigation": lazy_gettext("litigation"),
    "penalties": lazy_gettext("penalties"),
    "delivery": lazy_gettext("delivery"),
    "external_rating": lazy_gettext("external rating"),
}


# What a requester attaches for a risky supplier (handlers/contracts.SAFEGUARDS).
SAFEGUARD_LABELS = {
    "guarantee": lazy_gettext("guarantee"),
    "justification": lazy_gettext("justification"),
}


@bp.app_template_global()
def safeguard_label(code: str) -> str:
    return label_of(SAFEGUARD_LABELS, code)


@bp.app_template_global()
def is_contract_column(key: str) -> bool:
    """Whether a contract's current-terms key is one of its own columns (labelled by the page), not a term
    the buyer named."""
    return key in CONTRACT_FIELD_LABELS


@bp.app_template_global()
def supplier_factor_label(key: str) -> str:
    return label_of(FACTOR_LABELS, key)


@bp.app_template_global()
def contract_field_label(key: str) -> str:
    return label_of(CONTRACT_FIELD_LABELS, key)


@bp.app_template_global()
def change_type_label(change_type: str) -> str:
    return label_of(CHANGE_TYPE_LABELS, change_type)


@bp.app_template_global()
def change_status_label(status: str) -> str:
    return label_of(CHANGE_STATUS_LABELS, status)


def contract_actions(session: Session, actor: Actor, contract_id: int) -> list[tuple[str, str]]:
    """(label, start URL with the contract prefilled) when the actor may request a contract change."""
    key, label = CONTRACT_CHANGE
    definition = latest_definition(session, key, required=False)
    if definition is None or not may_start(actor, definition):
        return []
    return [(str(label), url_for("start.start", key=key, contract_id=contract_id))]


@bp.get("/suppliers")
@login_required_view
def suppliers() -> str:
    svc = services()
    require_groups(SUPPLIER_READERS, _("read suppliers"))
    grade = request.args.get("grade", "")
    flt = {"q": (request.args.get("q") or "").strip(), "grade": grade if grade in GRADES else ""}
    page, per_page = page_arg(), svc.rt.settings.web.page_size
    with svc.rt.factory() as session:
        rows, total = list_suppliers(
            session, text=flt["q"] or None, grade=flt["grade"] or None, page=page, per_page=per_page
        )
        return render_template(
            "suppliers/list.html",
            found=Page(rows, total, page, per_page),
            counts=contract_counts(session, [s.id for s in rows]),
            flt=flt,
            grades=GRADES,
            args={k: v for k, v in flt.items() if v},
        )


@bp.get("/suppliers/<int:supplier_id>")
@login_required_view
def supplier(supplier_id: int) -> str:
    require_groups(SUPPLIER_READERS, _("read suppliers"))
    with services().rt.factory() as session:
        found = supplier_file(session, supplier_id)
        language = found.supplier.language
        return render_template(
            "suppliers/show.html",
            s=found.supplier,
            evaluations=found.evaluations,
            contracts=found.contracts,
            # The supplier's language named in the page's (英语, Chinese), as CLDR names languages.
            language_name=Locale.parse(page_locale()).languages.get(language or "", language),
        )


@bp.get("/contracts")
@login_required_view
def contracts() -> str:
    svc = services()
    require_groups(SUPPLIER_READERS, _("read contracts"))
    flt = {"q": (request.args.get("q") or "").strip()}
    page, per_page = page_arg(), svc.rt.settings.web.page_size
    with svc.rt.factory() as session:
        rows, total = list_contracts(session, text=flt["q"] or None, page=page, per_page=per_page)
        return render_template(
            "suppliers/contracts.html",
            found=Page(rows, total, page, per_page),
            names=supplier_names(session, [c.supplier_id for c in rows]),
            flt=flt,
            args={k: v for k, v in flt.items() if v},
        )


@bp.get("/contracts/<int:contract_id>")
@login_required_view
def contract(contract_id: int) -> str:
    actor = require_groups(SUPPLIER_READERS, _("read contracts"))
    with services().rt.factory() as session:
        found = contract_file(session, contract_id)
        return render_template(
            "suppliers/contract.html",
            c=found.contract,
            supplier=found.supplier,
            terms=found.terms,
            versions=found.versions,
            requests=found.requests,
            actions=contract_actions(session, actor, contract_id),
        )
