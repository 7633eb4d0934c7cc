"""Service operations `supplier.risk_check` and `supplier.record_evaluation`: the supplier risk scorecard.

Each factor scores 0-100 and carries a weight; the score is the weighted sum (0-100). The grade is not
decided here: bpmn/supplier_risk.dmn maps the score to A-E (and says which grades need a safeguard),
so the cut-offs are policy. A factor without data scores a documented neutral value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from handlers.approvals import require_reader
from handlers.contracts import own_change_request

# A supplier's size and age are scored on the same bands as a customer's.
from handlers.scorecard_factors import NEUTRAL, rating_score, size_score, weighted_score
from handlers.scorecard_factors import management_score as age_score
from workflows.credit import roles
from workflows.credit.customers import add_months
from workflows.credit.models import Supplier
from workflows.credit.suppliers import GRADES, get_supplier, record_evaluation
from workflows.engine.service_tasks import HandlerInputError, TaskContext
from workflows.messages import _
from workflows.users import SYSTEM_ACTOR

WEIGHTS: dict[str, int] = {
    "financial_size": 20,
    "age": 15,
    "litigation": 20,
    "penalties": 15,
    "delivery": 15,
    "external_rating": 15,
}


def require_supplier_reader(ctx: TaskContext, operation: str) -> None:
    """`require_reader` for a supplier's scorecard and grade."""
    require_reader(ctx, operation, roles.SUPPLIER_READERS, _("The supplier's file"), _("suppliers"))


@dataclass(frozen=True)
class RiskCheckRequest:
    supplier_id: int


@dataclass(frozen=True)
class RiskCheckResult:
    score: int
    factors: dict[str, int]


def risk_check(ctx: TaskContext, req: RiskCheckRequest) -> RiskCheckResult:
    """Score the supplier from its size, age, litigation, penalties, delivery record and external rating
    (only in an instance started by someone who may read suppliers, an admin or the system)."""
    require_supplier_reader(ctx, "supplier.risk_check")
    factors = supplier_factors(get_supplier(ctx.session, req.supplier_id), ctx.now.date())
    return RiskCheckResult(score=weighted_score(WEIGHTS, factors), factors=factors)


def supplier_factors(supplier: Supplier, today: date) -> dict[str, int]:
    """The factor scores (0-100 each) of the supplier scorecard."""
    return {
        "financial_size": size_score(supplier.annual_revenue),
        "age": age_score(supplier.founded_year, today),
        "litigation": count_score(supplier.litigation_count, ((0, 100), (1, 60), (2, 30))),
        "penalties": count_score(supplier.penalties_count, ((0, 100), (2, 60), (5, 30))),
        "delivery": NEUTRAL if supplier.delivery_score is None else supplier.delivery_score,
        "external_rating": rating_score(supplier.external_rating),
    }


def count_score(count: int | None, bands: tuple[tuple[int, int], ...]) -> int:
    """Fewer cases score better: the first band whose upper bound holds the count, else 0."""
    if count is None:
        return NEUTRAL
    return next((score for most, score in bands if count <= most), 0)


@dataclass(frozen=True)
class RecordEvaluationRequest:
    supplier_id: int
    score: int
    grade: str
    valid_months: int
    factors: dict[str, int] = field(default_factory=dict)
    change_request_id: int | None = None


@dataclass(frozen=True)
class EvaluationRecorded:
    evaluation_id: int
    valid_to: date


def record_supplier_evaluation(ctx: TaskContext, req: RecordEvaluationRequest) -> EvaluationRecorded:
    """Store the evaluation (append-only) as the supplier's current grade, and on the change request (only
    in an instance started by someone who may read suppliers, an admin or the system)."""
    require_supplier_reader(ctx, "supplier.record_evaluation")
    if req.grade not in GRADES:
        raise HandlerInputError(
            _(
                "supplier.record_evaluation: grade must be one of %(grades)s, not '%(grade)s'",
                grades=", ".join(GRADES),
                grade=req.grade,
            )
        )
    if not 0 <= req.score <= 100 or req.valid_months < 1:
        raise HandlerInputError(
            _(
                "supplier.record_evaluation: the score must be 0-100 and valid_months at least 1, "
                "not %(score)s and %(months)s",
                score=req.score,
                months=req.valid_months,
            )
        )
    supplier = get_supplier(ctx.session, req.supplier_id)
    evaluation = record_evaluation(
        ctx.session,
        supplier,
        score=req.score,
        grade=req.grade,
        factors=req.factors,
        valid_to=add_months(ctx.now.date(), req.valid_months),
        actor=ctx.actor or SYSTEM_ACTOR,  # whose action ran the step (the buyer who started the change)
        now=ctx.now,
        instance_id=ctx.instance_id,
    )
    if req.change_request_id is not None:
        request = own_change_request(ctx, req.change_request_id, "supplier.record_evaluation")
        request.supplier_score, request.supplier_grade = req.score, req.grade
    return EvaluationRecorded(evaluation_id=evaluation.id, valid_to=evaluation.valid_to)
