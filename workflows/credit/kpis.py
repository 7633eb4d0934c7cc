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
from workflows.credit.kpi_book import Book, CurrencyBook, customer_totals, ledger_book
from workflows.credit.kpi_cache import cached, first_issue_date
from workflows.credit.kpi_extras import EXTRA_UNITS, breakdown, disputes, dunning_effectiveness, extra_kpis
from workflows.credit.kpi_periods import days_in, period_start, previous_end, trend_ends
from workflows.credit.kpi_process import Decided, cycle_summary, decided_applications, promises_judged
from workflows.credit.kpi_provision import Allowances
from workflows.credit.kpi_rates import Base, Converter, rates_of
from workflows.credit.kpi_rates import KpiRatesMissing as KpiRatesMissing  # raised through compute_kpis
from workflows.credit.kpi_snapshots import reported_ar, snapshots_of
from workflows.credit.kpi_today import TodayFigures, today_figures
from workflows.credit.record_fields import money_text
from workflows.errors import Conflict
from workflows.messages import _

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


def compute_kpis(session: Session, as_of: date, period: str, base: str) -> dict[str, Any]:
    """The KPIs of the month or quarter ending on or before `as_of`, each with its 12-period trend.

    Raises:
        Invalid: a bad period, or `as_of` too early for a trend.
        KpiRatesMissing: an amount of a live period in a currency without a rate at that period's end.
    """
    ends = trend_ends(as_of, period)
    one_snapshot(session)
    answer = cached(session, ("kpis", period, base, ends[-1]), lambda: _answer(session, ends, period, base))
    return {**copy.deepcopy(answer), "as_of": as_of.isoformat()}


def one_snapshot(session: Session) -> None:
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
    book (one ledger query, one per-customer query, one each for write-offs, applications and promises).

    AR at a period's start is the AR the previous period reports (docs/kpis.md "CEI"): its snapshot's when
    stored, else the previous period computed here or from the book, at the previous period end's rates."""
    if not ends:
        return {}
    one_snapshot(session)
    ends = sorted(ends)
    periods = [(previous_end(e, period), e) for e in ends]
    reported = reported_ar(session, period, base, [s for s, _ in periods if s not in ends])
    book, customers, fast = _book(session, ends, period, base, reported)
    books = book.currencies
    rates = rates_of(session, books, customers, periods, base, set(reported) | set(ends))
    decided = decided_applications(session, min(p[0] for p in periods), max(ends))
    promises = promises_judged(session, periods)
    dunning = dunning_effectiveness(session, periods)
    dispute_details = disputes(session, periods, base, rates)
    allowances = Allowances(session, ends, base)
    found = {}
    for start, end in periods:  # oldest first: a period's end AR is the next one's start AR
        money = Converter(rates[end])
        at_end = money.figures(books, end)
        if start not in reported:
            reported[start] = Converter(rates[start]).figures(books, start).ar
        reported[end] = at_end.ar
        sales = money.total({c: b.sales.get(end, 0) for c, b in books.items()})
        written_off = money.total({c: b.written_off.get(end, 0) for c, b in books.items()})
        receivables = _receivable_kpis(at_end, reported[start], sales, written_off, days_in(end, period))
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
    session: Session, ends: Sequence[date], period: str, base: str, reported: dict[date, Decimal]
) -> tuple[Book, dict[date, dict[tuple[int, str], int]], TodayFigures | None]:
    """The book at the periods' ends and starts, and the customers' AR at the ends: the last period from
    the maintained balances when it ends on their day (workflows/credit/kpi_today.py), the others (or all,
    when it cannot) scanned in one ledger query and one per-customer query (workflows/credit/kpi_book.py)."""
    last = max(ends)
    start_known = previous_end(last, period) in reported or previous_end(last, period) in ends
    fast = today_figures(session, last, period, base, start_known=start_known)
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
    end: Base, ar_start: Decimal, sales: Decimal, written_off: Decimal, days: int
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

    collectible = ar_start + sales - end.current
    cei = None if collectible == 0 else (ar_start + sales - end.ar) * 100 / collectible
    return {
        "dso": _kpi("dso", per_sales(end.ar), NO_SALES, **book),
        "best_possible_dso": _kpi("best_possible_dso", per_sales(end.current), NO_SALES),
        "add": _kpi("add", per_sales(end.overdue), NO_SALES),
        "cei": _kpi(
            "cei",
            cei,
            NOTHING_COLLECTIBLE,
            ar_start=money_text(ar_start),
            collected=money_text(ar_start + sales - end.ar),
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
        reason = _("the provision cannot be computed: %(problem)s", problem=exc.message)
        return _kpi("provision_ratio", None, reason)
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
    money = Converter(rates)
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
