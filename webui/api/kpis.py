"""/api/kpis: the credit KPIs of a month or quarter with their 12-period trends (docs/kpis.md)."""

from __future__ import annotations

import re
from typing import Any, Literal

from flask import Response, jsonify
from pydantic import Field, field_validator

from webui.api import bp, current_actor, require_groups
from webui.api.openapi import Day, Model, Money, Query, api, responses
from webui.services import services
from workflows.credit.kpi_periods import FIRST_DAY
from workflows.credit.kpis import compute_kpis
from workflows.credit.roles import KPI_READERS
from workflows.errors import Invalid, field_listing
from workflows.messages import _

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class KpiQuery(Query):
    as_of: Day | None = Field(
        None, description="the KPIs are those of the period ending on or before this day (default: today)"
    )

    @field_validator("as_of", mode="before")
    @classmethod
    def _iso_day(cls, value: Any) -> Any:
        """Only YYYY-MM-DD: pydantic alone also takes a midnight timestamp or a Unix time for a day."""
        if isinstance(value, str) and not _DAY.fullmatch(value):
            raise ValueError(_("a day as YYYY-MM-DD"))
        return value

    period: Literal["month", "quarter"] = Field("month", description="calendar months or quarters")
    currency: str | None = Field(
        None,
        pattern="^[A-Z]{3}$",
        description="the currency of the amounts: only the base currency ([credit] base_currency) is offered",
    )


class KpiPoint(Model):
    period_end: Day
    value: str | None = Field(description="the KPI of the period ending then (null: no denominator)")
    source: Literal["snapshot", "live"] = Field(description="read from the period's snapshot, or computed")
    per_route: dict[str, dict[str, Any]] | None = Field(
        None,
        description="approval_cycle_p90_hours and approval_within_sla_rate: the period's decisions per route "
        "(auto, analyst, manager, cfo): count, median, p90 (hours), within_sla, within_sla_percent; null "
        "when the period's snapshot predates it",
    )
    reason: str | None = Field(
        None,
        description="the process KPIs added by the README's contract extension: why `value` is null "
        "(e.g. not in the period's snapshot, stored before the KPI existed)",
    )
    by_reason: dict[str, str] | None = Field(
        None,
        description="disputed_amount: the amounts disputed in the period per reason code, in the base "
        "currency; null when the period's snapshot predates it",
    )


class LargestExposure(Model):
    """top10_concentration: the customer with the most AR at the period end, against the policy's cap
    (bpmn/concentration_cap.dmn as deployed now; the cap fields are null, with cap_reason, without one).
    `amount` is its AR at the period end in the base currency (a bare money string, as every amount)."""

    customer_id: int
    amount: Money  # its AR at the period end in the base currency
    share_percent: str = Field(description="amount / AR x 100, two places", examples=["34.67"])
    cap_percent: str | None = Field(
        None, description="the cap, % of AR one customer may owe", examples=["10"]
    )
    cap_amount: Money | None = Field(None, description="AR x cap / 100, to the cent")
    headroom: Money | None = Field(None, description="cap_amount - amount (negative: by how much it is over)")
    over_cap: bool | None = Field(
        None,
        description="the share rounded down to 0.01 above cap_percent (the watchlist's concentration rule)",
    )
    cap_reason: str | None = Field(None, description="why the cap fields are null")


class ConcentrationCap(Model):
    percent: str | None = Field(description="the cap in percent (null: none usable, see reason)")
    source: str | None = Field(description='"concentration_cap.dmn of credit_limit_review v3"')
    reason: str | None = Field(description="why there is no cap")


class Kpi(Model):
    """One KPI; details such as the amounts behind it (money strings in the base currency) come beside."""

    value: str | None = Field(
        description="a decimal string: days and hours with one place, percent with two; null when the "
        "period has no denominator (then `reason` says why)",
        examples=["34.4"],
    )
    unit: Literal["days", "percent", "hours", "money"] = Field(
        description="money: an amount in the base currency, two places (disputed_amount)"
    )
    reason: str | None = Field(None, description="why `value` is null")
    trend: list[KpiPoint] = Field(description="the 12 periods up to this one, oldest first")
    largest_exposure: LargestExposure | None = Field(
        None, description="top10_concentration only: the largest single exposure against the policy's cap"
    )
    cap: ConcentrationCap | None = Field(
        None, description="top10_concentration only: the concentration cap deployed now"
    )


class KpiPeriod(Model):
    start: Day
    end: Day


class KpiAnswer(Model):
    as_of: Day
    period: KpiPeriod
    currency: str = Field(examples=["EUR"])
    source: Literal["snapshot", "live"]
    kpis: dict[str, Kpi] = Field(
        description="dso, best_possible_dso, add, cei, overdue_ratio, over_90_ratio, bad_debt_ratio, "
        "provision_ratio, approval_cycle_hours, promise_kept_rate, top10_concentration, and (README: "
        "contract extension) approval_cycle_p90_hours, approval_within_sla_rate, "
        "dunning_paid_within_30_days_rate, dispute_cycle_days, disputed_amount"
    )


@bp.get("/kpis")
@api.validate(resp=responses(200, KpiAnswer, 403, 409, 422))
def get_kpis(query: KpiQuery) -> Response:
    """The KPIs of the month (or quarter) ending on or before as_of, in the base currency, each with its
    trend; a period with a stored snapshot is read from it, the others computed from the book as of their
    dates. 409 names each currency without an exchange rate at a period end; 422 a day before 1901 or after
    today, or a currency other than the base currency."""
    actor = current_actor()
    require_groups(actor, KPI_READERS, _("read the credit KPIs"))
    svc = services()
    base = svc.rt.settings.credit.base_currency
    today = svc.clock().date()
    as_of = query.as_of or today
    errors = {}
    if query.currency is not None and query.currency != base:
        errors["currency"] = _("the KPIs are in the base currency %(base)s only", base=base)
    if not FIRST_DAY <= as_of <= today:
        errors["as_of"] = _(
            "a day from %(first_day)s to today (%(today)s)",
            first_day=FIRST_DAY.isoformat(),
            today=today.isoformat(),
        )
    if errors:
        raise Invalid(
            _("The KPI request has errors: %(listing)s", listing=field_listing(errors)),
            details={"fields": errors},
        )
    with svc.rt.factory() as session:
        return jsonify(compute_kpis(session, as_of, query.period, base))
