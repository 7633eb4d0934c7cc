"""The top navigation: each user sees the pages their groups may use (admins see all)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Flask, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webui.auth import web_actor
from webui.dashboard import DASHBOARD_READERS
from webui.services import services
from webui.start import startable_definitions
from workflows.audit_trail import AUDIT_READERS
from workflows.batch.job_history import JOB_READERS
from workflows.clock import SIMULATED
from workflows.credit import roles
from workflows.credit.roles import CUSTOMER_READERS, DEFINITION_READERS, PROVISION_READERS, SUPPLIER_READERS
from workflows.credit.watchlist import READERS as WATCHLIST_READERS


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    active: bool


def _section(endpoint: str) -> str:
    """The nav item a page belongs to: its blueprint, with a few pages filed under another item."""
    blueprint, _, view = endpoint.partition(".")
    if blueprint == "tasks":
        return "inbox"  # a task page belongs to the inbox
    if blueprint == "suppliers_pages" and view.startswith("contract"):
        return "contracts"
    return blueprint


def nav_items() -> list[NavItem]:
    """Links for the logged-in user, in page order, labelled in the user's language."""
    if not current_user.is_authenticated:
        return []
    actor = web_actor()
    items = [(_("Inbox"), "inbox.inbox")]
    if actor.in_any(DASHBOARD_READERS):
        items.append((_("Dashboard"), "dashboard.index"))
    with services().rt.factory() as session:
        if startable_definitions(session, actor):
            items.append((_("Start"), "start.index"))
    items.append((_("Instances"), "instances.index"))
    if actor.in_any(CUSTOMER_READERS):
        items.append((_("Customers"), "customers_pages.index"))
    if actor.in_any(roles.PORTFOLIO_READERS):
        items.append((_("Portfolio"), "portfolio.index"))
    if actor.in_any(roles.COLLECTION_READERS):
        items.append((_("Collections"), "collections_pages.index"))
    if actor.in_any(WATCHLIST_READERS):
        items.append((_("Watchlist"), "watchlist_pages.index"))
    if actor.in_any(SUPPLIER_READERS):
        items += [
            (_("Suppliers"), "suppliers_pages.suppliers"),
            (_("Contracts"), "suppliers_pages.contracts"),
        ]
    if actor.in_any(PROVISION_READERS):
        items.append((_("Provisions"), "provisions_pages.index"))
    if actor.in_any(DEFINITION_READERS):
        items.append((_("Definitions"), "definitions.index"))
    if actor.in_any(JOB_READERS):
        items.append((_("Jobs"), "jobs_pages.index"))
    if actor.in_any(AUDIT_READERS):
        items.append((_("Audit"), "audit.index"))
    items.append((_("Mail"), "mail.mailbox"))
    current = _section(request.endpoint or "")
    return [NavItem(label, url_for(endpoint), _section(endpoint) == current) for label, endpoint in items]


def simulated_time() -> datetime | None:
    """The simulated clock's time, for the banner every page shows in simulated mode (None in real mode):
    a trainee must never take the walked date for today."""
    svc = services()
    return svc.clock() if svc.rt.settings.clock.mode == SIMULATED else None


def register(app: Flask) -> None:
    app.jinja_env.globals["nav_items"] = nav_items
    app.jinja_env.globals["simulated_time"] = simulated_time
