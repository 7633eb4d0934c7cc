"""/audit: every state change, filterable and paged, and /audit/sod: the segregation-of-duties report;
both also as CSV (/audit.csv, /audit/sod.csv) with the same filters. Auditors and admins read them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import Blueprint, Response, render_template, request
from flask_babel import lazy_gettext

from webui.auth import login_required_view, require_groups
from webui.customer_labels import code_label
from webui.customers import dunning_event_label
from webui.diagram_names import key_label
from webui.export_headers import export_header
from webui.formatting import said
from webui.group_labels import group_label
from webui.i18n import action_label, current_language, label_of
from webui.input_checks import MAX_ID
from webui.responses import ShownResponse
from webui.services import page_arg, services
from webui.stored_sentences import said_stored
from webui.suppliers import change_type_label
from workflows import audit_trail, sod_report
from workflows.audit_trail import AUDIT_READERS, AuditFilter, ObjectRef, ObjectRefError, period_bound
from workflows.credit import roles
from workflows.csv_export import to_csv
from workflows.definitions.display_names import ENGLISH
from workflows.errors import BadRequest, message_of
from workflows.messages import Text, _
from workflows.store.paging import Page

bp = Blueprint("audit", __name__)

FILTERS = ("from", "to", "actor", "kind", "object")
# The segregation-of-duties report's kinds of money move (sod_report.KINDS) as the page says them.
SOD_KINDS = {
    "limit_change": lazy_gettext("limit change"),
    "contract_version": lazy_gettext("contract version"),
    "dispute_credit": lazy_gettext("dispute credit"),
    "order_released": lazy_gettext("order released"),
    "legal_outcome": lazy_gettext("legal outcome"),
    "definition_version": lazy_gettext("definition version"),
}


@bp.app_template_global()
def change_kind_label(kind: str) -> str:
    """An audit trail row's kind in the page's language: an audit action, or a dunning case's event."""
    if kind.startswith(audit_trail.CASE_PREFIX):
        return dunning_event_label(kind.removeprefix(audit_trail.CASE_PREFIX))
    return action_label(kind)


@bp.app_template_global()
def sod_kind_label(kind: str) -> str:
    return label_of(SOD_KINDS, kind)


# An authority level (the approval_level of the authority tables, workflows/credit/roles.py) is named after
# the group that has the last word in it: "manager" -> (credit_analyst, credit_manager) -> "Credit manager".
_LEVEL_GROUPS = {
    level: groups[-1]
    for table in (
        roles.LIMIT_AUTHORITY,
        roles.CONTRACT_CHANGE_AUTHORITY,
        roles.DISPUTE_CREDIT_AUTHORITY,
        roles.WRITE_OFF_AUTHORITY,
    )
    for level, groups in table.items()
}


def _groups(joined: str) -> str:
    """The report's "a + b" (all approve) or "a or b" (one approves) of group ids, by the groups' names."""
    for separator, said_as in ((" + ", " + "), (" or ", "、")):
        if separator in joined:
            return said_as.join(group_label(g) for g in joined.split(separator))
    return group_label(joined)


def _process_or_reason(value: str) -> str:
    named = key_label(value)  # a limit change's process; else the reason stored on the change
    return named if named != value else said_stored(value)


# The report's sentences hold codes and stored reasons as parameters (workflows/sod_report.py,
# sod_credit_moves.py); a zh page says them by their labels, an English page (and the CSV) as stored.
_SAYERS: dict[str, Callable[[str], str]] = {
    "level": lambda level: group_label(_LEVEL_GROUPS.get(level, level)),
    "groups": _groups,
    "change": change_type_label,
    "outcome": lambda outcome: code_label("outcome", outcome),
    "reason": said_stored,
    "why": _process_or_reason,
}


@bp.app_template_global()
def sod_said(sentence: str | None) -> str:
    """A summary or authority rule of the segregation-of-duties report in the page's language, with its
    levels, groups, change types, legal outcomes, processes and stored reasons by their labels."""
    if not isinstance(sentence, Text) or not sentence.params or current_language() == ENGLISH:
        return said(sentence)
    params = {
        name: _SAYERS[name](value) if name in _SAYERS and isinstance(value, str) else value
        for name, value in sentence.params.items()
    }
    return said(Text(sentence.msgid, **params))


def _bound(name: str, *, end: bool) -> datetime | None:
    """Raises: BadRequest naming the parameter."""
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        return period_bound(value, end=end)
    except ValueError as exc:
        raise BadRequest(_("%(name)s: %(problem)s", name=name, problem=message_of(exc))) from exc


def _period() -> tuple[datetime | None, datetime | None]:
    start, end = _bound("from", end=False), _bound("to", end=True)
    if start and end and start > end:
        raise BadRequest(_("from is after to"))
    return start, end


def _audit_filter() -> AuditFilter:
    start, end = _period()
    text = (request.args.get("object") or "").strip()[:200]
    try:
        ref = ObjectRef.parse(text, MAX_ID) if text else None
    except ObjectRefError as exc:
        raise BadRequest(_("object: %(problem)s", problem=message_of(exc))) from exc
    actor = (request.args.get("actor") or "").strip()[:80] or None
    kind = (request.args.get("kind") or "").strip()[:60] or None
    return AuditFilter(start, end, actor, kind, ref)


def _args() -> dict[str, str]:
    return {k: v for k in FILTERS if (v := (request.args.get(k) or "").strip())}


def _csv(text: str, name: str, *, cut: bool = False) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{name}.csv"'}
    if cut:  # the file holds the newest MAX_EXPORT_ROWS changes only (its last line says so too)
        headers["X-Export-Truncated"] = str(audit_trail.MAX_EXPORT_ROWS)
    # Event details as stored: a lone surrogate an older row holds is written as U+FFFD, not a 500.
    return ShownResponse(text, mimetype="text/csv", headers=headers)


@bp.get("/audit")
@login_required_view
def index() -> str:
    require_groups(AUDIT_READERS, _("read the audit trail"))
    svc = services()
    where = _audit_filter()
    page, per_page = page_arg(), svc.rt.settings.web.page_size
    with svc.rt.factory() as session:
        rows, total = audit_trail.list_changes(session, where, page=page, per_page=per_page)
    return render_template(
        "audit/list.html",
        found=Page(rows, total, page, per_page),
        args=_args(),
        kinds=audit_trail.OBJECT_KINDS,
    )


@bp.get("/audit.csv")
@login_required_view
def export() -> Response:
    require_groups(AUDIT_READERS, _("read the audit trail"))
    where = _audit_filter()
    with services().rt.factory() as session:
        text, cut = audit_trail.export_csv(session, where, export_header(audit_trail.CSV_COLUMNS))
    return _csv(text, "audit", cut=cut)


@bp.get("/audit/sod")
@login_required_view
def sod() -> str:
    require_groups(AUDIT_READERS, _("read the segregation-of-duties report"))
    start, end = _period()
    with services().rt.factory() as session:
        rows = sod_report.sod_report(session, start, end)
    args = {k: v for k, v in _args().items() if k in ("from", "to")}
    return render_template("audit/sod.html", rows=rows, flagged=sum(r.flagged for r in rows), args=args)


@bp.get("/audit/sod.csv")
@login_required_view
def sod_export() -> Response:
    require_groups(AUDIT_READERS, _("read the segregation-of-duties report"))
    start, end = _period()
    with services().rt.factory() as session:
        rows = sod_report.sod_report(session, start, end)
    header = export_header(sod_report.SOD_CSV_COLUMNS)  # the reader's language (webui/export_headers.py)
    return _csv(to_csv(header, sod_report.sod_rows(rows)), "segregation-of-duties")
