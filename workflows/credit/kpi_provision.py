"""The allowance at a period end for the provision ratio (workflows/credit/kpis.py): the provision run's
snapshot of that day when there is one, else computed as compute_provisions (workflows/credit/provisions.py)
computes it, from the balances the KPI ledger already summed (workflows/credit/kpi_book.py), so a live
trend costs no second pass over the book per period end."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflows.credit.fx import CENT, MissingRate, rate_on
from workflows.credit.kpi_book import end_of, provision_balances
from workflows.credit.models import Provision
from workflows.credit.provision_matrix import (
    Matrix,
    MatrixError,
    MatrixVersion,
    matrix_in_force,
    matrix_versions,
)
from workflows.credit.provision_tables import ProvisionRun
from workflows.credit.provisions import MissingRates, bucket_of, days_past, specific_provisions_on

RUN, COMPUTED = "provision run", "computed"
# (bucket, rate) by days past due, per deployed table text: a table's answer depends on its text alone, and
# evaluating it takes about 2 ms, so a trend of 12 month ends would spend seconds re-asking it.
_RATES: dict[str, dict[int, tuple[str, Decimal]]] = {}
_MAX_TABLES = 16
MAX_DAYS_EVALUATED = 1500  # due dates spread wider: the balances per due date instead (on_buckets)


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


class Allowances:
    """The allowance at each of a request's period ends, with what the ends share read once: the provision
    runs of all of them (one query), the deployed matrices (one query, matrix_versions), and the first
    specific provision's booking, so an end before it runs no specific-provision queries (none was booked
    by then: specific_provisions_on would find none)."""

    def __init__(self, session: Session, ends: Sequence[date], base: str) -> None:
        self.session, self.base = session, base
        runs = session.execute(
            select(ProvisionRun.as_of, ProvisionRun.closing).where(
                ProvisionRun.as_of.in_(sorted(set(ends))), ProvisionRun.base_currency == base
            )
        )
        self.runs: dict[date, Decimal] = {as_of: closing for as_of, closing in runs}
        first = session.scalar(select(func.min(Provision.created_at)))
        self.first_provision = None if first is None else _aware(first)
        self._versions: list[MatrixVersion] | MatrixError | None = None

    def _matrix(self, end: date) -> Matrix:
        if self._versions is None:
            try:
                self._versions = matrix_versions(self.session)
            except MatrixError as exc:
                self._versions = exc
        if isinstance(self._versions, MatrixError):
            raise self._versions
        return matrix_in_force(self._versions, end)

    def on(self, end: date, balances: dict[tuple[str, date], int]) -> tuple[Decimal, str]:
        """(the allowance at the end of `end` in the base currency, its source). `balances`: {(currency,
        due date): hundredths} of every customer as a provision run counts them that day.

        The provision run's closing of that day when there is one. Else the matrix part groups the balances
        by (bucket, currency, rate) as the run does, converts each group at the day's rate to the cent and
        applies its rate to the cent; customers with a specific provision are out of the matrix and count
        their provision's remainder instead.

        Raises:
            MatrixError: no provision matrix is deployed.  MissingRates: a currency without a rate that day.
        """
        if end in self.runs:
            return self.runs[end], RUN
        matrix = self._matrix(end)
        specific = self._specific(end)
        left = dict(balances)
        for dues in provision_balances(self.session, end, sorted(specific)).values():
            for key, amount in dues.items():
                left[key] = left.get(key, 0) - amount
        grouped: dict[tuple[str, str, Decimal], int] = {}
        for (currency, due), amount in left.items():
            if amount <= 0:
                continue
            bucket, rate = _rate_for(matrix, days_past(end, due))
            grouped[(bucket, currency, rate)] = grouped.get((bucket, currency, rate), 0) + amount
        return self._total(end, grouped, specific), COMPUTED

    def _specific(self, end: date) -> dict[int, tuple[Provision, Decimal]]:
        booked = self.first_provision is not None and self.first_provision <= end_of(end)
        return specific_provisions_on(self.session, end) if booked else {}

    def on_buckets(
        self,
        end: date,
        rolled: date,
        sums: dict[tuple[str, str], int],
        dues: dict[str, tuple[date, date]],
        between: Callable[[str, date, date], int],
        exact: Callable[[list[int]], dict[tuple[str, date], int]],
        per_due: Callable[[], dict[tuple[str, date], int]],
    ) -> tuple[Decimal, str]:
        """`on` from the open invoices summed per (currency, aging bucket as of `rolled`) (`sums`), for
        workflows/credit/kpi_today.py: each currency's due dates present (`dues`: its earliest and latest)
        are cut into runs of one aging bucket and one (bucket, rate) of the matrix at `end`; a bucket of one
        run is its sum, a bucket of several has each run but its longest summed by `between(currency,
        first due, last due)` and the longest by difference. `exact(customer ids)`: {(currency, due date):
        hundredths} of the customers with a specific provision (taken out) and of the invoices outside the
        sums the provision counts (key None: added); `per_due()`: every balance per due date, through `on`,
        when the due dates spread over more than MAX_DAYS_EVALUATED days. The same groups as `on`, so the
        same total to the cent.

        Raises:
            MatrixError, MissingRates: as `on`.
        """
        if end in self.runs:
            return self.runs[end], RUN
        matrix = self._matrix(end)
        if any((high - low).days > MAX_DAYS_EVALUATED for low, high in dues.values()):
            return self.on(end, per_due())
        grouped: dict[tuple[str, str, Decimal], int] = {}

        def add(currency: str, found: tuple[str, Decimal], amount: int) -> None:
            key = (found[0], currency, found[1])
            grouped[key] = grouped.get(key, 0) + amount

        covered = set()
        for currency, (low, high) in dues.items():
            runs: dict[str, list[list[Any]]] = {}  # aging bucket -> [[found, first due, last due], ...]
            for offset in range((high - low).days + 1):
                due = low + timedelta(days=offset)
                found = _rate_for(matrix, (end - due).days)
                bucket = bucket_of(due, rolled)
                mine = runs.setdefault(bucket, [])
                if mine and mine[-1][0] == found and mine[-1][2] == due - timedelta(days=1):
                    mine[-1][2] = due
                else:
                    mine.append([found, due, due])
            for bucket, parts in runs.items():
                covered.add((currency, bucket))
                total = sums.get((currency, bucket), 0)
                longest = max(range(len(parts)), key=lambda i: (parts[i][2] - parts[i][1]).days)
                for i, (found, first, last) in enumerate(parts):
                    if i != longest:
                        amount = between(currency, first, last)
                        add(currency, found, amount)
                        total -= amount
                add(currency, parts[longest][0], total)
        if any(amount and key not in covered for key, amount in sums.items()):
            return self.on(end, per_due())  # an amount outside the due dates read: never expected
        specific = self._specific(end)
        for (currency, due), amount in exact(sorted(specific)).items():
            add(currency, _rate_for(matrix, days_past(end, due)), amount)
        kept = {key: amount for key, amount in grouped.items() if amount > 0}
        return self._total(end, kept, specific), COMPUTED

    def _total(
        self,
        end: date,
        grouped: dict[tuple[str, str, Decimal], int],
        specific: dict[int, tuple[Provision, Decimal]],
    ) -> Decimal:
        currencies = {c for _, c, _ in grouped} | {p.currency for p, _ in specific.values()}
        fx: dict[str, Decimal] = {}
        missing = []
        for currency in sorted(currencies):
            try:
                fx[currency] = rate_on(self.session, currency, end, self.base)
            except MissingRate:
                missing.append(currency)
        if missing:
            raise MissingRates(missing, end, self.base)
        total = Decimal("0.00")
        for (_, currency, rate), amount in grouped.items():
            total += _cents(_cents(Decimal(amount) / 100 * fx[currency]) * rate)
        for provision, remaining in specific.values():
            total += _cents(remaining * fx[provision.currency])
        return total


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
