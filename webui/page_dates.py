"""Days and times as the page's reader writes them (Flask-Babel, the request's locale). Apart from
webui/formatting.py (which re-exports them) so that webui/stored_sentences.py can write a sentence's days
without importing the module that registers it for the templates."""

from __future__ import annotations

from datetime import date, datetime

from flask import has_request_context
from flask_babel import format_date, get_locale

from workflows.money import LOCALE


def format_time(value: datetime | None) -> str:
    """A UTC time in the page's language: "2 Mar 2026 09:00", "2026年3月2日 09:00"; empty for None. (Pages put
    the machine-readable ISO value in a <time datetime> or data attribute where a script or test reads it.)"""
    return f"{format_day(value.date())} {value.strftime('%H:%M')}" if value else ""


def page_locale() -> str:
    """The locale of the page being rendered ("en", "zh_Hans"); English outside a request."""
    return str(get_locale() or LOCALE) if has_request_context() else LOCALE


# Dates as their readers write them: "14 Jan 2027" (English, day first as in Europe), "2027年1月14日".
_DATE_FORMATS = {"en": "d MMM y", "zh_Hans": "long"}


def format_day(value: date | str | None) -> str:
    """A date (or its ISO text) in the page's language (Flask-Babel): "14 Jan 2027", "2027年1月14日"."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return str(format_date(value, _DATE_FORMATS.get(page_locale(), "medium")))
