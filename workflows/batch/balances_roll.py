"""The daily job `balances_roll`: the portfolio's maintained balances (workflows/credit/customer_balances.py)
rolled to the day, at the day's rates, so the aging buckets move with the date and the first /portfolio
request of the day reads them instead of rolling them itself (portfolio_balances.ensure_rolled does, for a
request that comes before the job). Running it again the same day, at the same rates, changes nothing."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select

from workflows.credit.customer_balance_tables import _EXPOSURES
from workflows.credit.customer_balances import roll_balances
from workflows.credit.portfolio import current_rates
from workflows.engine.runtime import Runtime
from workflows.store.db import transaction


def balances_roll(rt: Runtime, today: date, now: datetime) -> dict[str, Any]:
    """Roll to `today` in one transaction (readers see the old day or the new one, never a mix). The summary
    is the day's state, not this run's share: a runner that joins the day (another scheduler, a Prefect
    flow) finds the tables rolled and must report, and record, the same (tests/batch/test_flows.py)."""
    base = rt.settings.credit.base_currency
    with transaction(rt.factory) as session:
        rates = current_rates(session, today, base)
        roll_balances(session, today, base, rates, now=now)
        customers = session.scalar(select(func.count()).select_from(_EXPOSURES)) or 0
    return {
        "rolled_on": today.isoformat(),
        "customers": customers,
        "rates": {code: str(rate) for code, rate in sorted(rates.items())},
    }
