"""The process KPIs beside the receivables ones (workflows/credit/kpis.py, docs/kpis.md): the approval
cycle's p90 and share within the SLA per route, dunning effectiveness (cases paid within 30 days of their
first notice), and disputes (cycle time, amounts disputed by reason). Each is one grouped query over all
the periods asked for; `extra_kpis` turns one period's figures into KPI entries, stored in the period's
snapshot as the others are (an older snapshot without them shows them null, "not in the snapshot")."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import BigInteger, and_, func, select, type_coerce
from sqlalchemy.orm import Session

from workflows.credit.disputes import Dispute, DisputeLine
from workflows.credit.fx import CENT, MissingRate, rate_on
from workflows.credit.kpi_book import end_of
from workflows.credit.kpi_process import median
from workflows.credit.models import DunningCase, DunningEvent
from workflows.credit.record_fields import money_text
from workflows.messages import _

WINDOW = timedelta(days=30)
PAID = "paid"  # the outcome of a case closed because everything was paid (handlers/dunning.py, CLOSED_PAID)
FIRST_NOTICE = ("notice_sent", 1)  # the level-1 notice (handlers/dunning_notices.py)
TENTH, HUNDREDTH = Decimal("0.1"), Decimal("0.01")
# The KPIs of this module: name -> unit ("money": an amount in the base currency, two places).
EXTRA_UNITS = {
    "approval_cycle_p90_hours": "hours",
    "approval_within_sla_rate": "percent",
    "dunning_paid_within_30_days_rate": "percent",
    "dispute_cycle_days": "days",
    "disputed_amount": "money",
}
# The KPIs whose trend points carry a breakdown beside their value (per route, per reason code).
BREAKDOWNS = {
    "approval_cycle_p90_hours": "per_route",
    "approval_within_sla_rate": "per_route",
    "disputed_amount": "by_reason",
}


def _places(value: Decimal, places: Decimal) -> str:
    return str(value.quantize(places, rounding=ROUND_HALF_UP))


def _entry(name: str, value: str | None, reason: str, **details: Any) -> dict[str, Any]:
    """One KPI's entry as kpis._kpi makes it: the value (already a string) or null with the reason."""
    entry: dict[str, Any] = {"value": value, "unit": EXTRA_UNITS[name]}
    if value is None:
        entry["reason"] = reason
    return {**entry, **details}


def extra_kpis(
    cycle: dict[str, Any], dunning: dict[str, Any], dispute: dict[str, Any], base: str
) -> dict[str, dict[str, Any]]:
    """One period's extra KPIs from its approval cycle summary (kpi_process.cycle_summary), its dunning
    effectiveness and its disputes (the functions below)."""
    no_decision = "no credit application was decided in the period"
    routes = {"count": cycle["count"], "per_route": cycle["per_route"]}
    unconverted = dispute.get("unconverted") or {}
    by_reason = dispute["disputed_by_reason"]
    disputed = sum((Decimal(v) for v in by_reason.values()), Decimal("0.00"))
    return {
        "approval_cycle_p90_hours": _entry("approval_cycle_p90_hours", cycle["p90"], no_decision, **routes),
        "approval_within_sla_rate": _entry(
            "approval_within_sla_rate",
            cycle["within_sla_percent"],
            no_decision,
            within_sla=cycle.get("within_sla", 0),
            **routes,
        ),
        "dunning_paid_within_30_days_rate": _entry(
            "dunning_paid_within_30_days_rate",
            dunning["percent"],
            "no dunning case's 30 days after its first level-1 notice ended in the period",
            cases=dunning["cases"],
            paid_within_30_days=dunning["paid_within_30_days"],
        ),
        "dispute_cycle_days": _entry(
            "dispute_cycle_days",
            dispute["median_days"],
            "no dispute was closed in the period",
            closed=dispute["closed"],
        ),
        "disputed_amount": _entry(
            "disputed_amount",
            None if unconverted or not by_reason else money_text(disputed) or "0.00",
            _(
                "no exchange rate into %(base)s at the period end for %(currencies)s: the disputes in it are "
                "not converted (listed in `unconverted`)",
                base=base,
                currencies=", ".join(sorted(unconverted)),
            )
            if unconverted
            else "no dispute was opened in the period",
            by_reason=by_reason,
            **({"unconverted": unconverted} if unconverted else {}),
        ),
    }


def breakdown(name: str, entry: dict[str, Any]) -> dict[str, Any]:
    """What a trend point of one of these KPIs carries beside its value: its breakdown (null when the
    period's snapshot predates it), and the reason of a null value (e.g. "not in the period's snapshot");
    {} for the other KPIs."""
    if name not in EXTRA_UNITS:
        return {}
    found = {} if entry.get("value") is not None else {"reason": entry.get("reason")}
    key = BREAKDOWNS.get(name)
    return found if key is None else {**found, key: entry.get(key)}


def _period_of(periods: Sequence[tuple[date, date]], day: date) -> date | None:
    for start, end in periods:
        if start < day <= end:
            return end
    return None


def dunning_effectiveness(
    session: Session, periods: Sequence[tuple[date, date]]
) -> dict[date, dict[str, Any]]:
    """{period end: {cases, paid_within_30_days, percent}}: the cases whose 30 days after their first
    level-1 notice ended in the period, and how many of them were closed paid within those 30 days."""
    first = min(p[0] for p in periods)
    last = max(p[1] for p in periods)
    notice = func.min(DunningEvent.at).label("notice")
    noticed = (
        select(DunningEvent.case_id.label("case_id"), notice)
        .where(DunningEvent.kind == FIRST_NOTICE[0], DunningEvent.level == FIRST_NOTICE[1])
        .group_by(DunningEvent.case_id)
        .having(and_(notice > end_of(first) - WINDOW, notice <= end_of(last) - WINDOW))
        .subquery("noticed")
    )
    rows = session.execute(
        select(noticed.c.notice, DunningCase.outcome, DunningCase.closed_at).join(
            DunningCase, DunningCase.id == noticed.c.case_id
        )
    )
    found = {end: [0, 0] for _, end in periods}
    for at, outcome, closed_at in rows:
        end = _period_of(periods, (at + WINDOW).date())
        if end is None:
            continue
        found[end][0] += 1
        if outcome == PAID and closed_at is not None and closed_at <= at + WINDOW:
            found[end][1] += 1
    return {
        end: {
            "cases": cases,
            "paid_within_30_days": paid,
            "percent": None if not cases else _places(Decimal(paid) * 100 / cases, HUNDREDTH),
        }
        for end, (cases, paid) in found.items()
    }


def disputes(
    session: Session, periods: Sequence[tuple[date, date]], base: str, rates: dict[date, dict[str, Decimal]]
) -> dict[date, dict[str, Any]]:
    """{period end: {closed, median_days, disputed_by_reason}}: disputes closed in the period and the
    median days from opening to closing; the amounts of the disputes opened in it, by reason code, in the
    base currency at the period end's rate (`unconverted` names a currency without one)."""
    first = end_of(min(p[0] for p in periods))
    last = end_of(max(p[1] for p in periods))
    # Plain rows from the connection: a quarter has thousands of disputes and lines, and the ORM's row
    # processing cost ~3x the query itself (benchmarks/cockpit.py, the quarter ending today).
    rows = session.connection()
    closed = rows.execute(
        select(Dispute.opened_at, Dispute.closed_at).where(
            Dispute.closed_at > first, Dispute.closed_at <= last
        )
    )
    days: dict[date, list[Decimal]] = {end: [] for _, end in periods}
    for opened_at, closed_at in closed:
        end = None if closed_at is None else _period_of(periods, closed_at.date())
        if end is not None and closed_at is not None:
            days[end].append(Decimal((closed_at - opened_at).total_seconds()) / 86400)
    opened = rows.execute(  # disputes are few: their lines one by one
        select(
            Dispute.opened_at,
            DisputeLine.reason,
            Dispute.currency,
            type_coerce(DisputeLine.amount, BigInteger),
        )
        .join(DisputeLine, DisputeLine.dispute_id == Dispute.id)
        .where(Dispute.opened_at > first, Dispute.opened_at <= last)
    )
    amounts: dict[date, dict[str, dict[str, int]]] = {end: {} for _, end in periods}
    for opened_at, reason, currency, hundredths in opened:
        end = _period_of(periods, opened_at.date())
        if end is not None:
            per = amounts[end].setdefault(reason, {})
            per[currency] = per.get(currency, 0) + int(hundredths)
    found = {}
    for _start, end in periods:
        by_reason: dict[str, str] = {}
        unconverted: dict[str, str] = {}
        for reason, per_currency in sorted(amounts[end].items()):
            total = Decimal("0.00")
            for currency, hundredths in per_currency.items():
                try:
                    rate = rates[end].get(currency) or rate_on(session, currency, end, base)
                except MissingRate:
                    unconverted[currency] = money_text(Decimal(hundredths) / 100) or "0.00"
                    continue
                total += (Decimal(hundredths) * rate / 100).quantize(CENT, rounding=ROUND_HALF_UP)
            by_reason[reason] = money_text(total) or "0.00"
        median_days = median(days[end]) if days[end] else None
        found[end] = {
            "closed": len(days[end]),
            "median_days": None if median_days is None else _places(median_days, TENTH),
            "disputed_by_reason": by_reason,
            **({"unconverted": unconverted} if unconverted else {}),
        }
    return found
