"""POST /api/what-if: replay edited decision tables over the decision log before deploying (issue 18)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Response, jsonify, request
from flask_babel import gettext
from pydantic import Field

from webui.api import bp, current_actor, require_groups
from webui.api.openapi import Body, Model, Page, api, responses
from webui.services import MAX_PAGE, services
from workflows.audit_trail import period_bound
from workflows.credit.roles import PROCESS_OWNERS
from workflows.definitions.validation import InvalidBundle
from workflows.errors import BadRequest
from workflows.messages import _, translated
from workflows.store.paging import MAX_PER_PAGE
from workflows.what_if.run import what_if


class WhatIfUpload(Body):
    files: list[bytes] = Field(
        description="the edited .dmn files (each passes the deploy's DMN checks), and at most one edited "
        ".bpmn that changes only which decision a business rule task calls (422 when it changes how the "
        "process runs)",
        json_schema_extra={"items": {"type": "string", "format": "binary"}},
    )
    definition_key: str = Field(max_length=120, description="the process whose decisions are replayed")
    from_: str = Field(
        alias="from", max_length=40, examples=["2026-09-01"], description="YYYY-MM-DD or ISO 8601 with offset"
    )
    to: str = Field(
        max_length=40, examples=["2026-11-30"], description="YYYY-MM-DD (the whole day) or ISO 8601"
    )
    page: int = Field(1, ge=1)
    per_page: int = Field(50, ge=1, le=MAX_PER_PAGE)


class TableSummary(Model):
    decision_id: str
    file: str
    kind: str = Field(
        description="scorecard, authority, limit_policy, dunning_ladder, provision_matrix, generic"
    )
    rows: int = Field(description="logged decisions replayed")
    evaluated: int = Field(description="distinct input tuples the engine evaluated")
    changed: int
    failed: int = Field(description="rows the edited table fails on (e.g. an input that was never recorded)")
    failure: str | None
    outputs: dict[str, dict[str, int]] = Field(description='output → {"old → new": count}')


class WhatIfSummary(Model):
    definition_key: str
    from_: str = Field(alias="from")
    to: str
    rows: int
    changed: int
    note: str | None = Field(None, description="why there is nothing to replay")
    repointed: list[dict[str, str]] = Field(
        default_factory=list,
        description="business rule tasks the edited diagram points at another decision: {bpmn_id, from, to}",
    )
    tables: list[dict[str, Any]] = Field(
        description="per table: TableSummary's fields, plus per kind grade_changes and "
        "instances_changing_grade and customers_changing_grade (scorecard: the instances, and the distinct "
        "customers of their data, whose grade changes); route_changes, "
        "applications_with_another_approver (the applications that would have needed another approver), "
        "route_hours, approval_hours_change and approval_hours_complete (false when a changed decision "
        "moves to or from a route with no recorded application to average) (authority); notices_earlier, "
        "notices_later, first_notice_days_change (dunning ladder); by_input (limit policy, provision "
        "matrix); limits (limit policy: by_grade → currency → {cases, current, edited, change}, the "
        "proposed limits' totals); provision (provision matrix: the allowance at the period's last day, "
        "{as_of, base_currency, current_total, edited_total, change, change_by_bucket}, or {as_of, "
        "unavailable} when it cannot be computed). "
        "Amounts, hours and days changed are decimal strings"
    )


class ChangedDecision(Model):
    log_id: int
    instance_id: int | None
    decision_id: str
    at: str
    inputs: dict[str, Any]
    recorded: dict[str, Any]
    replayed: dict[str, Any]


class ChangedDecisionsPage(Page):
    items: list[ChangedDecision]


class WhatIf(Model):
    summary: WhatIfSummary
    changes: ChangedDecisionsPage


@bp.post("/what-if")
@api.validate(form=WhatIfUpload, resp=responses(200, WhatIf, 400, 403, 404, 413, 422))
def post_what_if() -> tuple[Response, int]:
    """Replay edited decision tables over the inputs the decision log recorded between `from` and `to`, with
    the runtime's DMN engine, and compare with the decisions taken. Reads only: the transaction is rolled
    back. Process owners (a POST: auditors, who change nothing, are refused as on every POST)."""
    actor = current_actor()
    require_groups(actor, PROCESS_OWNERS, "run a what-if")
    uploads = request.files.getlist("files")
    if not uploads:
        raise BadRequest(_("upload the edited DMN files as multipart field 'files'"))
    form = request.form
    try:
        start = period_bound(form.get("from", ""), end=False)
        end = period_bound(form.get("to", ""), end=True)
    except ValueError as exc:
        raise BadRequest(_("'from' and 'to': %(problem)s", problem=str(exc))) from exc
    page, per_page = _int(form, "page", 1, MAX_PAGE), _int(form, "per_page", 50, MAX_PER_PAGE)
    files = {u.filename or f"file{i}.dmn": u.read() for i, u in enumerate(uploads)}
    svc = services()
    session = svc.rt.factory()
    try:
        key, base = form.get("definition_key", ""), svc.rt.settings.credit.base_currency
        body = what_if(session, key, files, start, end, base=base, page=page, per_page=per_page)
    except InvalidBundle as exc:
        problems = [p.said(gettext) for p in exc.problems]
        error = {"code": "invalid_definition", "message": "\n".join(problems), "problems": problems}
        return jsonify({"error": error}), 422
    finally:
        session.rollback()  # a what-if writes nothing, whatever a cell did
        session.close()
    note = body["summary"]["note"]
    body["summary"]["note"] = translated(note, gettext) if note is not None else None
    return jsonify(body), 200


def _int(form: Mapping[str, str], name: str, default: int, most: int) -> int:
    text = form.get(name) or ""
    if not text:
        return default
    if not text.isdigit() or not 1 <= int(text) <= most:
        raise BadRequest(_("%(name)s must be a whole number from 1 to %(most)s", name=name, most=most))
    return int(text)
