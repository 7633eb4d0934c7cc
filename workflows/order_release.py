"""The order credit check as one transaction: check, record, and start the release of a held order.

The REST API (POST /api/credit-checks) and the demo data call it; the rules are in credit/credit_checks.py.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from workflows.credit import roles
from workflows.credit.credit_checks import CheckRequest, check_credit, check_json
from workflows.credit.order_tables import CreditCheck, Order
from workflows.engine.runner import Runtime, start_instance
from workflows.store.db import transaction
from workflows.users import Actor


def run_credit_check(rt: Runtime, req: CheckRequest, *, actor: Actor, now: datetime) -> dict[str, Any]:
    """Check the order, record the check and the order, and start `order_release` for an order it holds
    over the limit, all in one transaction; the check as the API shows it.

    Raises:
        NotFound (customer), Conflict (the order was closed), and what starting the release raises.
    """
    with transaction(rt.factory) as session:
        check = check_credit(
            session,
            req,
            actor=actor.username,
            now=now,
            base=rt.settings.credit.base_currency,
            start_release=partial(_start_release, rt, actor),
        )
        return check_json(check)


def _start_release(rt: Runtime, actor: Actor, session: Session, order: Order, check: CreditCheck) -> int:
    """Start order_release in the check's transaction as the person who asked for the check: they are its
    initiator, so four-eyes keeps them from releasing the order."""
    data = {
        "customer_id": order.customer_id,
        "order_ref": order.order_ref,
        "amount": order.amount,
        "currency": order.currency,
        "reason": check.reason,
        "check_id": check.id,
    }
    instance = start_instance(
        rt,
        roles.ORDER_RELEASE,
        data,
        actor=actor,
        now=check.checked_at,
        business_key=f"{order.customer_id}:{order.order_ref}",
        check_groups=False,  # started by the check the caller may run (startGroups admin: not by hand)
        session=session,
    )
    return instance.id
