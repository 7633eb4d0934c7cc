"""The top navigation: each user sees the pages their groups may use (admins see all)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, request, url_for
from flask_login import current_user

from webui import services
from webui.auth import web_actor
from webui.diagrams import PROCESS_OWNERS
from webui.start import startable_definitions


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    active: bool


def nav_items() -> list[NavItem]:
    """Links for the logged-in user, in page order."""
    if not current_user.is_authenticated:
        return []
    actor = web_actor()
    items = [("Inbox", "inbox.inbox")]
    with services().rt.factory() as session:
        if startable_definitions(session, actor):
            items.append(("Start", "start.index"))
    items.append(("Instances", "instances.index"))
    if actor.in_any(PROCESS_OWNERS):
        items.append(("Definitions", "definitions.index"))
    items.append(("Mail", "mail.mailbox"))
    blueprint = (request.endpoint or "").split(".")[0]
    blueprint = {"tasks": "inbox"}.get(blueprint, blueprint)  # a task page belongs to the inbox
    return [
        NavItem(label, url_for(endpoint), endpoint.split(".")[0] == blueprint) for label, endpoint in items
    ]


def register(app: Flask) -> None:
    app.jinja_env.globals["nav_items"] = nav_items
