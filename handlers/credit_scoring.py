"""Service operation `credit.score`: the weighted customer scorecard.

Each factor scores 0-100 and carries a weight; the score is the weighted sum (0-100). The grade is
not decided here: bpmn/credit_scorecard.dmn maps the score to A-E, so the cut-offs are policy.
A factor without data scores a documented neutral value rather than penalising a new customer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.approvals import require_customer_reader
from workflows.credit.customers import get_customer
from workflows.credit.models import Customer, Invoice, InvoiceStatus
from workflows.engine.service_tasks import TaskContext

WEIGHTS: dict[str, int] = {
    "payment_history": 25,
    "financial_strength": 15,
    "size": 10,
    "relationship": 10,
    "management": 10,
    "industry_outlook": 10,
    "external_rating": 10,
    "collateral": 5,
    "strategic_importance": 5,
}
NEUTRAL = 50

INDUSTRY_OUTLOOK: dict[str, int] = {
    **dict.fromkeys(("utilities", "healthcare", "food", "public sector", "pharmaceuticals"), 80),
    **dict.fromkeys(("manufacturing", "wholesale", "retail", "services", "technology", "logistics"), 60),
    **dict.fromkeys(("construction", "hospitality", "mining", "real estate", "travel", "textiles"), 30),
}
RATING_SCORES: dict[str, int] = {
    "AAA": 100,
    "AA": 100,
    "A": 90,
    "BBB": 75,
    "BB": 50,
    "B": 30,
    "CCC": 10,
    "CC": 0,
    "C": 0,
    "D": 0,
}


@dataclass(frozen=True)
class ScoreRequest:
    customer_id: int


@dataclass(frozen=True)
class ScoreResult:
    score: int
    score_factors: dict[str, int]


def score_customer(ctx: TaskContext, req: ScoreRequest) -> ScoreResult:
    """Score the customer from its credit file and its payment history of the last 12 months."""
    require_customer_reader(ctx, "credit.score")
    customer = get_customer(ctx.session, req.customer_id)
    today = ctx.now.date()
    factors = {
        "payment_history": payment_history_score(average_days_late(ctx.session, customer.id, today)),
        "financial_strength": financial_strength_score(customer.current_ratio, customer.debt_ratio),
        "size": size_score(customer.annual_revenue),
        "relationship": relationship_score(customer, today),
        "management": management_score(customer.founded_year, today),
        "industry_outlook": INDUSTRY_OUTLOOK.get(customer.industry.strip().lower(), NEUTRAL),
        "external_rating": rating_score(customer.external_rating),
        "collateral": 0,  # no collateral recorded on the credit file
        "strategic_importance": NEUTRAL,
    }
    return ScoreResult(score=weighted_score(WEIGHTS, factors), score_factors=factors)


def weighted_score(weights: dict[str, int], factors: dict[str, int]) -> int:
    """Σ weight × factor / 100 (weights sum to 100), rounded half up to a whole point."""
    total = sum((Decimal(weights[name]) * factors[name] for name in weights), Decimal(0)) / 100
    return int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def average_days_late(session: Session, customer_id: int, today: date) -> Decimal | None:
    """Mean days past due of invoices paid in the last year and of those still open and overdue."""
    since = today - timedelta(days=365)
    rows = session.execute(
        select(Invoice.due_date, Invoice.paid_date, Invoice.status).where(
            Invoice.customer_id == customer_id,
            Invoice.status != InvoiceStatus.CANCELLED,
            Invoice.due_date >= since,
        )
    ).all()
    delays = []
    for due, paid, status in rows:
        end = paid if status == InvoiceStatus.PAID and paid else today
        if status == InvoiceStatus.OPEN and due >= today:
            continue  # not due yet: says nothing about payment behaviour
        delays.append(max(0, (end - due).days))
    return Decimal(sum(delays)) / len(delays) if delays else None


def payment_history_score(days_late: Decimal | None) -> int:
    if days_late is None:
        return NEUTRAL
    for limit, score in ((0, 100), (15, 75), (30, 50), (60, 25)):
        if days_late <= limit:
            return score
    return 0


def financial_strength_score(current_ratio: Decimal | None, debt_ratio: Decimal | None) -> int:
    parts = []
    if current_ratio is not None:
        parts.append(
            next(
                s
                for bound, s in (
                    (Decimal("1.5"), 100),
                    (Decimal("1.2"), 70),
                    (Decimal("1.0"), 40),
                    (Decimal(0), 10),
                )
                if current_ratio >= bound
            )
        )
    if debt_ratio is not None:
        parts.append(
            next(
                (
                    s
                    for bound, s in ((Decimal("0.6"), 100), (Decimal("0.75"), 60), (Decimal("0.9"), 30))
                    if debt_ratio <= bound
                ),
                0,
            )
        )
    return sum(parts) // len(parts) if parts else NEUTRAL


def rating_score(rating: str | None) -> int:
    """An agency rating such as "BBB+" scored by its letter grade (neutral when unknown)."""
    return RATING_SCORES.get((rating or "").upper().rstrip("+-"), NEUTRAL)


def size_score(annual_revenue: Decimal | None) -> int:
    if annual_revenue is None:
        return 30
    bands = ((50_000_000, 100), (10_000_000, 80), (2_000_000, 60), (500_000, 40))
    return next((score for bound, score in bands if annual_revenue >= bound), 20)


def relationship_score(customer: Customer, today: date) -> int:
    years = (today - customer.created_at.date()).days / 365.25
    return next((score for bound, score in ((5, 100), (3, 80), (1, 60)) if years >= bound), 30)


def management_score(founded_year: int | None, today: date) -> int:
    """Company age as the proxy for management maturity until analysts rate it."""
    if founded_year is None:
        return 40
    age = today.year - founded_year
    return next((score for bound, score in ((20, 100), (10, 80), (5, 60), (2, 40)) if age >= bound), 20)
