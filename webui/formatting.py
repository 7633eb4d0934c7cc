"""How values look on pages: times, ages, money (Babel, exact Decimals), data values and audit details."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from babel.numbers import format_decimal
from flask import Flask
from flask_babel import format_timedelta
from flask_babel import gettext as _

# Re-exported: pages and helpers import the date formats from here.
from webui.page_dates import format_day as format_day
from webui.page_dates import format_time as format_time
from webui.page_dates import page_locale as page_locale
from webui.stored_sentences import dated, said_stored
from workflows.messages import translated
from workflows.money import as_decimal, format_money
from workflows.store.shown_json import Unreadable

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# Data keys whose numbers are amounts of money; they are shown with two decimals and grouping.
_MONEY_KEY = re.compile(
    r"amount|limit|exposure|revenue|balance|shortfall|price|total|value_impact|order_value"
)


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
    return translated(sentence, _, dated) if sentence else ""


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
        said=said,
        said_stored=said_stored,
    )
    # `value is unreadable`: stored JSON no decoder reads (a hand edit), which a page says as such.
    app.jinja_env.tests["unreadable"] = lambda value: isinstance(value, Unreadable)
