"""Limit-change reasons our code wrote, in the page's language (the customer page's limit history and the task
page's customer panel share this one helper).

`LimitChange.reason` is plain text: the shipped diagrams write "credit application" (credit_application.bpmn)
and "review:" + the analyst's typed reason (credit_limit_review.bpmn); the ERP import writes "migrated from
ERP: FILE" (workflows/credit/customers.MIGRATED). Those words are ours and are said in the reader's language;
what a person typed (the review's reason, the file name) and any other reason stay as stored. English pages
show the stored text itself (it is English already, and tests and exports read it so).
"""

from __future__ import annotations

from flask import Flask
from flask_babel import gettext

from webui.i18n import current_language
from workflows.credit.customers import MIGRATED
from workflows.definitions.display_names import ENGLISH

CREDIT_APPLICATION = "credit application"
REVIEW_PREFIX = "review:"


def limit_reason(reason: str | None) -> str:
    """A stored limit-change reason as the page's reader reads it; a reason of another shape as stored."""
    if not reason:
        return ""
    text = str(reason)
    if current_language() == ENGLISH:
        return text
    # The msgids are not the stored words (except "credit application"): a stored reason shown raw elsewhere
    # (the SoD report quotes it as data) must not read as an untranslated msgid.
    if text == CREDIT_APPLICATION:
        return str(gettext("credit application"))
    if text == MIGRATED:
        return str(gettext("ERP migration"))
    if text.startswith(MIGRATED + ":"):
        return str(gettext("ERP migration: %(source)s", source=text[len(MIGRATED) + 1 :].strip()))
    if text.startswith(REVIEW_PREFIX):
        return str(gettext("limit review: %(reason)s", reason=text[len(REVIEW_PREFIX) :].strip()))
    return text


def register(app: Flask) -> None:
    app.jinja_env.globals.update(limit_reason=limit_reason)
