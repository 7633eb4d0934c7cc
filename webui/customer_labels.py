"""A customer's coded fields as the customer page says them in the reader's language: the language it is
written to in ("zh" -> "Chinese" / "中文"), its ownership (customers.OWNERSHIPS), its industry (the ones
the scorecard knows, handlers/scorecard_factors.INDUSTRY_OUTLOOK), check results, outcomes, collateral kinds
and dispute reasons. Industry is free text: any other value, like any code without a label, is shown as
stored."""

from __future__ import annotations

from babel import Locale, UnknownLocaleError
from flask import Flask
from flask_babel import lazy_gettext

from webui.collection_labels import PROMISE_STATUSES
from webui.formatting import page_locale
from webui.i18n import current_language, label_of
from workflows.definitions.display_names import ENGLISH

# The English labels are the stored words themselves (with "_" as a space): an English page reads as before.
OWNERSHIP_LABELS = {
    "state_owned": lazy_gettext("state owned"),
    "private": lazy_gettext("private"),
    "foreign": lazy_gettext("foreign"),
    "listed": lazy_gettext("listed"),
}

INDUSTRY_LABELS = {
    "utilities": lazy_gettext("utilities"),
    "healthcare": lazy_gettext("healthcare"),
    "food": lazy_gettext("food"),
    "public sector": lazy_gettext("public sector"),
    "pharmaceuticals": lazy_gettext("pharmaceuticals"),
    "manufacturing": lazy_gettext("manufacturing"),
    "wholesale": lazy_gettext("wholesale"),
    "retail": lazy_gettext("retail"),
    "services": lazy_gettext("services"),
    "technology": lazy_gettext("technology"),
    "logistics": lazy_gettext("logistics"),
    "construction": lazy_gettext("construction"),
    "hospitality": lazy_gettext("hospitality"),
    "mining": lazy_gettext("mining"),
    "real estate": lazy_gettext("real estate"),
    "travel": lazy_gettext("travel"),
    "textiles": lazy_gettext("textiles"),
}


# A credit check's result (order_tables.CheckResult).
CHECK_RESULTS = {
    "approved": lazy_gettext("approved"),
    "blocked": lazy_gettext("blocked"),
    "over_limit": lazy_gettext("over limit"),
}
# How a dunning case or a legal outcome ended (handlers/dunning.py CLOSED_*, write_offs.OUTCOMES).
OUTCOMES = {
    "paid": lazy_gettext("paid"),
    "no_longer_overdue": lazy_gettext("no longer overdue"),
    "recovered": lazy_gettext("recovered"),
    "settled": lazy_gettext("settled"),
    "uncollectable": lazy_gettext("uncollectable"),
    "written_off": lazy_gettext("written off"),
}
COLLATERAL_KINDS = {
    "bank_guarantee": lazy_gettext("bank guarantee"),
    "letter_of_credit": lazy_gettext("letter of credit"),
    "cash_deposit": lazy_gettext("cash deposit"),
    "credit_insurance": lazy_gettext("credit insurance"),
    "parent_guarantee": lazy_gettext("parent guarantee"),
    "mortgage": lazy_gettext("mortgage"),
    "pledge": lazy_gettext("pledge"),
}
DISPUTE_REASONS = {
    "price": lazy_gettext("price"),
    "quantity": lazy_gettext("quantity"),
    "quality": lazy_gettext("quality"),
    "delivery": lazy_gettext("delivery"),
    "duplicate": lazy_gettext("duplicate invoice"),
    "other": lazy_gettext("other reason"),
}
_CODES = {
    "check_result": CHECK_RESULTS,
    "outcome": OUTCOMES,
    "collateral_kind": COLLATERAL_KINDS,
    "dispute_reason": DISPUTE_REASONS,
    "promise_status": PROMISE_STATUSES,
}


def code_label(kind: str, code: str | None) -> str:
    """A stored code of one of the customer page's `kind`s in the page's language; "—" for none."""
    return label_of(_CODES[kind], code) if code else "—"


def reason_word(code: str | None) -> str:
    """A dispute reason code where a table lists it as a column or row name (the dashboard): the code itself
    on an English page (the tests and the page's scripts read it so), its label in any other language."""
    if not code or current_language() == ENGLISH:
        return code or ""
    return code_label("dispute_reason", code)


def language_name(code: str | None) -> str:
    """A stored language code as the language's name in the page's language ("zh" -> "Chinese", "中文";
    "en" -> "English", "英语"), as CLDR names it; an unknown code as stored."""
    if not code:
        return ""
    try:
        return str(Locale.parse(code).get_language_name(page_locale()) or code)
    except (ValueError, UnknownLocaleError):
        return code


def ownership_label(code: str | None) -> str:
    return label_of(OWNERSHIP_LABELS, code) if code else ""


def industry_label(industry: str | None) -> str:
    """A known industry in the page's language (matched as the scorecard matches it); other text as stored."""
    if not industry:
        return ""
    label = INDUSTRY_LABELS.get(industry.strip().lower())
    return str(label) if label is not None else industry


def register(app: Flask) -> None:
    app.jinja_env.globals.update(
        language_name=language_name,
        ownership_label=ownership_label,
        industry_label=industry_label,
        code_label=code_label,
        reason_word=reason_word,
    )
