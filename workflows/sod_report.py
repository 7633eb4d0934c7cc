"""The segregation-of-duties report: each money move of a period with who asked, who approved, and the
authority rule that applied; a row where one person appears twice is flagged.

Money moves read here: limit changes (`limit_changes`), contract versions (`contract_versions` with
their change requests), dispute credits (a dispute settled by credit notes, `disputes`), order releases
and write-offs (workflows/sod_credit_moves.py); and the approved versions of diagrams that move money
(deployed by one process owner, approved by another).

Who counts: the requester (the person who started the instance, or asked for the change; `system` for
a job's start is no person) and every approver. The person who made the final step (the last
approver, or whoever reported a countersignature) is shown but not counted twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.credit import roles
from workflows.credit.disputes import CreditNote, Dispute, DisputeStatus
from workflows.credit.models import (
    Contract,
    ContractChangeRequest,
    ContractVersion,
    Customer,
    LimitChange,
)
from workflows.definitions.versions import instance_file
from workflows.engine.decisions import DecisionError, evaluate_decision
from workflows.errors import message_of
from workflows.messages import _
from workflows.money import format_money
from workflows.sod_credit_moves import LEGAL_OUTCOME, ORDER_RELEASED, order_releases, write_offs
from workflows.sod_rows import MAX_ROWS, SodRow, all_rows, names, period, repeated_people
from workflows.store.models import (
    DefinitionStatus,
    ProcessDefinition,
    ProcessInstance,
)

# The authority tables the money-moving handlers check (handlers/limit_decision.py, handlers/contracts.py;
# tests/workflows/test_sod_report.py keeps these equal to theirs).
LIMIT_TABLE = ("approval_authority.dmn", "approval_authority")
CONTRACT_TABLE = ("contract_change_authority.dmn", "contract_change_authority")
DISPUTE_TABLE = ("dispute_credit_authority.dmn", "dispute_credit_authority")

LIMIT_CHANGE, CONTRACT_VERSION, DISPUTE_CREDIT = "limit_change", "contract_version", "dispute_credit"
DEFINITION_VERSION = "definition_version"  # a diagram that moves money, approved by a second owner
KINDS = (LIMIT_CHANGE, CONTRACT_VERSION, DISPUTE_CREDIT, ORDER_RELEASED, LEGAL_OUTCOME, DEFINITION_VERSION)


def sod_report(session: Session, start: datetime | None, end: datetime | None) -> list[SodRow]:
    """Every money move (limit change, contract version, dispute credit, order release, write-off) and
    approved money-moving diagram from `start` to `end` (inclusive), oldest first."""
    rows = [
        *_limit_changes(session, start, end),
        *_contract_versions(session, start, end),
        *_dispute_credits(session, start, end),
        *order_releases(session, start, end),
        *write_offs(session, start, end),
        *_definition_versions(session, start, end),
    ]
    return sorted(rows, key=lambda r: (r.at, KINDS.index(r.kind), r.id))


def _limit_changes(session: Session, start: datetime | None, end: datetime | None) -> list[SodRow]:
    query = (
        select(LimitChange, Customer.name, ProcessInstance.started_by, ProcessInstance.process_key)
        .join(Customer, Customer.id == LimitChange.customer_id)
        .outerjoin(ProcessInstance, ProcessInstance.id == LimitChange.instance_id)
        .where(*period(LimitChange.changed_at, start, end))
        .order_by(LimitChange.changed_at, LimitChange.id)
        .limit(MAX_ROWS + 1)
    )
    found = []
    for change, name, started_by, process_key in all_rows(session.execute(query).all(), "limit changes"):
        approvers = names(change.approvers)
        requester = started_by if change.instance_id is not None else change.changed_by
        found.append(
            SodRow(
                kind=LIMIT_CHANGE,
                id=change.id,
                at=change.changed_at,
                object=f"customer:{change.customer_id}",
                instance_id=change.instance_id,
                summary=_(
                    "%(customer)s: limit %(old)s -> %(new)s (%(why)s)",
                    customer=name,
                    old=format_money(change.old_limit, change.currency),
                    new=format_money(change.new_limit, change.currency),
                    why=process_key or change.reason,
                ),
                requester=requester,
                approvers=approvers,
                made_by=change.changed_by,
                rule=_limit_rule(change, approvers),
                repeated=repeated_people(requester, approvers),
            )
        )
    return found


def _limit_rule(change: LimitChange, approvers: list[str]) -> str:
    if change.instance_id is None:
        return _("no approval: set outside a process (%(reason)s)", reason=change.reason)
    if change.new_limit <= change.old_limit:
        return _("no approval needed: a lower or unchanged limit")
    # credit.apply_limit records exactly the approvals the level asked for, one per group in order.
    for level, groups in roles.LIMIT_AUTHORITY.items():
        if len(groups) == len(approvers):
            return _level(LIMIT_TABLE[0], level, groups)
    return _no_level(LIMIT_TABLE[0], len(approvers))


def _level(file: str, level: object, groups: Sequence[str]) -> str:
    return _("%(file)s: level %(level)s (%(groups)s)", file=file, level=level, groups=" + ".join(groups))


def _no_level(file: str, count: int) -> str:
    return _("%(file)s: %(count)s approval(s), matching no level", file=file, count=count)


def _contract_versions(session: Session, start: datetime | None, end: datetime | None) -> list[SodRow]:
    query = (
        select(ContractVersion, ContractChangeRequest, Contract.currency)
        .join(Contract, Contract.id == ContractVersion.contract_id)
        .outerjoin(ContractChangeRequest, ContractChangeRequest.id == ContractVersion.change_request_id)
        .where(*period(ContractVersion.created_at, start, end))
        .order_by(ContractVersion.created_at, ContractVersion.id)
        .limit(MAX_ROWS + 1)
    )
    found = []
    for version, request, currency in all_rows(session.execute(query).all(), "contract versions"):
        approvers = names(version.approvers or (request.approvers if request else []))
        requester = request.requested_by if request is not None else version.created_by
        if request is None:
            rule = _("no approval: the contract's first version")
            summary = _("version %(version)s", version=version.version)
        else:
            rule = _contract_rule(session, request)
            summary = _(
                "version %(version)s: %(change)s, value impact %(impact)s",
                version=version.version,
                change=request.change_type,
                impact=format_money(request.value_impact, currency),
            )
        found.append(
            SodRow(
                kind=CONTRACT_VERSION,
                id=version.id,
                at=version.created_at,
                object=f"contract:{version.contract_id}",
                instance_id=version.instance_id,
                summary=summary,
                requester=requester,
                approvers=approvers,
                made_by=version.created_by,
                rule=rule,
                repeated=repeated_people(requester, approvers),
            )
        )
    return found


def _contract_rule(session: Session, request: ContractChangeRequest) -> str:
    """The level the authority table deployed with the request's instance gives for its value impact."""
    file, decision = CONTRACT_TABLE
    text = None if request.instance_id is None else instance_file(session, request.instance_id, file)
    if text is None:
        return _("%(file)s: not deployed with instance %(instance)s", file=file, instance=request.instance_id)
    # Tables since dff5b92 weigh the impact in the base currency, as contract.open_change converted it
    # into the instance's data (`change_request`); older tables read the bare `value_impact`.
    data = session.scalar(select(ProcessInstance.data).where(ProcessInstance.id == request.instance_id))
    opened = (data or {}).get("change_request") if isinstance(data, dict) else None
    base = {
        "impact_in_base": _decimal_or_none(opened.get("impact_in_base"))
        if isinstance(opened, dict)
        else None,
        "rate_missing": not isinstance(opened, dict) or opened.get("impact_in_base") is None,
    }
    inputs = {"value_impact": Decimal(request.value_impact), "change_request": base}
    try:
        level = evaluate_decision(text, decision, inputs).get("approval_level")
    except DecisionError as exc:
        return _("%(file)s: %(problem)s", file=file, problem=message_of(exc))
    groups = roles.CONTRACT_CHANGE_AUTHORITY.get(str(level), ())
    if not groups:
        return _("%(file)s: level %(level)s (unknown level)", file=file, level=level)
    return _level(file, level, groups)


def _decimal_or_none(value: Any) -> Decimal | None:
    try:
        return None if value is None else Decimal(str(value))
    except ArithmeticError:
        return None


def _dispute_credits(session: Session, start: datetime | None, end: datetime | None) -> list[SodRow]:
    """Each dispute settled by credit notes: proposed by the owner group's member, approved per
    dispute_credit_authority.dmn (the collector who raised it counts as a requester too)."""
    query = (
        select(Dispute, Customer.name)
        .join(Customer, Customer.id == Dispute.customer_id)
        .where(Dispute.status == DisputeStatus.CREDITED, *period(Dispute.closed_at, start, end))
        .order_by(Dispute.closed_at, Dispute.id)
        .limit(MAX_ROWS + 1)
    )
    found = []
    for dispute, name in all_rows(session.execute(query).all(), "dispute credits"):
        approvers = names(
            session.scalar(select(CreditNote.approved_by).where(CreditNote.dispute_id == dispute.id).limit(1))
            or []
        )
        requester = dispute.proposed_by
        repeated = {*repeated_people(requester, approvers), *repeated_people(dispute.raised_by, approvers)}
        invoices = session.scalars(
            select(CreditNote.invoice_number)
            .where(CreditNote.dispute_id == dispute.id)
            .order_by(CreditNote.id)
        ).all()
        found.append(
            SodRow(
                kind=DISPUTE_CREDIT,
                id=dispute.id,
                at=dispute.closed_at or dispute.opened_at,
                object=f"dispute:{dispute.id}",
                instance_id=dispute.instance_id,
                summary=_(
                    "%(customer)s: credit note for %(invoices)s, %(amount)s (raised by %(raiser)s)",
                    customer=name,
                    invoices=", ".join(invoices) if invoices else _("no invoice"),
                    amount=format_money(dispute.credited_amount, dispute.currency),
                    raiser=dispute.raised_by,
                ),
                requester=requester,
                approvers=approvers,
                made_by=", ".join(approvers) or str(dispute.decided_by),
                rule=_dispute_rule(dispute),
                repeated=sorted(repeated),
            )
        )
    return found


def _dispute_rule(dispute: Dispute) -> str:
    base = dispute.proposed_credit_base
    if base is None:
        return _("%(file)s: no exchange rate: the credit manager", file=DISPUTE_TABLE[0])
    return _("%(file)s: %(amount)s in the base currency", file=DISPUTE_TABLE[0], amount=f"{base:.2f}")


def _definition_versions(session: Session, start: datetime | None, end: datetime | None) -> list[SodRow]:
    """Versions that waited for a second process owner (they call a money-moving operation) and got one."""
    query = (
        select(ProcessDefinition)
        .where(
            ProcessDefinition.decided_by.is_not(None),
            ProcessDefinition.status != DefinitionStatus.REJECTED,
            *period(ProcessDefinition.decided_at, start, end),
        )
        .order_by(ProcessDefinition.decided_at, ProcessDefinition.id)
        .limit(MAX_ROWS + 1)
    )
    found = []
    for definition in all_rows(session.scalars(query).all(), "approved diagram versions"):
        approvers = [str(definition.decided_by)]
        found.append(
            SodRow(
                kind=DEFINITION_VERSION,
                id=definition.id,
                at=definition.decided_at or definition.deployed_at,
                object=f"definition:{definition.process_key}",
                instance_id=None,
                summary=_(
                    "%(key)s version %(version)s (%(file)s)",
                    key=definition.process_key,
                    version=definition.version,
                    file=definition.bpmn_file,
                ),
                requester=definition.deployed_by,
                approvers=approvers,
                made_by=str(definition.decided_by),
                rule=_("a diagram that moves money: a second process owner approves it"),
                repeated=repeated_people(definition.deployed_by, approvers),
            )
        )
    return found


def sod_json(row: SodRow) -> dict[str, Any]:
    """A report row as GET /api/audit/sod lists it."""
    return {
        "kind": row.kind,
        "id": row.id,
        "at": row.at.isoformat(),
        "object": row.object,
        "instance_id": row.instance_id,
        "summary": row.summary,
        "requester": row.requester,
        "approvers": row.approvers,
        "made_by": row.made_by,
        "rule": row.rule,
        "flagged": row.flagged,
        "repeated": row.repeated,
    }


SOD_CSV_COLUMNS = (
    "kind",
    "id",
    "at",
    "object",
    "instance_id",
    "summary",
    "requester",
    "approvers",
    "made_by",
    "rule",
    "flagged",
    "repeated",
)


def sod_rows(rows: Sequence[SodRow]) -> list[list[Any]]:
    """The CSV export's rows."""
    return [
        [
            r.kind,
            r.id,
            r.at,
            r.object,
            r.instance_id,
            r.summary,
            r.requester,
            " ".join(r.approvers),
            r.made_by,
            r.rule,
            "yes" if r.flagged else "",
            " ".join(r.repeated),
        ]
        for r in rows
    ]
