"""Case data as a reader of the page's language sees it: the keys our diagrams and handlers write
(`annual_revenue`, `score_factors`, ...) labelled in that language, and the few sentences our limit handlers
store as data (a proposal's `basis`, a review's `why`) said in it.

The stored data keeps its ids and English (the API, the history and the diagrams' expressions read them);
only the page translates. A key or sentence this module does not know is shown as it is stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import Flask, current_app
from flask_babel import lazy_gettext
from markupsafe import Markup, escape

from webui.case_keys import KEY_LABELS, coded_in, coded_value, form_title
from webui.customer_labels import industry_label, ownership_label
from webui.formatting import format_day, format_time, format_value, is_money_key, page_locale
from webui.i18n import current_language, list_separator
from webui.process_sentences import is_process_sentence
from webui.promise_limit_texts import promise_limits_said
from webui.stored_sentences import said_stored, stored_msgid
from workflows.credit import roles
from workflows.credit.dispute_reasons import lines_said
from workflows.definitions.display_names import ENGLISH
from workflows.money import as_decimal, format_money

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)?")

# The case-data keys of the shipped diagrams and handlers (credit application and limit review here, the other
# processes' and the history's in webui/case_keys.py).
_OWN_LABELS: dict[str, Any] = {
    "above_policy": lazy_gettext("Above the policy's limit"),
    "annual_revenue": lazy_gettext("Annual revenue"),
    "assessment": lazy_gettext("Assessment"),
    "base_currency": lazy_gettext("Base currency"),
    "basis": lazy_gettext("Basis of the proposal"),
    "blocked": lazy_gettext("Blocked"),
    "cap": lazy_gettext("Revenue cap"),
    "change": lazy_gettext("Change"),
    "collateral": lazy_gettext("Collateral"),
    "comment": lazy_gettext("Comment"),
    "credit_file": lazy_gettext("Credit file"),
    "currency": lazy_gettext("Currency"),
    "current_grade": lazy_gettext("Current grade"),
    "current_limit": lazy_gettext("Current limit"),
    "customer_currency": lazy_gettext("Customer's currency"),
    "customer_email": lazy_gettext("Customer's e-mail"),
    "customer_id": lazy_gettext("Customer number"),
    "customer_name": lazy_gettext("Customer name"),
    "customer_since": lazy_gettext("Customer since"),
    "decision": lazy_gettext("Decision"),
    "exception_reason": lazy_gettext("Reason for the exception"),
    "expected_annual_sales": lazy_gettext("Expected annual sales"),
    "exposure": lazy_gettext("Exposure"),
    "external_rating": lazy_gettext("External rating"),
    "financial_ratios": lazy_gettext("Financial ratios"),
    "financial_strength": lazy_gettext("Financial strength"),
    "formula_limit": lazy_gettext("Formula limit"),
    "grace_days": lazy_gettext("Grace days"),
    "grade": lazy_gettext("Grade"),
    "grade_drop": lazy_gettext("Grades lost"),
    "industry": lazy_gettext("Industry"),
    "industry_outlook": lazy_gettext("Industry outlook"),
    "industry_rating": lazy_gettext("Industry outlook rating"),
    "justification": lazy_gettext("Justification"),
    "key_customer": lazy_gettext("Key customer"),
    "limit_rounding": lazy_gettext("Limit rounding"),
    "management": lazy_gettext("Management"),
    "management_rating": lazy_gettext("Management rating"),
    "missing_data": lazy_gettext("Missing data"),
    "needs_approval": lazy_gettext("Needs approval"),
    "need": lazy_gettext("Credit need"),
    "overdue": lazy_gettext("Overdue"),
    "ownership": lazy_gettext("Ownership"),
    "payment_history": lazy_gettext("Payment history"),
    "payment_terms_days": lazy_gettext("Payment terms (days)"),
    "policy_limit": lazy_gettext("Policy limit"),
    "previous_grade": lazy_gettext("Previous grade"),
    "proposal": lazy_gettext("Limit proposal"),
    "proposed_limit": lazy_gettext("Proposed limit"),
    "rate_missing": lazy_gettext("Exchange rate missing"),
    "reason": lazy_gettext("Reason"),
    "recommendation": lazy_gettext("Recommendation"),
    "recommended_limit": lazy_gettext("Recommended limit"),
    "region": lazy_gettext("Region"),
    "relationship": lazy_gettext("Relationship"),
    "requested_limit": lazy_gettext("Requested limit"),
    "revenue_cap_pct": lazy_gettext("Revenue cap (share of revenue)"),
    "review_months": lazy_gettext("Review interval (months)"),
    "review_note": lazy_gettext("Review note"),
    "sales_owner": lazy_gettext("Sales owner"),
    "score": lazy_gettext("Score"),
    "score_factors": lazy_gettext("Score factors"),
    "score_record": lazy_gettext("Score record"),
    "score_valid_months": lazy_gettext("Score valid for (months)"),
    "score_valid_to": lazy_gettext("Score valid until"),
    "scorecard": lazy_gettext("Scorecard"),
    "scoring": lazy_gettext("Scoring"),
    "size": lazy_gettext("Size"),
    "strategic_importance": lazy_gettext("Strategic importance"),
    "strategic_rating": lazy_gettext("Strategic importance rating"),
    "thin_file": lazy_gettext("Thin file"),
    "weights": lazy_gettext("Weights"),
    "why": lazy_gettext("Why people decide"),
}
LABELS: dict[str, Any] = {**KEY_LABELS, **_OWN_LABELS}


# The segment scorecards of bpmn/scorecard_weights.dmn (`scoring.scorecard`).
SCORECARDS: dict[str, Any] = {
    "default": lazy_gettext("general scorecard"),
    "construction": lazy_gettext("construction scorecard"),
    "state_owned": lazy_gettext("state-owned enterprise scorecard"),
    "listed": lazy_gettext("listed company scorecard"),
    "foreign": lazy_gettext("foreign-invested enterprise scorecard"),
}


def known_label(key: Any) -> str | None:
    """A case-data key's label in the page's language: ours, else the title of the shipped form field that
    writes it; None for a key neither names (a decision table's input, a key a diagram's author chose)."""
    if not isinstance(key, str):
        return None
    label = LABELS.get(key)
    return str(label) if label is not None else form_title(key, current_language())


def data_label(key: Any) -> str:
    """A case-data key in the page's language (English pages read the same labels in English); the key
    itself when it is not ours (a variable the author of a custom diagram chose)."""
    label = known_label(key)
    return str(key) if label is None else label


# A limit review's `decision` when the proposal needs no approval (bpmn/credit_limit_review.bpmn,
# accept_proposal); the others (approve, reject) are the review form's choices.
AUTOMATIC_DECISION = lazy_gettext("applied automatically, no approval needed")

# The review sweep's triggers (workflows/credit/limit_review.py; the case's `reason`, and `trigger` in a
# stored `basis` sentence) and the risk signals that hold an increase back (`late_payer`).
TRIGGERS: dict[str, Any] = {
    "scheduled": lazy_gettext("scheduled review"),
    "overdue": lazy_gettext("overdue invoices"),
    roles.DUNNING: lazy_gettext("customer in dunning"),
    "rating_change": lazy_gettext("rating change"),
    "utilisation": lazy_gettext("high utilisation of the limit"),
    "top_exposure": lazy_gettext("one of the largest exposures"),
    "manual": lazy_gettext("started by hand"),
}
SIGNALS: dict[str, Any] = {
    roles.DUNNING: lazy_gettext("is in dunning"),
    "overdue": lazy_gettext("has overdue invoices"),
}
# Keys whose stored values are sentences our handlers wrote (English, with a msgid: said_stored says them).
SENTENCE_KEYS = frozenset({"basis", "why"})
# The shipped processes whose handlers write them (credit.propose_limit's basis, limit_review's why): in any
# other process's case the same key holds what a person typed, never searched against the catalogue.
SENTENCE_PROCESSES = frozenset({roles.CREDIT_APPLICATION, roles.CREDIT_LIMIT_REVIEW})
# Per process, the keys our code fills with a sentence of its own (order_release's start data: the credit
# check's reason); the same key in another process may hold what a person typed (a contract change's reason).
PROCESS_SENTENCE_KEYS = {roles.ORDER_RELEASE: ("reason",)}
SENTENCE_LISTS = frozenset({"outside"})  # handlers/dunning_promises.py: the promise limits a promise breaks
# Amounts in the case data that format_value's key pattern does not know as money (disputed: a dispute's;
# costs, written_off, provision_used: a write-off's, in the currency of the invoices it writes off).
MONEY_KEYS = frozenset(
    {"cap", "need", "overdue", "expected_annual_sales", "disputed", "costs", "written_off", "provision_used"}
)
NOT_MONEY_SUFFIXES = ("_pct", "_rate", "_days", "_months", "_count")  # revenue_cap_pct is a share, not money


def _ids(listed: str) -> str:
    """A comma-separated list of case-data keys, each labelled (inside a zh sentence: said_stored)."""
    return "、".join(data_label(part.strip()) for part in listed.split(","))


def data_list(value: Any, key: Any = None) -> str | None:
    """A list of case-data keys (`missing_data`) labelled in the page's language, or a list of our handlers'
    limits (a promise's `outside`) said in it; None for any other value (shown as JSON). English pages
    label the keys too."""
    if not isinstance(value, list) or not value:
        return None
    if key in SENTENCE_LISTS:
        return promise_limits_said(value)
    if not all(isinstance(part, str) and part in LABELS for part in value):
        return None
    return list_separator().join(data_label(part) for part in value)


# Our stored English sentences naming case-data keys (handlers/limit_decision.py, handlers/limit_review.py):
# "missing on the credit file: financial_ratios". A zh page says them whole (said_stored, SAYERS); an English
# page keeps our English and says the keys by their labels.
KEY_SENTENCES = (
    "current limit kept: %(missing)s missing, an analyst decides",
    "missing on the credit file: %(missing)s",
)
_KEY_SHAPES = tuple(
    re.compile(re.escape(msgid).replace(re.escape("%(missing)s"), r"(?P<missing>\w+(?:, \w+)*)"))
    for msgid in KEY_SENTENCES
)


def keys_said(text: str) -> str:
    """One of KEY_SENTENCES with its keys by their English labels ("missing on the credit file: financial
    ratios"); any other text as it is."""
    for shape in _KEY_SHAPES:
        if found := shape.fullmatch(text):
            start, end = found.span("missing")
            labels = [data_label(key) for key in found.group("missing").split(", ")]
            inline = [label[:1].lower() + label[1:] if label[1:2].islower() else label for label in labels]
            return text[:start] + ", ".join(inline) + text[end:]
    return text


def _code(table: dict[str, Any], code: str) -> str:
    return str(table.get(code, code))


# The codes inside our stored sentences, by placeholder name.
SAYERS = {
    "missing": _ids,
    "trigger": lambda code: _code(TRIGGERS, code),
    "signal": lambda code: _code(SIGNALS, code),
}


# A limit review's reason as an English page says it: the stored "review:overdue" is the msgid's own
# English with the trigger's code (zh says the msgid: 额度复核：发票逾期).
REVIEW_REASON = lazy_gettext("limit review: %(trigger)s")


def limit_reason(text: object) -> str:
    """A limit history's reason (workflows/credit/limit_reasons.py) in the page's language; in
    "review:%(reason)s" the reason is the limit review's trigger code (its start form's choice), by label."""
    if current_language() == ENGLISH and isinstance(text, str) and text.startswith("review:"):
        trigger = text.removeprefix("review:")
        if trigger in TRIGGERS:
            return str(REVIEW_REASON) % {"trigger": TRIGGERS[trigger]}
    return said_stored(text, {**SAYERS, "reason": lambda code: _code(TRIGGERS, code)})


def _is_amount(key: Any, value: Any) -> bool:
    if not isinstance(key, str) or isinstance(value, bool) or key.endswith(NOT_MONEY_SUFFIXES):
        return False
    return (key in MONEY_KEYS or is_money_key(key)) and as_decimal(value) is not None


def case_currency(data: Any) -> str | None:
    """The currency a case's amounts are in: the application's `currency`, else the credit file's."""
    if not isinstance(data, Mapping):
        return None
    credit_file = data.get("credit_file")
    # A dispute's and a contract change's amounts are in the currency their handler stored beside them; a
    # write-off's (the settled `amount`, the `costs`) in its proposal's, the currency of the invoices it
    # writes off (write_off.open); a dunning case's (the review's overdue, a promised amount) in its `case`'s,
    # the customer's (dunning.open_case). A limit's or a dispute's proposal holds no `currency`.
    nested = [data.get(key) for key in ("dispute", "change_request", "proposal", "case")]
    for found in (
        data.get("currency"),
        data.get("customer_currency"),
        credit_file.get("customer_currency") if isinstance(credit_file, Mapping) else None,
        *(part.get("currency") for part in nested if isinstance(part, Mapping)),
    ):
        if isinstance(found, str) and len(found) == 3 and found.isalpha():
            return found.upper()
    return None


# Amounts our handlers store in the base currency (a contract change's impact, a dispute credit's weight).
BASE_AMOUNT_KEYS = frozenset({"impact_in_base", "credit_base", "limit_in_base", "write_off_base"})
# Per process, amounts entered without a currency that its authority table weighs against thresholds in the
# base currency, as every shipped authority table does: a payment-terms exception's `order_value` (its start
# form has no currency; payment_terms_authority.dmn reads "above 100,000").
PROCESS_BASE_AMOUNT_KEYS = {roles.PAYMENT_TERMS_EXCEPTION: ("order_value",)}
# Per process, keys that hold an amount in the case's currency though their name says no money (a contract's
# `value` among its terms; elsewhere `value` may be anything).
PROCESS_AMOUNT_KEYS = {roles.SUPPLIER_CONTRACT_CHANGE: ("value",)}


def base_currency() -> str:
    """The deployment's base currency (config [credit] base_currency)."""
    return str(current_app.extensions["creditflow"].rt.settings.credit.base_currency)


# A dispute's lines: the handler's `lines` and the start form's `invoices` ({number, amount, reason} each).
DISPUTE_LINE_KEYS = frozenset({"lines", "invoices"})


def invoice_lines(value: Any, key: Any, currency: str | None, process: str | None) -> str | None:
    """A dispute's lines as the page's language writes them ("发票 HX-4410 £2,400.00（价格）；…", "HX-4410
    £2,400.00 (price), …"); None for any other key or value (shown as JSON)."""
    if process != roles.DISPUTE_RESOLUTION or key not in DISPUTE_LINE_KEYS:
        return None
    return lines_said(value, currency, current_language())


def data_value(
    key: Any, value: Any, shown: str, currency: str | None = None, process: str | None = None
) -> str:
    """`shown` (the value as format_value wrote it), or the value as a reader of the page's language reads it:
    amounts as money in the case's `currency`, ISO days and times as the page writes dates, coded values by
    their labels (industry, ownership, scorecard, a review's trigger, a form's choice; English pages too),
    and, in a Chinese page, the sentences our handlers store in English (`basis`, `why`: said_stored).
    `process`: the case's process key; a `reason` is a review's trigger code only in a limit review —
    elsewhere (a contract change) it is typed text."""
    in_base = key in BASE_AMOUNT_KEYS or key in PROCESS_BASE_AMOUNT_KEYS.get(process or "", ())
    if in_base and not isinstance(value, bool) and as_decimal(value) is not None:
        return format_money(value, base_currency(), locale=page_locale())
    if key in PROCESS_AMOUNT_KEYS.get(process or "", ()) and not isinstance(value, bool):
        if as_decimal(value) is not None:
            return format_money(value, currency, locale=page_locale())
    if _is_amount(key, value):
        return format_money(value, currency, locale=page_locale())
    if not isinstance(value, str):
        return shown
    try:
        if _ISO_DAY.fullmatch(value):
            return format_day(value)
        if _ISO_TIME.fullmatch(value):
            return format_time(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:  # the shape of a date but no real one (2026-02-30): shown as stored
        return shown
    if key in ("industry", "ownership", "scorecard") and not coded_in(key, process):
        return shown  # typed into another process's case (CODE_PROCESSES)
    if key == "industry":
        return industry_label(value)
    if key == "ownership":
        return ownership_label(value)
    if key == "scorecard":
        return _code(SCORECARDS, value)
    if key == "reason" and process == roles.CREDIT_LIMIT_REVIEW and value in TRIGGERS:
        return _code(TRIGGERS, value)
    if key == "decision" and process == roles.CREDIT_LIMIT_REVIEW and value == "automatic":
        return str(AUTOMATIC_DECISION)
    ours = key in SENTENCE_KEYS and (process is None or process in SENTENCE_PROCESSES)
    if key in SENTENCE_KEYS and not ours:
        return shown
    if current_language() == ENGLISH and (ours or key in PROCESS_SENTENCE_KEYS.get(process or "", ())):
        return keys_said(shown)  # our sentences are stored in English, the keys they name as ids
    if ours:
        return said_stored(value, SAYERS)
    if process is not None and key in PROCESS_SENTENCE_KEYS.get(process, ()):
        # Only the sentences the process stores are said (process_sentences): anything else is what a person
        # typed on the start form ('overdue', 'review:overdue'), even when shaped like another of ours.
        return said_stored(value, SAYERS) if is_process_sentence(process, stored_msgid(value)) else shown
    coded = coded_value(str(key), value, current_language(), process)
    return shown if coded is None else coded


def data_items(
    value: Any, key: Any, currency: str | None = None, process: str | None = None
) -> Markup | None:
    """A list of plain values (the invoices a write-off names, the recipients told) as the page's language
    lists things, each as data_value says it (what people or the ERP typed marked as stored); None for
    anything else (a list of records stays JSON)."""
    if not isinstance(value, list) or not value:
        return None
    if any(item is None or isinstance(item, Mapping | list) for item in value):
        return None
    parts = []
    for item in value:
        shown = format_value(str(key), item)
        # Our sentence keys hold one sentence: items of a list under one are typed, never searched.
        said = shown if key in SENTENCE_KEYS else data_value(key, item, shown, currency, process)
        typed = isinstance(item, str) and said == shown
        parts.append(Markup('<span data-value="">%s</span>') % said if typed else escape(said))
    return Markup(list_separator()).join(parts)


def register(app: Flask) -> None:
    app.jinja_env.globals.update(
        data_items=data_items,
        data_label=data_label,
        data_list=data_list,
        data_value=data_value,
        case_currency=case_currency,
        invoice_lines=invoice_lines,
        limit_reason=limit_reason,
    )
