"""Service operation `credit.load_file`: bring the customer's credit file into the case."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from handlers.approvals import require_customer_reader
from workflows.credit.customers import exposure_of, get_customer, overdue_of
from workflows.engine.service_tasks import TaskContext


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
    )
