"""How values look on pages: times, ages, money (Babel, exact Decimals), data values and audit details."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from babel.numbers import format_decimal
from flask import Flask, has_request_context
from flask_babel import format_date, format_timedelta, get_locale
from flask_babel import gettext as _

from webui.stored_sentences import said_stored
from workflows.messages import translated
from workflows.money import LOCALE, as_decimal, format_money

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# Data keys whose numbers are amounts of money; they are shown with two decimals and grouping.
_MONEY_KEY = re.compile(
    r"amount|limit|exposure|revenue|balance|shortfall|price|total|value_impact|order_value"
)


def format_time(value: datetime | None) -> str:
    """A UTC time in the page's language: "2 Mar 2026 09:00", "2026年3月2日 09:00"; empty for None. (Pages put
    the machine-readable ISO value in a <time datetime> or data attribute where a script or test reads it.)"""
    return f"{format_day(value.date())} {value.strftime('%H:%M')}" if value else ""


def page_locale() -> str:
    """The locale of the page being rendered ("en", "zh_Hans"); English outside a request."""
    return str(get_locale() or LOCALE) if has_request_context() else LOCALE


def format_age(since: datetime | None, now: datetime) -> str:
    """How long ago, in the largest useful unit: "12 min", "5 h", "3 d 4 h" ("12 分钟", "3 天 4 小时")."""
    if since is None:
        return ""
    minutes = max(0, int((now - since).total_seconds() // 60))
    if minutes < 60:
        return str(_("%(minutes)s min", minutes=minutes))
    hours = minutes // 60
    if hours < 24:
        return str(_("%(hours)s h", hours=hours))
    days, rest = divmod(hours, 24)
    if rest and days < 7:
        return str(_("%(days)s d %(hours)s h", days=days, hours=rest))
    return str(_("%(days)s d", days=days))


def format_ago(when: datetime | None, now: datetime) -> str:
    """A time relative to now in the page's language (Flask-Babel): "3 days ago", "in 2 hours", "3天前"."""
    if when is None:
        return ""
    return str(format_timedelta(when - now, add_direction=True))


# Dates as their readers write them: "14 Jan 2027" (English, day first as in Europe), "2027年1月14日".
_DATE_FORMATS = {"en": "d MMM y", "zh_Hans": "long"}


def format_day(value: date | str | None) -> str:
    """A date (or its ISO text) in the page's language (Flask-Babel): "14 Jan 2027", "2027年1月14日"."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return str(format_date(value, _DATE_FORMATS.get(page_locale(), "medium")))


def dated_chart(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A chart's spec (static/dashboard.js) with `shown_labels`: its ISO day labels as the page writes dates,
    so the axis reads like the table beside it; `labels` stay ISO for scripts and tests."""
    labels = spec.get("labels") or []
    shown = [format_day(x) if isinstance(x, str) and _ISO_DAY.fullmatch(x) else x for x in labels]
    return {**spec, "shown_labels": shown}


def format_number(value: Decimal | float | int | None, decimals: int = 2) -> str:
    """A number in the page's language with grouping and `decimals` places: "1,234.50"; "—" for None."""
    if value is None:
        return "—"
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return str(format_decimal(Decimal(str(value)), format=pattern, locale=page_locale()))


def is_money_key(key: str) -> bool:
    return bool(_MONEY_KEY.search(key.lower()))


def format_value(key: str, value: Any) -> str:
    """A process data value as text: amounts as money, exact decimals kept, structures as JSON."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    if is_money_key(key) and as_decimal(value) is not None:
        return format_money(value, locale=page_locale())
    if isinstance(value, Decimal | float):
        return format_decimal(Decimal(str(value)), locale=page_locale(), decimal_quantization=False)
    if isinstance(value, dict | list):
        return json.dumps(value, indent=2, ensure_ascii=False, default=str, sort_keys=True)
    return str(value)


def describe_detail(detail: Mapping[str, Any]) -> str:
    """An audit event's detail as one line ("decision: approve · comment: fine"), nested data flattened."""
    flat: dict[str, Any] = {}
    for key, value in detail.items():
        if isinstance(value, Mapping):
            flat.update(value)
        else:
            flat[key] = value
    return " · ".join(
        f"{key}: {', '.join(map(str, value)) if isinstance(value, list) else format_value(key, value)}"
        for key, value in flat.items()
        if value not in (None, "", [], {})
    )[:500]


def case_panels(data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The task data about the customer or supplier, by panel heading (empty when the case has neither)."""
    panels: dict[str, dict[str, Any]] = {}
    for prefix, heading in (
        ("customer", _("Customer")),
        ("supplier", _("Supplier")),
        ("contract", _("Contract")),
    ):
        values = {k: v for k, v in data.items() if k.startswith(prefix)}
        if values:
            panels[heading] = values
    return panels


def said(sentence: str | None) -> str:
    """A sentence the domain wrote (a workflows.messages.Text) in the page's language; other text as it is."""
    return translated(sentence, _) if sentence else ""


def register(app: Flask) -> None:
    """Make the formatters available to every template."""
    app.jinja_env.filters.update(
        time=format_time,
        money=lambda value, currency=None: format_money(value, currency, empty="", locale=page_locale()),
        date=format_day,
        dated_chart=dated_chart,
        number=format_number,
    )
    app.jinja_env.globals.update(
        format_age=format_age,
        format_ago=format_ago,
        format_value=format_value,
        describe_detail=describe_detail,
        said=said,
        said_stored=said_stored,
    )
