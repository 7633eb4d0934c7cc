"""Case data as a reader of the page's language sees it: the keys our diagrams and handlers write
(`annual_revenue`, `score_factors`, ...) labelled in that language, and the few sentences our limit handlers
store as data (a proposal's `basis`, a review's `why`) said in it.

The stored data keeps its ids and English (the API, the history and the diagrams' expressions read them);
only the page translates. A key or sentence this module does not know is shown as it is stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask_babel import gettext, lazy_gettext

from webui.customer_labels import industry_label, ownership_label
from webui.i18n import current_language
from workflows.definitions.display_names import ENGLISH

# The case-data keys of the shipped diagrams and handlers (credit application and limit review first).
LABELS: dict[str, Any] = {
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


# The segment scorecards of bpmn/scorecard_weights.dmn (`scoring.scorecard`).
SCORECARDS: dict[str, Any] = {
    "default": lazy_gettext("general scorecard"),
    "construction": lazy_gettext("construction scorecard"),
    "state_owned": lazy_gettext("state-owned enterprise scorecard"),
    "listed": lazy_gettext("listed company scorecard"),
    "foreign": lazy_gettext("foreign-invested enterprise scorecard"),
}


def data_label(key: Any) -> str:
    """A case-data key in the page's language; the key itself in English or when it is not ours."""
    label = LABELS.get(key) if isinstance(key, str) else None
    if label is None or current_language() == ENGLISH:
        return str(key)
    return str(label)


# The sentences handlers/limit_decision.py (`basis`) and handlers/limit_review.py (`why`) store, matched
# whole; each says its Chinese through a msgid of its own (the English stays the stored sentence).
_SENTENCES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (
        re.compile(r"the formula, at most the request"),
        lambda m: gettext("Formula limit, capped at the request"),
    ),
    (re.compile(r"the formula"), lambda m: gettext("The formula's limit")),
    (
        re.compile(r"current limit kept: (.+) missing, an analyst decides"),
        lambda m: gettext(
            "Current limit kept (missing: %(missing)s); an analyst decides", missing=_ids(m[1])
        ),
    ),
    (
        re.compile(r"no increase on a (\w+) review: the customer is in (.+)"),
        lambda m: gettext(
            "No increase on this limit review (trigger: %(trigger)s): the customer is in %(where)s",
            trigger=m[1],
            where=m[2],
        ),
    ),
    (
        re.compile(r"no increase on a (\w+) review"),
        lambda m: gettext("No increase on this limit review (trigger: %(trigger)s)", trigger=m[1]),
    ),
    (
        re.compile(r"missing on the credit file: (.+)"),
        lambda m: gettext("Missing on the credit file: %(missing)s", missing=_ids(m[1])),
    ),
    (re.compile(r"an increase"), lambda m: gettext("The limit goes up")),
    (re.compile(r"a fall of (\d+) grades"), lambda m: gettext("The grade fell by %(drop)s", drop=m[1])),
]


def _ids(listed: str) -> str:
    """A comma-separated list of case-data keys, each labelled."""
    return "、".join(data_label(part.strip()) for part in listed.split(","))


def data_list(value: Any) -> str | None:
    """A list of case-data keys (`missing_data`) labelled in the page's language; None for any other value
    (shown as JSON) and in English."""
    if current_language() == ENGLISH or not isinstance(value, list) or not value:
        return None
    if not all(isinstance(part, str) and part in LABELS for part in value):
        return None
    return "、".join(data_label(part) for part in value)


def data_value(key: Any, value: Any, shown: str) -> str:
    """`shown` (the value as format_value wrote it), or, in a Chinese page, a coded value said in it: the
    customer's industry and ownership as the customer page says them, the scorecard's name, and the
    sentences our handlers store under `basis` and `why`."""
    if not isinstance(value, str) or current_language() == ENGLISH:
        return shown
    if key == "industry":
        return industry_label(value)
    if key == "ownership":
        return ownership_label(value)
    if key == "scorecard":
        return str(SCORECARDS.get(value, value))
    if key not in ("basis", "why"):
        return shown
    for pattern, said in _SENTENCES:
        found = pattern.fullmatch(value)
        if found:
            return said(found)
    return shown


def register(app: Flask) -> None:
    app.jinja_env.globals.update(data_label=data_label, data_list=data_list, data_value=data_value)
