"""Exchange rates for the KPIs (workflows/credit/kpis.py): which rates a set of periods needs, and amounts of
each currency (hundredths) in the base currency at one day's rates, to the cent. A rate is never guessed: a
currency without one stops the calculation, naming every currency and day that has none."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.orm import Session

from workflows.credit.fx import CENT, MissingRate, rate_on
from workflows.credit.kpi_book import CurrencyBook, EndFigures
from workflows.errors import Conflict, listed, one_after_another
from workflows.messages import _


class KpiRatesMissing(Conflict):
    """Amounts in currencies without a stored rate on or before a period end: named, never guessed."""

    def __init__(self, missing: dict[date, list[str]], base: str) -> None:
        # Sentences of the catalogue, so the dashboard and GET /api/kpis say it in the reader's language with
        # the days as the reader writes them. A day's part is "%(day)s: %(currencies)s": a shape too loose for
        # webui.stored_sentences to read other stored sentences as it (one with more words, "… on or before
        # …", took incidents that quote a rate's refusal).
        parts: list[str] = [
            _("%(day)s: %(currencies)s", day=d.isoformat(), currencies=listed(c))
            for d, c in sorted(missing.items())
        ]
        super().__init__(
            _(
                "no exchange rate into %(base)s on or before these days (%(missing)s): post one (POST "
                "/api/fx-rates or `creditflow import fx-rates`); the KPIs convert every amount of a period "
                "at the rate of its end, and its opening AR (the AR the period before reports) at the rate "
                "of the period before's end",
                base=base,
                missing=one_after_another(parts),
            ),
            details={"missing_rates": {d.isoformat(): c for d, c in sorted(missing.items())}},
        )


def rates_of(
    session: Session,
    books: dict[str, CurrencyBook],
    customers: dict[date, dict[tuple[int, str], int]],
    periods: Sequence[tuple[date, date]],
    base: str,
    known: set[date],
) -> dict[date, dict[str, Decimal]]:
    """The rate at each period's end of every currency with an amount in the period (a currency with
    nothing open or moved needs none), and at each start whose AR is not `known` (reported by a snapshot
    or computed as an end here) of every currency open then; raises KpiRatesMissing naming all missing."""
    rates: dict[date, dict[str, Decimal]] = {}
    missing: dict[date, list[str]] = {}

    def rate_all(day: date, used: set[str]) -> None:
        rates.setdefault(day, {})
        for currency in sorted(used - set(rates[day])):
            try:
                rates[day][currency] = rate_on(session, currency, day, base)
            except MissingRate:
                missing.setdefault(day, []).append(currency)

    for start, end in periods:
        used = {
            c
            for c, b in books.items()
            if any(vars(b.at_end.get(end, EndFigures())).values())
            or b.sales.get(end, 0)
            or b.written_off.get(end, 0)
        }
        used |= {c for (_, c), value in customers[end].items() if value}
        rate_all(end, used)
        if start not in known:
            rate_all(start, {c for c, b in books.items() if b.at_end.get(start, EndFigures()).ar})
    if missing:
        raise KpiRatesMissing(missing, base)
    return rates


class Converter:
    """Hundredths of each currency into the base currency at one period end's rates, to the cent."""

    def __init__(self, rates: dict[str, Decimal]) -> None:
        self.rates = rates

    def one(self, currency: str, hundredths: int) -> Decimal:
        if not hundredths:  # a currency with nothing in the period needs no rate
            return Decimal("0.00")
        return (Decimal(hundredths) * self.rates[currency] / 100).quantize(CENT, rounding=ROUND_HALF_UP)

    def total(self, hundredths: dict[str, int]) -> Decimal:
        return sum((self.one(c, h) for c, h in hundredths.items()), Decimal("0.00"))

    def figures(self, books: dict[str, CurrencyBook], day: date) -> Base:
        """The receivables at the end of `day` at these rates (those of `day`)."""
        at: dict[str, EndFigures] = {c: b.at_end.get(day, EndFigures()) for c, b in books.items()}
        return Base(
            self.total({c: f.ar for c, f in at.items()}),
            self.total({c: f.current for c, f in at.items()}),
            self.total({c: f.over_90 for c, f in at.items()}),
        )


class Base:
    """Receivables at a period end in the base currency."""

    def __init__(self, ar: Decimal, current: Decimal, over_90: Decimal) -> None:
        self.ar, self.current, self.over_90 = ar, current, over_90
        self.overdue = ar - current
