"""A dunning case event's detail (DunningEvent.detail, handlers/dunning*.py) as one line on the customer
page's timeline, in the reader's language: each key by its label ("next_step_on" -> "next step on",
"下一步日期"), days and times as the page writes them, amounts as money in the case's currency, yes/no,
statuses and groups by their labels. A key without a label is shown as stored, with "_" as a space."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import Flask
from flask_babel import gettext, lazy_gettext

from webui.collection_labels import PROMISE_STATUSES
from webui.formatting import format_day, format_time, format_value, page_locale
from webui.group_labels import group_label
from webui.i18n import STATUS_LABELS, label_of, list_separator
from webui.promise_limit_texts import promise_limits_said
from webui.stored_sentences import said_stored
from workflows.money import format_money

DETAIL_LABELS = {
    "invoices": lazy_gettext("invoices"),
    "queued": lazy_gettext("notice queued"),
    "next_step_on": lazy_gettext("next step on"),
    "interest": lazy_gettext("interest"),
    "last_notice_at": lazy_gettext("last notice"),
    "level": lazy_gettext("level"),
    "amount": lazy_gettext("amount"),
    "currency": lazy_gettext("currency"),
    "fees": lazy_gettext("fees"),
    "blocked": lazy_gettext("blocked"),
    "customer_blocked": lazy_gettext("customer blocked"),
    "unblocked": lazy_gettext("block lifted"),
    "grade": lazy_gettext("grade"),
    "status": lazy_gettext("status"),
    "held": lazy_gettext("held back in dispute"),
    "promise_id": lazy_gettext("promise no."),
    "promise_status": lazy_gettext("promise status"),
    "promised_date": lazy_gettext("promised for"),
    "promised_amount": lazy_gettext("promised amount"),
    "replaces": lazy_gettext("replaces promise"),
    "overdue": lazy_gettext("overdue amount"),
    "received": lazy_gettext("received"),
    "outside": lazy_gettext("outside the limits"),
    "comment": lazy_gettext("comment"),
    "dispute_id": lazy_gettext("dispute no."),
    "instance_id": lazy_gettext("process no."),
    "owner_group": lazy_gettext("owner group"),
    "outcome": lazy_gettext("outcome"),
    "write_off_instance": lazy_gettext("write-off process"),
    "provision": lazy_gettext("provision"),
    "disputed": lazy_gettext("disputed amount"),
    "reason": lazy_gettext("reason"),
}
_MONEY = frozenset(
    {"amount", "fees", "held", "interest", "overdue", "promised_amount", "received", "provision", "disputed"}
)
_STATUSES = frozenset({"status", "outcome"})
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)?")


def _value(key: str, value: Any, currency: str | None) -> str:
    if key == "outside" and isinstance(value, list):  # a promise's broken limits: codes, or older sentences
        return promise_limits_said(value)
    if isinstance(value, list):  # a list as the page's language writes one: "、" in Chinese
        return list_separator().join(_value(key, v, currency) for v in value)
    if isinstance(value, str):
        if _ISO_TIME.fullmatch(value):
            return format_time(datetime.fromisoformat(value.replace("Z", "+00:00")))
        if _ISO_DAY.fullmatch(value):
            return format_day(value)
        if key == "promise_status":
            return label_of(PROMISE_STATUSES, value)
        if key in _STATUSES:
            return label_of(STATUS_LABELS, value)
        if key == "owner_group":
            return group_label(value)
        if key in ("reason", "outside"):
            return said_stored(value)
    if key in _MONEY and not isinstance(value, bool):
        return format_money(value, currency, empty="—", locale=page_locale())
    return format_value(key, value)


def describe_event(detail: Mapping[str, Any], currency: str | None = None) -> str:
    """A dunning event's detail as one line ("invoices: INV-1 · next step on: 7 Mar 2026"); nested before/
    after data flattened (the after value shown), empty values left out."""
    flat: dict[str, Any] = {}
    for key, value in detail.items():
        if isinstance(value, Mapping):
            flat.update(value)
        else:
            flat[key] = value
    separator = gettext("%(label)s: %(value)s")
    return " · ".join(
        separator % {"label": label_of(DETAIL_LABELS, key), "value": _value(key, value, currency)}
        for key, value in flat.items()
        if value not in (None, "", [], {})
    )[:500]


def register(app: Flask) -> None:
    app.jinja_env.globals.update(describe_event=describe_event)
