"""GET /api/audit (every state change) and GET /api/audit/sod (the segregation-of-duties report), as
JSON or, with `format=csv`, as a CSV file whose cells no spreadsheet runs as formulas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from flask import Response, jsonify
from pydantic import Field, field_validator, model_validator

from webui.api import bp, current_actor, paged, require_groups
from webui.api.openapi import Id, JsonObject, Model, Page, PageQuery, Query, Timestamp, api, responses
from webui.input_checks import MAX_ID
from webui.responses import ShownResponse
from webui.services import services
from workflows import audit_trail, sod_report
from workflows.audit_trail import AUDIT_READERS, AuditFilter, ObjectRef, ObjectRefError, period_bound
from workflows.csv_export import to_csv
from workflows.errors import message_of
from workflows.messages import _
from workflows.store.paging import MAX_PER_PAGE

_BOUND = "a day (YYYY-MM-DD, the whole day) or a time with offset (ISO 8601); both ends inclusive"
Format = Literal["json", "csv"]
_FORMAT = "csv: the whole list (up to 50,000 rows) as a CSV file, not paged"


class PeriodQuery(Query):
    date_from: str | None = Field(
        None, alias="from", max_length=40, description=_BOUND, examples=["2026-03-01"]
    )
    date_to: str | None = Field(None, alias="to", max_length=40, description=_BOUND, examples=["2026-03-31"])
    format: Annotated[Format, Field(description=_FORMAT)] = "json"

    @field_validator("date_from", "date_to")
    @classmethod
    def _a_bound(cls, value: str | None) -> str | None:
        if value is not None:
            period_bound(value, end=False)  # raises ValueError naming what it takes
        return value

    @model_validator(mode="after")
    def _from_before_to(self) -> Self:
        start, end = self.period()
        if start and end and start > end:
            raise ValueError(
                _(
                    "the from date %(start)s is after the to date %(end)s",
                    start=self.date_from,
                    end=self.date_to,
                )
            )
        return self

    def period(self) -> tuple[datetime | None, datetime | None]:
        """The period in UTC: a day `from` starts at its midnight, a day `to` ends at its last instant."""
        return (
            period_bound(self.date_from, end=False) if self.date_from else None,
            period_bound(self.date_to, end=True) if self.date_to else None,
        )


class AuditQuery(PageQuery, PeriodQuery):
    actor: str | None = Field(None, max_length=80, description="who made the change, e.g. manager1")
    kind: str | None = Field(
        None, max_length=60, description="what changed, e.g. credit_limit_changed or dunning_level_reached"
    )
    object: str | None = Field(
        None,
        max_length=200,
        description=f"the record changed, KIND:VALUE with KIND one of {', '.join(audit_trail.OBJECT_KINDS)}",
        examples=["customer:1"],
    )

    @field_validator("object")
    @classmethod
    def _an_object(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ObjectRef.parse(value, MAX_ID)
            except ObjectRefError as exc:
                raise ValueError(message_of(exc)) from exc
        return value

    def audit_filter(self) -> AuditFilter:
        start, end = self.period()
        ref = ObjectRef.parse(self.object, MAX_ID) if self.object else None
        return AuditFilter(start, end, self.actor, self.kind, ref)


class AuditChange(Model):
    id: str = Field(description="audit:N (audit_events) or case:N (dunning_events)", examples=["audit:12"])
    at: Timestamp
    actor: str
    kind: str
    object: str = Field(description="KIND:VALUE, as the object filter takes it; empty when none")
    instance_id: Id | None
    task_id: Id | None
    before: JsonObject | None = Field(
        description="the values the change replaced; null: none or not recorded"
    )
    after: JsonObject | None = Field(description="the values it set; null: not recorded")
    detail: JsonObject


class AuditPage(Page):
    items: list[AuditChange]


class SodRow(Model):
    kind: Literal[
        "limit_change",
        "contract_version",
        "dispute_credit",
        "order_released",
        "legal_outcome",
        "definition_version",
    ]
    id: Id
    at: Timestamp
    object: str
    instance_id: Id | None
    summary: str
    requester: str | None = Field(description="who started the instance or asked for the change")
    approvers: list[str]
    made_by: str = Field(description="who made the final step (the last approver, or the countersignature)")
    rule: str = Field(description="the authority rule that applied: the table and its level")
    flagged: bool = Field(description="the same person appears twice among requester and approvers")
    repeated: list[str]


class SodReport(Model):
    items: list[SodRow]
    flagged: int = Field(ge=0, description="rows where one person appears twice; there should be none")


def _csv(text: str, name: str, *, cut: bool = False) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{name}.csv"'}
    if cut:  # the file holds the newest MAX_EXPORT_ROWS changes only (its last line says so too)
        headers["X-Export-Truncated"] = str(audit_trail.MAX_EXPORT_ROWS)
    # Event details as stored: a lone surrogate an older row holds is written as U+FFFD, not a 500.
    return ShownResponse(text, mimetype="text/csv", headers=headers)


@bp.get("/audit")
@api.validate(resp=responses(200, AuditPage, 403))
def get_audit(query: AuditQuery) -> Response:
    """Every state change, newest first, with actor, time, object and before/after values (auditors)."""
    require_groups(current_actor(), AUDIT_READERS, _("read the audit trail"))
    where = query.audit_filter()
    with services().rt.factory() as session:
        if query.format == "csv":
            text, cut = audit_trail.export_csv(session, where)
            return _csv(text, "audit", cut=cut)
        # The size the page has, not the one asked for: a client computing pages from it reads every row.
        per_page = min(query.per_page, MAX_PER_PAGE)
        found, total = audit_trail.list_changes(session, where, page=query.page, per_page=per_page)
        return paged([audit_trail.change_json(c) for c in found], total, query.page, per_page)


@bp.get("/audit/sod")
@api.validate(resp=responses(200, SodReport, 403))
def get_sod_report(query: PeriodQuery) -> Response:
    """Each limit change, contract version and dispute credit of the period, oldest first, with its
    requester, approvers and authority rule; a row where one person appears twice is flagged (auditors)."""
    require_groups(current_actor(), AUDIT_READERS, _("read the segregation-of-duties report"))
    start, end = query.period()
    with services().rt.factory() as session:
        rows = sod_report.sod_report(session, start, end)
    if query.format == "csv":
        return _csv(to_csv(sod_report.SOD_CSV_COLUMNS, sod_report.sod_rows(rows)), "segregation-of-duties")
    return jsonify({"items": [sod_report.sod_json(r) for r in rows], "flagged": sum(r.flagged for r in rows)})
