"""Service operation `credit.score`: the weighted customer scorecard.

Each factor scores 0-100; the score is the weighted sum (0-100). The weights are policy: the segment
scorecards of bpmn/scorecard_weights.dmn, deployed with the diagram, pick them by the customer's industry,
region and ownership (a default scorecard when no segment's rule matches), and bpmn/collateral_haircut.dmn
says how much of each kind of collateral counts. The grade is not decided here either:
bpmn/credit_scorecard.dmn maps the score to A-E, and caps a customer we have no evidence on (no payment
history, no external rating) at C. A factor without data scores a documented neutral value, and the
analyst's ratings, when given, replace the proxies (company age for management, the industry table for
the outlook).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.approvals import require_customer_reader
from handlers.scorecard_factors import FACTORS, ScoreInputs, factor_scores, has_rating, weighted_score
from workflows.credit.collateral import Collateral, active_collateral
from workflows.credit.customers import customer_since, exposure_of, get_customer
from workflows.credit.fx import MissingRate, rates_on
from workflows.credit.models import Customer, Invoice, InvoiceStatus
from workflows.definitions.versions import instance_file
from workflows.engine.decisions import DecisionError, evaluate_decision
from workflows.engine.service_tasks import HandlerInputError, TaskContext
from workflows.errors import message_of
from workflows.messages import _

# The policy tables and their decisions (bpmn/README.md, "Scorecard policy").
SCORECARD_FILE, WEIGHTS_DECISION = "scorecard_weights.dmn", "scorecard_weights"
HAIRCUT_FILE, HAIRCUT_DECISION = "collateral_haircut.dmn", "collateral_haircut"
# The invoices whose payment tells how the customer pays (not cancelled or credited ones).
PAYMENT_HISTORY_STATUSES = (InvoiceStatus.OPEN, InvoiceStatus.PAID, InvoiceStatus.WRITTEN_OFF)


@dataclass(frozen=True)
class ScoreRequest:
    customer_id: int
    # What the case asks for (a credit application): the collateral's cover is measured against the
    # larger of this, the current limit and the exposure.
    requested_limit: Decimal | None = None


@dataclass(frozen=True)
class ScoreResult:
    score: int
    score_factors: dict[str, int]
    scorecard: str  # which segment scorecard of scorecard_weights.dmn weighed the factors
    weights: dict[str, int]
    # No payment history in the last year and no external rating: credit_scorecard.dmn grades it C at best.
    thin_file: bool


def score_customer(ctx: TaskContext, req: ScoreRequest) -> ScoreResult:
    """Score the customer from its credit file, collateral, the analyst's ratings and its payment history
    of the last 12 months, with the weights of its segment's scorecard.

    Raises:
        HandlerInputError: the version has no scorecard_weights.dmn, or its weights do not add up to 100.
        HandlerInputError: also for collateral in a currency with no exchange rate (a person posts one).
    """
    require_customer_reader(ctx, "credit.score")
    customer = get_customer(ctx.session, req.customer_id)
    today = ctx.now.date()
    scorecard, weights = scorecard_for(_policy_text(ctx, SCORECARD_FILE), customer)
    return score_of(gather_inputs(ctx, customer, today, req.requested_limit), scorecard, weights, today)


def score_of(inputs: ScoreInputs, scorecard: str, weights: Mapping[str, int], today: date) -> ScoreResult:
    """The score of `inputs` under one scorecard's weights."""
    factors = factor_scores(inputs, today)
    return ScoreResult(
        score=weighted_score(weights, factors),
        score_factors=factors,
        scorecard=scorecard,
        weights=dict(weights),
        thin_file=inputs.days_late is None and not has_rating(inputs.external_rating),
    )


def _policy_text(ctx: TaskContext, name: str) -> str:
    policy = instance_file(ctx.session, ctx.instance_id, name)
    if policy is None:
        raise HandlerInputError(
            _(
                "credit.score in instance %(instance)s: its version was deployed without %(file)s, a "
                "policy table of the scorecard; deploy %(file)s with the diagram",
                instance=ctx.instance_id,
                file=name,
            )
        )
    return policy


def scorecard_for(policy: str, customer: Customer) -> tuple[str, dict[str, int]]:
    """The segment scorecard's name and weights for the customer (decision scorecard_weights).

    Raises:
        HandlerInputError: no rule matches, a weight is missing or not a whole number 0-100, or the
            weights do not add up to 100.
    """
    segment = {
        "industry": customer.industry.strip().lower(),
        "region": (customer.region or "").strip().upper(),
        "ownership": customer.ownership or "",
    }
    try:
        outputs = evaluate_decision(policy, WEIGHTS_DECISION, segment)
    except DecisionError as exc:
        raise HandlerInputError(
            _("credit.score: %(file)s: %(problem)s", file=SCORECARD_FILE, problem=message_of(exc))
        ) from exc
    name = str(outputs.get("scorecard") or "")
    weights: dict[str, int] = {}
    for factor in FACTORS:
        value = outputs.get(factor)
        if isinstance(value, bool) or not isinstance(value, (int, Decimal)) or not 0 <= value <= 100:
            raise HandlerInputError(
                _(
                    "credit.score: %(file)s scorecard %(scorecard)s for %(segment)s gives "
                    "%(factor)s weight %(weight)r; each weight is a whole number 0-100",
                    file=SCORECARD_FILE,
                    scorecard=name or _("(no rule matched)"),
                    segment=segment,
                    factor=factor,
                    weight=value,
                )
            )
        weights[factor] = int(value)
    if sum(weights.values()) != 100:
        raise HandlerInputError(
            _(
                "credit.score: %(file)s scorecard '%(scorecard)s': the weights add up to %(total)s, not 100",
                file=SCORECARD_FILE,
                scorecard=name,
                total=sum(weights.values()),
            )
        )
    return name, weights


def gather_inputs(
    ctx: TaskContext, customer: Customer, today: date, requested: Decimal | None
) -> ScoreInputs:
    """The scorecard's inputs from the customer's file, collateral and receivables."""
    session, base = ctx.session, ctx.settings.credit.base_currency
    rows = active_collateral(session, customer.id, today)
    haircuts = _policy_text(ctx, HAIRCUT_FILE) if rows else ""
    since = customer_since(session, customer)
    at_risk = max(requested or Decimal(0), customer.credit_limit, exposure_of(session, customer.id))
    return ScoreInputs(
        days_late=average_days_late(session, customer.id, today),
        current_ratio=customer.current_ratio,
        debt_ratio=customer.debt_ratio,
        annual_revenue=customer.annual_revenue,
        relationship_years=None if since is None else Decimal((today - since).days) / Decimal("365.25"),
        founded_year=customer.founded_year,
        industry=customer.industry,
        external_rating=customer.external_rating,
        collateral_cover=collateral_cover(session, customer, rows, haircuts, at_risk, today, base=base),
        management_rating=customer.management_rating,
        industry_rating=customer.industry_rating,
        strategic_rating=customer.strategic_rating,
    )


def average_days_late(session: Session, customer_id: int, today: date) -> Decimal | None:
    """Days past due of the invoices due in the last year (paid ones until paid, open and written-off ones
    until today), weighted by amount: a large invoice paid late weighs more than a small one paid on time.
    A customer's invoices are all in its currency (receivables.post_invoice), so amounts add up as they are.
    Cancelled and credited invoices say nothing about how the customer pays."""
    since = today - timedelta(days=365)
    rows = session.execute(
        select(Invoice.due_date, Invoice.paid_date, Invoice.status, Invoice.amount).where(
            Invoice.customer_id == customer_id,
            Invoice.status.in_(PAYMENT_HISTORY_STATUSES),
            Invoice.due_date >= since,
        )
    ).all()
    delays = []
    for due, paid, status, amount in rows:
        if status == InvoiceStatus.OPEN and due >= today:
            continue  # not due yet: says nothing about payment behaviour
        end = paid if status == InvoiceStatus.PAID and paid else today
        delays.append((max(0, (end - due).days), amount))
    if not delays:
        return None
    total = sum((amount for _day, amount in delays), Decimal(0))
    if total == 0:  # only zero-amount invoices: count them alike
        return Decimal(sum(days for days, _ in delays)) / len(delays)
    return sum((amount * days for days, amount in delays), Decimal(0)) / total


def collateral_cover(
    session: Session,
    customer: Customer,
    rows: Sequence[Collateral],
    policy: str,
    at_risk: Decimal,
    today: date,
    *,
    base: str,
) -> Decimal | None:
    """The counted value of the customer's unexpired collateral `rows` (each kind's share from decision
    collateral_haircut of `policy`) as a fraction of the amount at risk; None when it has none.

    Raises:
        HandlerInputError: a collateral in a currency other than the customer's without a rate (a person
            posts the rate, then retries), or the policy has no share for a kind of collateral on file.
    """
    if not rows:
        return None
    currencies = {row.currency for row in rows} | {customer.currency}
    try:
        rates = rates_on(session, currencies, today, base) if len(currencies) > 1 else {}
    except MissingRate as exc:
        # Counting the collateral at a guessed rate, or not at all, would move the grade (and with it a
        # review's limit) on a missing table row: a person posts the rate and retries the step.
        raise HandlerInputError(
            _(
                "credit.score: customer %(customer)s has collateral in %(currency)s, which cannot be weighed "
                "against its %(exposure_currency)s exposure: %(problem)s",
                customer=customer.id,
                currency=exc.currency,
                exposure_currency=customer.currency,
                problem=message_of(exc),
            )
        ) from exc
    counted = Decimal(0)
    for row in rows:
        value = row.value
        if row.currency != customer.currency:
            value = value * rates[row.currency] / rates[customer.currency]
        counted += value * haircut_share(policy, row.kind)
    if at_risk <= 0:
        return Decimal(1) if counted > 0 else Decimal(0)
    return counted / at_risk


def haircut_share(policy: str, kind: str) -> Decimal:
    """How much of a collateral's value counts, 0-1 (decision collateral_haircut, `counted_pct`).

    Raises:
        HandlerInputError: the decision fails or gives no whole percentage 0-100 for the kind.
    """
    try:
        pct: Any = evaluate_decision(policy, HAIRCUT_DECISION, {"kind": kind}).get("counted_pct")
    except DecisionError as exc:
        raise HandlerInputError(
            _("credit.score: %(file)s: %(problem)s", file=HAIRCUT_FILE, problem=message_of(exc))
        ) from exc
    if isinstance(pct, bool) or not isinstance(pct, (int, Decimal)) or not 0 <= pct <= 100:
        raise HandlerInputError(
            _(
                "credit.score: %(file)s decision %(decision)s gives %(pct)r for collateral kind "
                "'%(kind)s'; it must give counted_pct 0-100",
                file=HAIRCUT_FILE,
                decision=HAIRCUT_DECISION,
                pct=pct,
                kind=kind,
            )
        )
    return Decimal(pct) / 100
