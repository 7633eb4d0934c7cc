"""Service operations on the customer's credit file: `credit.load_file` brings it into the case, and
`credit.record_ratings` keeps the analyst's qualitative ratings on it for the scorecard (the diagrams re-score
the case when they change what is on file)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from handlers.approvals import require_customer_reader
from workflows.credit import roles
from workflows.credit.customers import customer_since, exposure_of, get_customer, overdue_of
from workflows.credit.record_fields import iso_text
from workflows.engine.service_tasks import HandlerInputError, TaskContext
from workflows.messages import _
from workflows.store.audit import record_event
from workflows.store.models import User, UserGroup
from workflows.users import ADMIN_GROUP

# The analyst's ratings, 1 (poor) to 5 (excellent); a form's 0 means "keep the rating on file".
RATINGS = ("management_rating", "industry_rating", "strategic_rating")
RATING_RANGE = range(0, 6)


@dataclass(frozen=True)
class CreditFileRequest:
    customer_id: int


@dataclass(frozen=True)
class CreditFile:
    customer_name: str
    customer_email: str
    industry: str
    annual_revenue: Decimal | None
    customer_currency: str
    current_limit: Decimal
    current_grade: str | None
    exposure: Decimal
    overdue: Decimal
    blocked: bool
    sales_owner: str | None
    customer_since: str | None = None  # ISO date: on file, else the first invoice's
    ownership: str | None = None
    region: str | None = None
    management_rating: int | None = None
    industry_rating: int | None = None
    strategic_rating: int | None = None
    key_customer: bool = False  # limit_policy.dmn reviews key customers more often


def load_credit_file(ctx: TaskContext, req: CreditFileRequest) -> CreditFile:
    """The facts an approver needs on the case: who the customer is, its limit, exposure and grade."""
    require_customer_reader(ctx, "credit.load_file")
    customer = get_customer(ctx.session, req.customer_id)
    return CreditFile(
        customer_name=customer.name,
        customer_email=customer.email,
        industry=customer.industry,
        annual_revenue=customer.annual_revenue,
        customer_currency=customer.currency,
        current_limit=customer.credit_limit,
        current_grade=customer.grade,
        exposure=exposure_of(ctx.session, customer.id),
        overdue=overdue_of(ctx.session, customer.id, ctx.now.date()),
        blocked=customer.blocked,
        sales_owner=customer.sales_owner,
        customer_since=iso_text(customer_since(ctx.session, customer)),
        ownership=customer.ownership,
        region=customer.region,
        management_rating=customer.management_rating,
        industry_rating=customer.industry_rating,
        strategic_rating=customer.strategic_rating,
        key_customer=customer.key_customer,
    )


@dataclass(frozen=True)
class RatingsRequest:
    customer_id: int
    management_rating: int = 0
    industry_rating: int = 0
    strategic_rating: int = 0


@dataclass(frozen=True)
class RatingsResult:
    changed: list[str]  # the ratings this step set (those given as 1-5)
    rated_by: str | None  # who rated the customer last
    # A rating given differs from the one on file: the score, grade and proposal of the case are stale, and
    # the diagram re-scores (rescore_customer ... repropose_limit) before the recommendation is checked.
    changed_file: bool = False


def record_ratings(ctx: TaskContext, req: RatingsRequest) -> RatingsResult:
    """Keep the analyst's ratings (1-5) on the credit file, named after the person whose review form gave
    them; 0 keeps the rating on file. `changed_file` says whether a rating on file changed: the diagrams
    then re-score the case before the recommendation is checked, so the ratings count in this case.

    Raises:
        HandlerInputError: a rating outside 0-5, or the person acting is not a credit analyst or manager
            (a diagram cannot let anyone else rate a customer).
    """
    require_customer_reader(ctx, "credit.record_ratings")
    given = {name: getattr(req, name) for name in RATINGS}
    bad = {
        k: v
        for k, v in given.items()
        if isinstance(v, bool) or not isinstance(v, int) or v not in RATING_RANGE
    }
    if bad:
        raise HandlerInputError(
            _("credit.record_ratings: ratings are whole numbers 1-5 (0 keeps): %(bad)s", bad=bad)
        )
    customer = get_customer(ctx.session, req.customer_id)
    rated = {k: v for k, v in given.items() if v}
    if not rated:
        return RatingsResult(changed=[], rated_by=customer.ratings_by)
    if not _may_rate(ctx):
        recorders = ", ".join(sorted(roles.RATING_RECORDERS))
        # No actor gets its own sentence: "nobody" inside another one would not translate well.
        raise HandlerInputError(
            _(
                "credit.record_ratings in instance %(instance)s: %(actor)s is not in "
                "%(recorders)s; only they rate a customer",
                instance=ctx.instance_id,
                actor=ctx.actor,
                recorders=recorders,
            )
            if ctx.actor
            else _(
                "credit.record_ratings in instance %(instance)s: nobody is not in "
                "%(recorders)s; only they rate a customer",
                instance=ctx.instance_id,
                recorders=recorders,
            )
        )
    before = {k: getattr(customer, k) for k in rated}
    for name, value in rated.items():
        setattr(customer, name, value)
    customer.ratings_by, customer.ratings_at, customer.updated_at = ctx.actor, ctx.now, ctx.now
    record_event(
        ctx.session,
        actor=ctx.actor,
        action="customer_rated",
        now=ctx.now,
        instance_id=ctx.instance_id,
        bpmn_id=ctx.bpmn_id,
        customer_id=customer.id,
        before=before,
        after=rated,
    )
    changed_file = any(before[name] != value for name, value in rated.items())
    return RatingsResult(changed=sorted(rated), rated_by=ctx.actor, changed_file=changed_file)


def _may_rate(ctx: TaskContext) -> bool:
    found = ctx.session.scalar(
        select(User.id)
        .join(UserGroup, UserGroup.user_id == User.id)
        .where(
            User.username == ctx.actor,
            User.active.is_(True),
            UserGroup.group_name.in_([*sorted(roles.RATING_RECORDERS), ADMIN_GROUP]),
        )
        .limit(1)
    )
    return found is not None
