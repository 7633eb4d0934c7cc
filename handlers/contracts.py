"""Service operations of a supplier contract change: open, safeguard, approve, reject, expire, new version."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from handlers.approvals import (
    BaseAmount,
    authority_groups,
    completed_steps,
    in_base_currency,
    require_approvals,
    started_by_one_of,
)
from workflows.credit import roles
from workflows.credit.contract_changes import (
    apply_change_request,
    approve_change_request,
    close_change_request,
    get_change_request,
    open_change_request,
    record_safeguard,
)
from workflows.credit.contracts import current_terms, get_contract
from workflows.credit.models import ContractChangeRequest, ContractChangeStatus
from workflows.credit.suppliers import get_supplier
from workflows.engine.service_tasks import Approval, HandlerInputError, MissingApprovals, TaskContext
from workflows.messages import _
from workflows.money import format_money

SAFEGUARDS = ("guarantee", "justification")
# The authority matrix of contract changes: who must approve, by the change's value impact.
CHANGE_AUTHORITY_TABLE = ("contract_change_authority.dmn", "contract_change_authority")


@dataclass(frozen=True)
class OpenChangeRequest:
    contract_id: int
    change_type: str
    changes: dict[str, Any]
    value_impact: Decimal
    reason: str


@dataclass(frozen=True)
class ChangeOpened:
    change_request_id: int
    contract_number: str
    currency: str
    supplier_id: int
    supplier_name: str
    supplier_email: str
    current: dict[str, Any]  # the contract's values and terms before the change
    changes: dict[str, Any]  # the requested new values, checked and JSON-safe
    summary: str  # "payment terms days: 60 -> 90; ..." for task instructions
    # contract_change_authority.dmn's inputs: |value impact| in the base currency at the rate of the day
    # the request opened; None (and rate_missing) without a stored rate: the highest level signs.
    impact_in_base: Decimal | None
    rate_missing: bool
    base_currency: str


def own_change_request(ctx: TaskContext, request_id: int, operation: str) -> ContractChangeRequest:
    """The change request this instance opened: an instance acts only on its own (a diagram naming another
    instance's request could reject, expire or grade it, or attach a safeguard to it).

    Raises:
        MissingApprovals: the request belongs to another instance (nothing is written).
    """
    request = get_change_request(ctx.session, request_id)
    if request.instance_id != ctx.instance_id:
        raise MissingApprovals(
            _(
                "%(operation)s in instance %(instance)s: change request %(request)s belongs to instance "
                "%(owner)s; an instance acts only on its own change request",
                operation=operation,
                instance=ctx.instance_id,
                request=request.id,
                owner=request.instance_id,
            )
        )
    return request


def open_change(ctx: TaskContext, req: OpenChangeRequest) -> ChangeOpened:
    """Record the change request of this instance (the contract is locked while another one is open).

    Only an instance a buyer (procurement, procurement_manager), an admin or the system started opens one: a
    process owner's one-man diagram opened a request, ended, and left the contract locked for good.

    Raises:
        HandlerInputError: anyone else started the instance (nothing is written).
    """
    if not started_by_one_of(ctx, sorted(roles.SUPPLIER_CREATORS)):
        raise HandlerInputError(
            _(
                "contract.open_change in instance %(instance)s: a change request is opened by an instance "
                "a buyer (%(buyers)s), an admin or the system started, not by one %(starter)s started",
                instance=ctx.instance_id,
                buyers=", ".join(sorted(roles.SUPPLIER_CREATORS)),
                starter=ctx.started_by,
            )
        )
    contract = get_contract(ctx.session, req.contract_id, for_update=True)
    supplier = get_supplier(ctx.session, contract.supplier_id)
    current = current_terms(contract)
    request = open_change_request(
        ctx.session,
        contract,
        change_type=req.change_type,
        changes=req.changes,
        value_impact=req.value_impact,
        reason=req.reason,
        requested_by=ctx.started_by,
        now=ctx.now,
        instance_id=ctx.instance_id,
    )
    impact = change_impact_in_base(ctx, request, contract.currency)
    return ChangeOpened(
        change_request_id=request.id,
        contract_number=contract.number,
        currency=contract.currency,
        supplier_id=supplier.id,
        supplier_name=supplier.name,
        supplier_email=supplier.email,
        current=current,
        changes=dict(request.changes),
        summary=describe_changes(request.changes, current),
        impact_in_base=impact.amount,
        rate_missing=impact.rate_missing,
        base_currency=impact.currency,
    )


def describe_changes(changes: dict[str, Any], current: dict[str, Any]) -> str:
    """One line naming each changed value with its old and new value, for people to read."""
    parts = []
    for key, new in changes.items():
        old = current.get(key)
        parts.append(
            f"{key.replace('_', ' ')}: {'-' if old is None else old} -> {'(removed)' if new is None else new}"
        )
    return "; ".join(parts)


@dataclass(frozen=True)
class SafeguardRequest:
    change_request_id: int
    safeguard: str
    details: str
    guarantee_amount: Decimal | None = None


@dataclass(frozen=True)
class SafeguardRecorded:
    safeguard: str


def store_safeguard(ctx: TaskContext, req: SafeguardRequest) -> SafeguardRecorded:
    """Attach the requester's guarantee or justification for a risky supplier to the change request."""
    if req.safeguard not in SAFEGUARDS or not req.details.strip():
        raise HandlerInputError(
            _(
                "contract.record_safeguard: safeguard must be one of %(safeguards)s with details, "
                "not '%(safeguard)s'",
                safeguards=", ".join(SAFEGUARDS),
                safeguard=req.safeguard,
            )
        )
    request = own_change_request(ctx, req.change_request_id, "contract.record_safeguard")
    record_safeguard(
        ctx.session,
        request,
        safeguard=req.safeguard,
        details=req.details.strip(),
        guarantee_amount=req.guarantee_amount,
        actor=ctx.started_by,
        now=ctx.now,
    )
    return SafeguardRecorded(safeguard=req.safeguard)


@dataclass(frozen=True)
class ApproveChangeRequest:
    change_request_id: int
    countersign_days: int
    approver_steps: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ChangeApproved:
    approvers: list[dict[str, Any]]
    countersign_by: date


def change_impact_in_base(ctx: TaskContext, request: ContractChangeRequest, currency: str) -> BaseAmount:
    """|value impact| in the base currency at the rate of the day the request opened (the same amount for
    the diagram's routing and the approvals check, whenever they run)."""
    return in_base_currency(ctx, abs(request.value_impact), currency, request.created_at.date())


def change_approvals(ctx: TaskContext, req: ApproveChangeRequest | RecordVersionRequest) -> list[Approval]:
    """The approvals a contract change needs (approving it, and making its new version): those
    contract_change_authority.dmn asks for its value impact, given in this instance, for this instance's own
    change request.

    Raises:
        MissingApprovals: the request belongs to another instance, or the approvals are missing.
    """
    approving = isinstance(req, ApproveChangeRequest)
    operation = "contract.approve_change" if approving else "contract.record_version"
    request = own_change_request(ctx, req.change_request_id, operation)
    contract = get_contract(ctx.session, request.contract_id)
    base = change_impact_in_base(ctx, request, contract.currency)
    impact = {"change_request": {"impact_in_base": base.amount, "rate_missing": base.rate_missing}}
    groups = authority_groups(ctx, operation, CHANGE_AUTHORITY_TABLE, impact, roles.CONTRACT_CHANGE_AUTHORITY)
    what = _(
        "change request %(request)s (value impact %(impact)s)",
        request=request.id,
        impact=format_money(request.value_impact, contract.currency),
    )
    return require_approvals(ctx, operation, groups, what)


def approve_change(ctx: TaskContext, req: ApproveChangeRequest) -> ChangeApproved:
    """Record the approvers; the request now waits for the supplier's countersignature. Moves money: its
    approvals (`change_approvals`) are checked before it runs."""
    if req.countersign_days < 1:
        raise HandlerInputError(
            _(
                "contract.approve_change: countersign_days must be 1 or more, not %(days)s",
                days=req.countersign_days,
            )
        )
    request = own_change_request(ctx, req.change_request_id, "contract.approve_change")
    approvers = completed_steps(ctx, req.approver_steps)
    deadline = ctx.now.date() + timedelta(days=req.countersign_days)
    approve_change_request(ctx.session, request, approvers=approvers, countersign_by=deadline, now=ctx.now)
    return ChangeApproved(approvers=approvers, countersign_by=deadline)


@dataclass(frozen=True)
class RejectChangeRequest:
    change_request_id: int
    comment: str = ""
    approver_steps: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ChangeRejected:
    rejected_by: str
    rejected_at_step: str | None


def reject_change(ctx: TaskContext, req: RejectChangeRequest) -> ChangeRejected:
    """Close the request as rejected by whoever completed the last review or approval; the contract stays."""
    request = own_change_request(ctx, req.change_request_id, "contract.reject_change")
    steps = completed_steps(ctx, req.approver_steps)
    last_user, last_step = (steps[-1]["user"], steps[-1]["step"]) if steps else ("system", None)
    close_change_request(
        ctx.session,
        request,
        status=ContractChangeStatus.REJECTED,
        actor=last_user,
        now=ctx.now,
        comment=req.comment,
        approvers=steps,
    )
    return ChangeRejected(rejected_by=last_user, rejected_at_step=last_step)


@dataclass(frozen=True)
class ExpireChangeRequest:
    change_request_id: int


@dataclass(frozen=True)
class ChangeExpired:
    countersign_by: date | None


def expire_change(ctx: TaskContext, req: ExpireChangeRequest) -> ChangeExpired:
    """Close the request as expired: the supplier did not countersign in time; the contract stays."""
    request = own_change_request(ctx, req.change_request_id, "contract.expire_change")
    close_change_request(
        ctx.session, request, status=ContractChangeStatus.EXPIRED, actor="system", now=ctx.now
    )
    return ChangeExpired(countersign_by=request.countersign_by)


@dataclass(frozen=True)
class RecordVersionRequest:
    change_request_id: int
    signed_by: str


@dataclass(frozen=True)
class VersionRecorded:
    version: int
    contract_number: str
    value: Decimal
    payment_terms_days: int
    terms: dict[str, Any]


def record_version(ctx: TaskContext, req: RecordVersionRequest) -> VersionRecorded:
    """Apply the countersigned change: new current terms and an immutable contract version recorded by the
    person who reported the countersignature. Moves money: its approvals (`change_approvals`) are checked."""
    if not isinstance(req.signed_by, str) or not req.signed_by.strip():
        raise HandlerInputError(
            _(
                "contract.record_version in instance %(instance)s: the supplier_countersigned message "
                'must carry data {"signed_by": "NAME"}',
                instance=ctx.instance_id,
            )
        )
    request = own_change_request(ctx, req.change_request_id, "contract.record_version")
    version = apply_change_request(
        ctx.session, request, signed_by=req.signed_by.strip()[:200], actor=ctx.actor, now=ctx.now
    )
    contract = get_contract(ctx.session, request.contract_id)
    return VersionRecorded(
        version=version.version,
        contract_number=contract.number,
        value=contract.value,
        payment_terms_days=contract.payment_terms_days,
        terms=dict(contract.terms),
    )
