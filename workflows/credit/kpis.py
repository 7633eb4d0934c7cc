"""The credit manager's KPIs (docs/kpis.md): DSO, best possible DSO, ADD, CEI, overdue and over-90 ratios,
bad-debt and provision ratios, approval cycle time, promise-kept rate and top-10 concentration, each for
the month (or quarter) ending on or before a day, with a twelve-period trend, in the base currency.

A period with a stored snapshot (workflows/credit/kpi_snapshots.py) is read from it; the others are computed
live from the book as it stood at their ends (workflows/credit/kpi_book.py), all of them in a fixed number
of grouped queries. Every amount of a period is converted at the rate of the period's end; a currency
without one stops the calculation (`KpiRatesMissing`), never a guess.
"""

from __future__ import annotations

import copy
import heapq
from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy.orm import Session

from workflows.credit.concentration_cap import Cap, concentration_cap, percent_text
from workflows.credit.fx import CENT, MissingRate, rate_on
from workflows.credit.kpi_book import Book, CurrencyBook, EndFigures, customer_totals, ledger_book
from workflows.credit.kpi_cache import cached, first_issue_date
from workflows.credit.kpi_extras import EXTRA_UNITS, breakdown, disputes, dunning_effectiveness, extra_kpis
from workflows.credit.kpi_periods import days_in, period_start, previous_end, trend_ends
from workflows.credit.kpi_process import Decided, cycle_summary, decided_applications, promises_judged
from workflows.credit.kpi_provision import Allowances
from workflows.credit.kpi_snapshots import snapshots_of
from workflows.credit.kpi_today import TodayFigures, today_figures
from workflows.credit.record_fields import money_text
from workflows.errors import Conflict

DAYS, PERCENT, HOURS = "days", "percent", "hours"
UNITS = {
    "dso": DAYS,
    "best_possible_dso": DAYS,
    "add": DAYS,
    "cei": PERCENT,
    "overdue_ratio": PERCENT,
    "over_90_ratio": PERCENT,
    "bad_debt_ratio": PERCENT,
    "provision_ratio": PERCENT,
    "approval_cycle_hours": HOURS,
    "promise_kept_rate": PERCENT,
    "top10_concentration": PERCENT,
    **EXTRA_UNITS,  # the approval cycle per route, dunning effectiveness, disputes (kpi_extras.py)
}
KPI_NAMES = tuple(UNITS)
PLACES = {DAYS: Decimal("0.1"), HOURS: Decimal("0.1"), PERCENT: Decimal("0.01")}
TOP = 10
NO_SALES = "no credit sales in the period"
NO_AR = "no receivables open at the period end"
NOT_IN_SNAPSHOT = "not in the period's snapshot, which was stored before this KPI existed"
NOTHING_COLLECTIBLE = (
    "nothing was collectible in the period (opening receivables + credit sales - current receivables = 0)"
)


class KpiRatesMissing(Conflict):
    """Amounts in currencies without a stored rate on or before a period end: named, never guessed."""

    def __init__(self, missing: dict[date, list[str]], base: str) -> None:
        parts = "; ".join(f"{', '.join(c)} on or before {d.isoformat()}" for d, c in sorted(missing.items()))
        super().__init__(
            f"no exchange rate into {base} for {parts}: post one (POST /api/fx-rates or `creditflow import "
            "fx-rates`); the KPIs convert every amount of a period at the rate of its end",
            details={"missing_rates": {d.isoformat(): c for d, c in sorted(missing.items())}},
        )


def compute_kpis(session: Session, as_of: date, period: str, base: str) -> dict[str, Any]:
    """The KPIs of the month or quarter ending on or before `as_of`, each with its 12-period trend.

    Raises:
        Invalid: a bad period, or `as_of` too early for a trend.
        KpiRatesMissing: an amount of a live period in a currency without a rate at that period's end.
    """
    ends = trend_ends(as_of, period)
    _one_snapshot(session)
    answer = cached(session, ("kpis", period, base, ends[-1]), lambda: _answer(session, ends, period, base))
    return {**copy.deepcopy(answer), "as_of": as_of.isoformat()}


def _one_snapshot(session: Session) -> None:
    """PostgreSQL: one snapshot (REPEATABLE READ, only reads) for a session not begun yet, so a posting
    committing between two reads is in all or none (tests/attacks/test_kpi_fast_path_attack.py)."""
    if not session.in_transaction() and session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def _answer(session: Session, ends: list[date], period: str, base: str) -> dict[str, Any]:
    """The answer for the periods ending on `ends` (the last one reported), without `as_of`."""
    stored = snapshots_of(session, period, base, ends)
    for kpis in stored.values():  # a snapshot stored before a KPI existed says so instead of failing
        for name in KPI_NAMES:
            kpis.setdefault(name, {"value": None, "unit": UNITS[name], "reason": NOT_IN_SNAPSHOT})
    entries: dict[date, dict[str, Any]] = dict(stored)
    entries.update(period_kpis(session, [e for e in ends if e not in stored], period, base))
    end = ends[-1]
    kpis = {}
    for name in KPI_NAMES:
        trend = [
            {
                "period_end": e.isoformat(),
                "value": entries[e][name]["value"],
                "source": "snapshot" if e in stored else "live",
                **breakdown(name, entries[e][name]),
            }
            for e in ends
        ]
        kpis[name] = {**entries[end][name], "trend": trend}
    kpis["top10_concentration"] = _against_cap(
        kpis["top10_concentration"], entries[end], concentration_cap(session)
    )
    return {
        "period": {"start": period_start(end, period).isoformat(), "end": end.isoformat()},
        "currency": base,
        "source": "snapshot" if end in stored else "live",
        "kpis": kpis,
    }


def period_kpis(session: Session, ends: Sequence[date], period: str, base: str) -> dict[date, dict[str, Any]]:
    """{period end: {name: {value, unit, [reason], details...}}} of the periods ending on `ends`, from the
    book (one ledger query, one per-customer query, one each for write-offs, applications and promises)."""
    if not ends:
        return {}
    _one_snapshot(session)
    periods = [(previous_end(e, period), e) for e in ends]
    book, customers, fast = _book(session, ends, period, base)
    books = book.currencies
    rates = _rates(session, books, customers, periods, base)
    decided = decided_applications(session, min(p[0] for p in periods), max(ends))
    promises = promises_judged(session, periods)
    dunning = dunning_effectiveness(session, periods)
    dispute_details = disputes(session, periods, base, rates)
    allowances = Allowances(session, ends, base)
    found = {}
    for start, end in periods:
        money = _Converter(rates[end])
        at_end, at_start = money.figures(books, end), money.figures(books, start)
        sales = money.total({c: b.sales.get(end, 0) for c, b in books.items()})
        written_off = money.total({c: b.written_off.get(end, 0) for c, b in books.items()})
        receivables = _receivable_kpis(at_end, at_start, sales, written_off, days_in(end, period))
        receivables["cei"]["disputes"] = dispute_details[end]
        decided_in = [d for d in decided if _within(d, start, end)]
        found[end] = {
            **receivables,
            "provision_ratio": _provision_ratio(allowances, end, at_end.ar, book.balances.get(end, {}), fast),
            "approval_cycle_hours": _approval_cycle(decided_in),
            "promise_kept_rate": {**_kept_rate(*promises[end]), "dunning_effectiveness": dunning[end]},
            "top10_concentration": _concentration(
                customers[end],
                rates[end],
                at_end.ar,
                fast.customer_count if fast and fast.end == end else None,
            ),
            **extra_kpis(cycle_summary(decided_in), dunning[end], dispute_details[end], base),
        }
    return found


def _book(
    session: Session, ends: Sequence[date], period: str, base: str
) -> tuple[Book, dict[date, dict[tuple[int, str], int]], TodayFigures | None]:
    """The book at the periods' ends and starts, and the customers' AR at the ends: the last period from
    the maintained balances when it ends on their day (workflows/credit/kpi_today.py), the others (or all,
    when it cannot) scanned in one ledger query and one per-customer query (workflows/credit/kpi_book.py)."""
    fast = today_figures(session, max(ends), period, base)
    scanned = [e for e in ends if fast is None or e != fast.end]
    periods = [(previous_end(e, period), e) for e in scanned]
    first_issue = first_issue_date(session)
    customers: dict[date, dict[tuple[int, str], int]]
    if not scanned or first_issue is None or max(scanned) < first_issue:  # nothing to scan: no scan
        book, customers = Book({}, {}), {end: {} for end in scanned}
    else:
        book = ledger_book(session, sorted({d for p in periods for d in p}), periods)
        customers = customer_totals(session, scanned)
    if fast is not None:
        for currency, figures in fast.books.items():
            into = book.currencies.setdefault(currency, CurrencyBook({}, {}, {}))
            for day, at in figures.at_end.items():
                into.at_end.setdefault(day, at)  # a scanned end's figures are the same, and complete
            into.sales[fast.end] = figures.sales.get(fast.end, 0)
            into.written_off[fast.end] = figures.written_off.get(fast.end, 0)
        customers[fast.end] = fast.customers
    return book, customers, fast


def _within(decided: Decided, start: date, end: date) -> bool:
    return start < decided.decided_at.date() <= end


def _rates(
    session: Session,
    books: dict[str, CurrencyBook],
    customers: dict[date, dict[tuple[int, str], int]],
    periods: Sequence[tuple[date, date]],
    base: str,
) -> dict[date, dict[str, Decimal]]:
    """The rate at each period's end of every currency with an amount in the period (a currency with
    nothing open or moved needs none); raises KpiRatesMissing naming all that have none."""
    rates: dict[date, dict[str, Decimal]] = {}
    missing: dict[date, list[str]] = {}
    for start, end in periods:
        used = {
            c
            for c, b in books.items()
            if any(vars(b.at_end.get(end, EndFigures())).values())
            or any(vars(b.at_end.get(start, EndFigures())).values())
            or b.sales.get(end, 0)
            or b.written_off.get(end, 0)
        }
        used |= {c for (_, c), value in customers[end].items() if value}
        rates[end] = {}
        for currency in sorted(used):
            try:
                rates[end][currency] = rate_on(session, currency, end, base)
            except MissingRate:
                missing.setdefault(end, []).append(currency)
    if missing:
        raise KpiRatesMissing(missing, base)
    return rates


class _Converter:
    """Hundredths of each currency into the base currency at one period end's rates, to the cent."""

    def __init__(self, rates: dict[str, Decimal]) -> None:
        self.rates = rates

    def one(self, currency: str, hundredths: int) -> Decimal:
        if not hundredths:  # a currency with nothing in the period needs no rate
            return Decimal("0.00")
        return (Decimal(hundredths) * self.rates[currency] / 100).quantize(CENT, rounding=ROUND_HALF_UP)

    def total(self, hundredths: dict[str, int]) -> Decimal:
        return sum((self.one(c, h) for c, h in hundredths.items()), Decimal("0.00"))

    def figures(self, books: dict[str, CurrencyBook], day: date) -> _Base:
        """The receivables at the end of `day` (a period's end or start) at this period end's rates."""
        at: dict[str, EndFigures] = {c: b.at_end.get(day, EndFigures()) for c, b in books.items()}
        return _Base(
            self.total({c: f.ar for c, f in at.items()}),
            self.total({c: f.current for c, f in at.items()}),
            self.total({c: f.over_90 for c, f in at.items()}),
        )


class _Base:
    """Receivables at a period end in the base currency."""

    def __init__(self, ar: Decimal, current: Decimal, over_90: Decimal) -> None:
        self.ar, self.current, self.over_90 = ar, current, over_90
        self.overdue = ar - current


def _kpi(name: str, value: Decimal | None, reason: str | None = None, **details: Any) -> dict[str, Any]:
    """One KPI's entry: its value rounded to its unit's places as a string, or null with the reason."""
    unit = UNITS[name]
    entry: dict[str, Any] = {"value": None, "unit": unit}
    if value is None:
        entry["reason"] = reason
    else:
        entry["value"] = str(value.quantize(PLACES[unit], rounding=ROUND_HALF_UP))
    return {**entry, **details}


def _share(part: Decimal, whole: Decimal) -> Decimal | None:
    return None if whole == 0 else part * 100 / whole


def _receivable_kpis(
    end: _Base, start: _Base, sales: Decimal, written_off: Decimal, days: int
) -> dict[str, dict[str, Any]]:
    book = {
        "ar": money_text(end.ar),
        "current_ar": money_text(end.current),
        "overdue_ar": money_text(end.overdue),
        "credit_sales": money_text(sales),
        "days": days,
    }

    def per_sales(amount: Decimal) -> Decimal | None:
        return None if sales == 0 else amount / sales * days

    collectible = start.ar + sales - end.current
    cei = None if collectible == 0 else (start.ar + sales - end.ar) * 100 / collectible
    return {
        "dso": _kpi("dso", per_sales(end.ar), NO_SALES, **book),
        "best_possible_dso": _kpi("best_possible_dso", per_sales(end.current), NO_SALES),
        "add": _kpi("add", per_sales(end.overdue), NO_SALES),
        "cei": _kpi(
            "cei",
            cei,
            NOTHING_COLLECTIBLE,
            ar_start=money_text(start.ar),
            collected=money_text(start.ar + sales - end.ar),
            collectible=money_text(collectible),
        ),
        "overdue_ratio": _kpi("overdue_ratio", _share(end.overdue, end.ar), NO_AR),
        "over_90_ratio": _kpi(
            "over_90_ratio", _share(end.over_90, end.ar), NO_AR, over_90_ar=money_text(end.over_90)
        ),
        "bad_debt_ratio": _kpi(
            "bad_debt_ratio", _share(written_off, sales), NO_SALES, written_off=money_text(written_off)
        ),
    }


def _provision_ratio(
    allowances: Allowances,
    end: date,
    ar: Decimal,
    balances: dict[tuple[str, date], int],
    fast: TodayFigures | None = None,
) -> dict[str, Any]:
    """The allowance at the period end (the provision run's snapshot of that day, else computed as a run
    would) over the receivables; from the maintained balances' buckets for the fast path's end."""
    try:
        if fast is not None and fast.end == end:
            provision, source = allowances.on_buckets(
                end, fast.rolled, fast.sums, fast.dues, fast.between, fast.exact, fast.per_due
            )
        else:
            provision, source = allowances.on(end, balances)
    except Conflict as exc:  # no deployed matrix, a missing rate: said, not guessed
        return _kpi("provision_ratio", None, f"the provision cannot be computed: {exc.message}")
    details = {"provision": money_text(provision), "provision_source": source}
    return _kpi("provision_ratio", _share(provision, ar), NO_AR, **details)


def _approval_cycle(decided: list[Decided]) -> dict[str, Any]:
    summary = cycle_summary(decided)
    if not decided:
        return _kpi(
            "approval_cycle_hours", None, "no credit application was decided in the period", **summary
        )
    return _kpi("approval_cycle_hours", Decimal(summary["median"]), None, **summary)


def _kept_rate(judged: int, kept: int) -> dict[str, Any]:
    value = None if judged == 0 else Decimal(kept) * 100 / judged
    return _kpi(
        "promise_kept_rate", value, "no promise to pay was judged in the period", judged=judged, kept=kept
    )


def _against_cap(entry: dict[str, Any], period: dict[str, Any], cap: Cap) -> dict[str, Any]:
    """The reported period's concentration with the policy's cap as deployed now (concentration_cap.dmn):
    `cap` {percent, source, reason}, and its largest exposure against it (Cap.against, over the period
    end's AR: the `ar` beside dso). A trend point is not compared: the cap is today's policy."""
    found = {**entry, "cap": {"percent": None if cap.percent is None else percent_text(cap.percent)}}
    found["cap"] |= {"source": cap.source, "reason": cap.reason}
    largest, ar = entry.get("largest_exposure"), period.get("dso", {}).get("ar")
    if isinstance(largest, dict) and ar is not None:
        found["largest_exposure"] = {**largest, **cap.against(Decimal(largest["amount"]), Decimal(ar))}
    return found


def _concentration(
    customers: dict[tuple[int, str], int], rates: dict[str, Decimal], ar: Decimal, count: int | None = None
) -> dict[str, Any]:
    """The share of the receivables (`ar`, the period end's AR in the base currency) held by the ten
    customers with most open then. Customers are ranked in floating point (a rank, not an amount), and the
    ten found are summed exactly, each customer's amount converted per currency to the cent. `count`: the
    number of customers with AR when `customers` holds only the candidates for the ten (kpi_today.py)."""
    weights = {currency: float(rate) for currency, rate in rates.items()}
    ranked: dict[int, float] = {}
    for (customer_id, currency), hundredths in customers.items():
        if hundredths:
            ranked[customer_id] = ranked.get(customer_id, 0.0) + hundredths * weights[currency]
    counted = len(ranked) if count is None else count
    if ar <= 0 or not ranked:
        return _kpi("top10_concentration", None, NO_AR, customers=counted)
    top = heapq.nlargest(TOP, ranked, key=lambda cid: (ranked[cid], -cid))
    money = _Converter(rates)
    chosen = set(top)
    exact = dict.fromkeys(top, Decimal("0.00"))
    for (customer_id, currency), hundredths in customers.items():
        if customer_id in chosen:
            exact[customer_id] += money.one(currency, hundredths)
    largest_id = max(top, key=lambda cid: (exact[cid], -cid))
    largest = exact[largest_id]
    return _kpi(
        "top10_concentration",
        _share(sum(exact.values(), Decimal(0)), ar),
        None,
        customers=counted,
        largest_exposure={
            "customer_id": largest_id,
            "amount": money_text(largest),
            "share_percent": str((largest * 100 / ar).quantize(PLACES[PERCENT], rounding=ROUND_HALF_UP)),
        },
    )
