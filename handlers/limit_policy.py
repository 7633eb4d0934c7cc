"""The limit within policy for a customer: the case's formula limit capped by the revenue share that the
limit_policy.dmn deployed with the version gives the customer's grade (for handlers/limit_decision.py)."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from handlers.approvals import deployed_decision
from workflows.credit.models import Customer
from workflows.engine.decisions import DecisionError
from workflows.engine.service_tasks import MissingApprovals, TaskContext
from workflows.errors import message_of
from workflows.messages import _

# The limit policy deployed with the version: its revenue cap bounds what counts as within policy.
LIMIT_POLICY_TABLE = ("limit_policy.dmn", "limit_policy")


def policy_limit(ctx: TaskContext, customer: Customer, formula_limit: Decimal | None) -> Decimal | None:
    """The limit within policy: the formula's limit the case computed, never above the revenue cap of
    limit_policy.dmn deployed with this version for the customer's recorded grade (so a diagram passing a
    high formula limit cannot lift the bar). None when neither is known: a version that computes no
    formula and ships no limit policy (it needed a second process owner to deploy, as it moves money)."""
    limits = [] if formula_limit is None else [cents(formula_limit)]
    if customer.grade is not None:
        try:
            inputs = {"grade": customer.grade, "credit_file": {"key_customer": customer.key_customer}}
            policy = deployed_decision(ctx, LIMIT_POLICY_TABLE, inputs)
        except DecisionError as exc:
            raise MissingApprovals(
                _(
                    "credit limit in instance %(instance)s: %(problem)s",
                    instance=ctx.instance_id,
                    problem=message_of(exc),
                )
            ) from exc
        if policy is not None and isinstance(pct := policy.get("revenue_cap_pct"), (int, Decimal)):
            limits.append(cents((customer.annual_revenue or Decimal(0)) * Decimal(pct) / 100))
    return min(limits) if limits else None


def above_policy(new_limit: Decimal, old_limit: Decimal, policy: Decimal | None) -> bool:
    """An increase beyond the policy's limit (never a cut, nor a limit kept)."""
    return policy is not None and new_limit > old_limit and new_limit > policy


def cents(value: Decimal) -> Decimal:
    """`value` cut to whole cents (a limit is never rounded up)."""
    return Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
