"""The allowance at a period end for the provision ratio (workflows/credit/kpis.py): the provision run's
snapshot of that day when there is one, else computed as compute_provisions (workflows/credit/provisions.py)
computes it, from the balances the KPI ledger already summed (workflows/credit/kpi_book.py), so a live
trend costs no second pass over the book per period end."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.credit.fx import CENT, MissingRate, rate_on
from workflows.credit.kpi_book import provision_balances
from workflows.credit.provision_matrix import Matrix, deployed_matrix
from workflows.credit.provision_tables import ProvisionRun
from workflows.credit.provisions import MissingRates, specific_provisions_on

RUN, COMPUTED = "provision run", "computed"
# (bucket, rate) by days past due, per deployed table text: a table's answer depends on its text alone, and
# evaluating it takes about 2 ms, so a trend of 12 month ends would spend seconds re-asking it.
_RATES: dict[str, dict[int, tuple[str, Decimal]]] = {}
_MAX_TABLES = 16


def _rate_for(matrix: Matrix, days: int) -> tuple[str, Decimal]:
    known = _RATES.get(matrix.text)
    if known is None:
        if len(_RATES) >= _MAX_TABLES:
            _RATES.clear()
        known = _RATES[matrix.text] = {}
    found = known.get(days)
    if found is None:
        found = known[days] = matrix.rate_for(days)
    return found


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def allowance_on(
    session: Session, end: date, base: str, balances: dict[tuple[str, date], int]
) -> tuple[Decimal, str]:
    """(the allowance at the end of `end` in the base currency, its source). `balances`: {(currency, due
    date): hundredths} of every customer as a provision run counts them that day.

    The matrix part groups the balances by (bucket, currency, rate) as the run does, converts each group at
    the day's rate to the cent and applies its rate to the cent; customers with a specific provision are
    out of the matrix and count their provision's remainder instead.

    Raises:
        MatrixError: no provision matrix is deployed.  MissingRates: a currency without a rate that day.
    """
    run = session.scalar(
        select(ProvisionRun).where(ProvisionRun.as_of == end, ProvisionRun.base_currency == base)
    )
    if run is not None:
        return run.closing, RUN
    matrix = deployed_matrix(session, end)
    specific = specific_provisions_on(session, end)
    left = dict(balances)
    for dues in provision_balances(session, end, sorted(specific)).values():
        for key, amount in dues.items():
            left[key] = left.get(key, 0) - amount
    grouped: dict[tuple[str, str, Decimal], int] = {}
    for (currency, due), amount in left.items():
        if amount <= 0:
            continue
        bucket, rate = _rate_for(matrix, (end - due).days)
        grouped[(bucket, currency, rate)] = grouped.get((bucket, currency, rate), 0) + amount
    currencies = {c for _, c, _ in grouped} | {p.currency for p, _ in specific.values()}
    fx: dict[str, Decimal] = {}
    missing = []
    for currency in sorted(currencies):
        try:
            fx[currency] = rate_on(session, currency, end, base)
        except MissingRate:
            missing.append(currency)
    if missing:
        raise MissingRates(missing, end, base)
    total = Decimal("0.00")
    for (_, currency, rate), amount in grouped.items():
        total += _cents(_cents(Decimal(amount) / 100 * fx[currency]) * rate)
    for provision, remaining in specific.values():
        total += _cents(remaining * fx[provision.currency])
    return total, COMPUTED
