"""The periods of the credit KPIs: calendar months or quarters, each named by its last day.

The period of a day is the one ending on or before it (a KPI describes a finished period); its start is the
day after the previous period's end. A trend is the twelve periods up to and including that one.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from workflows.errors import Invalid
from workflows.messages import _

MONTH, QUARTER = "month", "quarter"
PERIODS = (MONTH, QUARTER)
TREND_PERIODS = 12
FIRST_DAY = date(1901, 1, 1)  # earlier days leave no room for a twelve-period trend before them


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def period_end_on_or_before(day: date, period: str) -> date:
    """The last day of the latest whole month (or quarter) ending on or before `day`."""
    step = 3 if period == QUARTER else 1
    if period not in PERIODS:
        raise Invalid(
            _("period must be one of %(periods)s", periods=", ".join(PERIODS)),
            details={"fields": {"period": _("month or quarter")}},
        )
    month = day.month - (day.month - 1) % step + step - 1  # the last month of the period holding `day`
    end = _month_end(day.year, month)
    if end == day:
        return end
    return previous_end(end, period)


def previous_end(end: date, period: str) -> date:
    """The end of the period before the one ending on `end`."""
    step = 3 if period == QUARTER else 1
    first = date(end.year, end.month, 1)
    for _month in range(step - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    return first - timedelta(days=1)


def period_start(end: date, period: str) -> date:
    return previous_end(end, period) + timedelta(days=1)


def trend_ends(as_of: date, period: str, count: int = TREND_PERIODS) -> list[date]:
    """The ends of the `count` periods up to the one of `as_of`, oldest first.

    Raises:
        Invalid: `as_of` lies before FIRST_DAY (its trend would start before the calendar does).
    """
    if as_of < FIRST_DAY:
        raise Invalid(
            _("as_of must be on or after %(first_day)s", first_day=FIRST_DAY.isoformat()),
            details={"fields": {"as_of": _("a day from %(first_day)s on", first_day=FIRST_DAY.isoformat())}},
        )
    ends = [period_end_on_or_before(as_of, period)]
    while len(ends) < count:
        ends.append(previous_end(ends[-1], period))
    return ends[::-1]


def days_in(end: date, period: str) -> int:
    return (end - previous_end(end, period)).days


def is_period_end(day: date, period: str) -> bool:
    return period_end_on_or_before(day, period) == day
