"""The web UI's language (Flask-Babel): the user's choice, else the browser's Accept-Language, else
[web] default_language; the header's switch (POST /language) remembers the choice on the user.

Catalogues: webui/translations/<locale>/LC_MESSAGES/messages.po (en, zh_Hans), extracted with babel.cfg and
compiled to .mo by `make setup` (`make translations`). Strings from our code are wrapped in _() / {% trans %}.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from flask import Blueprint, Flask, redirect, request, url_for
from flask import session as cookie_session
from flask_babel import Babel, get_locale, lazy_gettext
from flask_login import current_user
from werkzeug.wrappers import Response

from webui.auth import WebUser, same_site_path
from webui.services import services
from workflows.credit.models import DunningStatus
from workflows.errors import Invalid, message_of
from workflows.languages import HTML_LANG, LANGUAGES, NATIVE_NAMES, check_language
from workflows.messages import _
from workflows.store.db import transaction
from workflows.users import set_language

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
# The cookie-session key under which a visitor who is not logged in keeps the language they chose.
SESSION_LANGUAGE = "language"

bp = Blueprint("i18n", __name__)

# Statuses the pages show as words (tasks, instances, dunning cases); any other is shown as stored.
STATUS_LABELS = {
    "open": lazy_gettext("open"),
    "completed": lazy_gettext("completed"),
    "cancelled": lazy_gettext("cancelled"),
    "running": lazy_gettext("running"),
    "failed": lazy_gettext("failed"),
    "closed": lazy_gettext("closed"),
    "paused": lazy_gettext("paused"),
    "disputed": lazy_gettext("disputed"),
    DunningStatus.LEGAL: lazy_gettext("legal"),
    "error": lazy_gettext("error"),
    "done": lazy_gettext("done"),
    "stalled": lazy_gettext("stalled"),
    # An order's (workflows/credit/order_tables.OrderStatus; "open" and "cancelled" are above).
    "held": lazy_gettext("held"),
    "released": lazy_gettext("released"),
    "invoiced": lazy_gettext("invoiced"),
    # A dispute's (workflows/credit/disputes.DisputeStatus) and a legal outcome's write-off request's
    # (workflows/credit/write_offs.RequestStatus; "open" and "closed" are above).
    "proposed": lazy_gettext("proposed"),
    "rejected": lazy_gettext("rejected"),
    "resolved": lazy_gettext("resolved"),
    "credited": lazy_gettext("credited"),
    "refused": lazy_gettext("refused"),
    "posted": lazy_gettext("posted"),
}


# Audit actions as the history tables show them; any other action is shown with "_" as a space.
ACTION_LABELS = {
    "instance_started": lazy_gettext("instance started"),
    "instance_completed": lazy_gettext("instance completed"),
    "instance_failed": lazy_gettext("instance failed"),
    "instance_retried": lazy_gettext("instance retried"),
    "task_created": lazy_gettext("task created"),
    "task_claimed": lazy_gettext("task claimed"),
    "task_unclaimed": lazy_gettext("task unclaimed"),
    "task_completed": lazy_gettext("task completed"),
    "task_cancelled": lazy_gettext("task cancelled"),
    "task_overdue_reminder": lazy_gettext("task overdue reminder"),
    "task_overdue_reminder_failed": lazy_gettext("task overdue reminder failed"),
    "service_called": lazy_gettext("service called"),
    "timers_checked": lazy_gettext("timers checked"),
    "message_received": lazy_gettext("message received"),
    "message_unmatched": lazy_gettext("message unmatched"),
    "api_token_issued": lazy_gettext("api token issued"),
    "batch_run": lazy_gettext("batch run"),
    "clock_moved": lazy_gettext("clock moved"),
    "collateral_added": lazy_gettext("collateral added"),
    "contract_created": lazy_gettext("contract created"),
    # A contract change request's steps (workflows/credit/contract_changes.py, contracts.audit_contract).
    "contract_change_requested": lazy_gettext("contract change requested"),
    "contract_change_safeguard_recorded": lazy_gettext("contract change safeguard recorded"),
    "contract_change_approved": lazy_gettext("contract change approved"),
    "contract_change_rejected": lazy_gettext("contract change rejected"),
    "contract_change_expired": lazy_gettext("contract change expired"),
    "contract_version_created": lazy_gettext("contract version created"),
    "credit_check": lazy_gettext("credit check"),
    "credit_limit_changed": lazy_gettext("credit limit changed"),
    # handlers/limit_weighing.py: the recommendation as the authority table weighed it, in the base currency.
    "limit_recommendation_weighed": lazy_gettext("limit recommendation weighed"),
    "credit_score_recorded": lazy_gettext("credit score recorded"),
    "customer_created": lazy_gettext("customer created"),
    "customer_rated": lazy_gettext("customer rated"),
    "customer_unblocked": lazy_gettext("customer unblocked"),
    "definition_approved": lazy_gettext("definition approved"),
    "definition_deployed": lazy_gettext("definition deployed"),
    "definition_rejected": lazy_gettext("definition rejected"),
    "deploy": lazy_gettext("deploy"),
    "dispute_closed": lazy_gettext("dispute closed"),
    "dispute_credited": lazy_gettext("dispute credited"),
    "dispute_opened": lazy_gettext("dispute opened"),
    "dispute_proposed": lazy_gettext("dispute proposed"),
    "external_rating_changed": lazy_gettext("external rating changed"),
    "fx_rate_forced": lazy_gettext("fx rate forced"),
    "fx_rate_set": lazy_gettext("fx rate set"),
    "invoice_posted": lazy_gettext("invoice posted"),
    "invoice_written_off": lazy_gettext("invoice written off"),
    "key_customer_changed": lazy_gettext("key customer changed"),
    "kpi_snapshot_posted": lazy_gettext("kpi snapshot posted"),
    "kpi_snapshot_refused": lazy_gettext("kpi snapshot refused"),
    "next_review_date_set": lazy_gettext("next review date set"),
    "order_closed": lazy_gettext("order closed"),
    "order_rechecked": lazy_gettext("order rechecked"),
    "order_recorded": lazy_gettext("order recorded"),
    "order_release_refused": lazy_gettext("order release refused"),
    "order_released": lazy_gettext("order released"),
    "payment_received": lazy_gettext("payment received"),
    "provision_booked": lazy_gettext("provision booked"),
    "provision_recovered": lazy_gettext("provision recovered"),
    "provision_released": lazy_gettext("provision released"),
    "provision_run_posted": lazy_gettext("provision run posted"),
    "provision_run_refused": lazy_gettext("provision run refused"),
    "provision_used": lazy_gettext("provision used"),
    "recovery_posted": lazy_gettext("recovery posted"),
    "supplier_created": lazy_gettext("supplier created"),
    "supplier_evaluated": lazy_gettext("supplier evaluated"),
    "tick_as_of": lazy_gettext("tick as of"),
    "user_changed": lazy_gettext("user changed"),
    "user_created": lazy_gettext("user created"),
    "validate": lazy_gettext("validate"),
    "watchlist_evaluated": lazy_gettext("watchlist evaluated"),
    "watchlist_run_refused": lazy_gettext("watchlist run refused"),
    "write_off_decided": lazy_gettext("write off decided"),
    "write_off_proposal_created": lazy_gettext("write off proposal created"),
    "write_off_rejected": lazy_gettext("write off rejected"),
}


def label_of(labels: Mapping[str, Any], name: str) -> str:
    """`name`'s label in the page's language, or the name in words when `labels` has none."""
    label = labels.get(name)
    return str(label) if label is not None else name.replace("_", " ")


def action_label(action: str) -> str:
    """An audit action in the page's language ("task_completed" -> "task completed", "任务已办结")."""
    return label_of(ACTION_LABELS, action)


def status_label(status: str) -> str:
    """A stored status in the page's language ("completed" -> "已完成")."""
    label = STATUS_LABELS.get(status)
    return str(label) if label is not None else status


def current_language() -> str:
    """The stored code ("en", "zh") of this request's language. An API call's Accept-Language comes first: a
    client program says per request which language its `message` fields must be in (issue 20)."""
    if request.path.startswith("/api/") and request.headers.get("Accept-Language"):
        asked_by_client = request.accept_languages.best_match(list(LANGUAGES))
        if asked_by_client:
            return asked_by_client
    if current_user.is_authenticated and cast(WebUser, current_user).language in LANGUAGES:
        return str(cast(WebUser, current_user).language)
    chosen = cookie_session.get(SESSION_LANGUAGE)
    if isinstance(chosen, str) and chosen in LANGUAGES:
        return chosen
    # "zh-CN", "zh-Hans", "zh-TW" and "zh" all match zh (there is one Chinese: Simplified).
    asked = request.accept_languages.best_match(list(LANGUAGES))
    return asked or services().rt.settings.web.default_language


# How each language lists things in running text: "a, b"; "甲、乙".
LIST_SEPARATORS = {"en": ", ", "zh": "、"}


def list_separator() -> str:
    """The separator of a list in this request's language."""
    return LIST_SEPARATORS.get(current_language(), LIST_SEPARATORS["en"])


def _select_locale() -> str:
    return LANGUAGES[current_language()]


def html_lang() -> str:
    """The <html lang> tag of the page's language: "en" or "zh-Hans"."""
    return HTML_LANG[_code_of(str(get_locale()))]


def _code_of(locale: str) -> str:
    return next(code for code, name in LANGUAGES.items() if name == locale)


@bp.post("/language")
def switch() -> Response:
    """Remember the language chosen in the header: on the user, or for a visitor in the cookie session."""
    sent = request.form.getlist("language")
    try:
        if len(sent) != 1:
            raise ValueError(
                _(
                    "send one language, not %(count)s: one of %(languages)s",
                    count=len(sent),
                    languages=", ".join(LANGUAGES),
                )
            )
        code = check_language(sent[0])
    except ValueError as exc:
        raise Invalid(message_of(exc), details={"fields": {"language": message_of(exc)}}) from exc
    if current_user.is_authenticated:
        svc = services()
        with transaction(svc.rt.factory) as session:
            set_language(session, cast(WebUser, current_user).username, code, svc.wall())
    else:
        cookie_session[SESSION_LANGUAGE] = code
    return redirect(same_site_path(request.form.get("next", ""), url_for("pages.home")))


def register(app: Flask) -> None:
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    Babel(app, locale_selector=_select_locale)
    app.jinja_env.globals.update(
        html_lang=html_lang,
        languages=NATIVE_NAMES,
        current_language=current_language,
        status_label=status_label,
        action_label=action_label,
    )
