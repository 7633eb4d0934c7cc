"""How credit.check_recommendation weighed a recommended limit in the base currency, for credit.apply_limit.

The diagram routes a limit to its approvers by the base-currency amount check_recommendation computed at
the day's exchange rate. A rate of that same day corrected while the approvals run would make apply_limit
ask for a level the routing never offered (the case stuck at a refused approval), or fewer approvers than
were asked. The amount is kept in the audit trail, where no diagram can edit it, and apply_limit weighs the
same recommendation with it.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from handlers.approvals import BaseAmount
from workflows.engine.service_tasks import TaskContext
from workflows.store.audit import record_event
from workflows.store.models import AuditEvent
from workflows.users import SYSTEM_ACTOR

# The audit action of credit.check_recommendation: the recommendation in the base currency as routed.
RECOMMENDATION_WEIGHED = "limit_recommendation_weighed"


def record_weighing(
    ctx: TaskContext, customer_id: int, limit: Decimal, currency: str, base: BaseAmount
) -> None:
    """Keep `limit` of `currency` as weighed in the base currency (None: no rate) for this instance."""
    record_event(
        ctx.session,
        actor=ctx.actor or SYSTEM_ACTOR,
        action=RECOMMENDATION_WEIGHED,
        now=ctx.now,
        instance_id=ctx.instance_id,
        customer_id=customer_id,
        limit=str(limit),
        currency=currency,
        limit_in_base=None if base.amount is None else str(base.amount),
        base_currency=base.currency,
    )


def weighed_recommendation(ctx: TaskContext, limit: Decimal, currency: str) -> BaseAmount | None:
    """The base-currency amount the latest check of `limit` of `currency` in this instance gave its
    routing, or None when no check weighed that amount (the caller then weighs it itself)."""
    base = ctx.settings.credit.base_currency
    rows = ctx.session.scalars(
        select(AuditEvent.detail)
        .where(AuditEvent.instance_id == ctx.instance_id, AuditEvent.action == RECOMMENDATION_WEIGHED)
        .order_by(AuditEvent.id.desc())
    )
    for detail in rows:
        if (detail.get("limit"), detail.get("currency"), detail.get("base_currency")) == (
            str(limit),
            currency,
            base,
        ):
            amount = detail.get("limit_in_base")
            return BaseAmount(None if amount is None else Decimal(amount), base)
    return None
