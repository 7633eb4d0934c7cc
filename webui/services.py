"""What every view reaches for: the services of the current app, and the page number of a list.

Views import these from here, never from the `webui` package itself, so that the app factory in
webui/__init__.py imports the views and nothing imports it back (no import circle).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app, request
from sqlalchemy import Engine

from webui.token_cache import TokenCache
from workflows.clock import utcnow
from workflows.engine.runner import Runtime
from workflows.mail.smtp import Mailer, mailer_for


@dataclass
class Services:
    """What views need, created once per app (see STYLE.md: passed in, never imported globals)."""

    rt: Runtime
    engine: Engine
    clock: Callable[[], datetime]
    sink_port: int | None = None
    # The wall clock, for what must follow real time even when `clock` is simulated and standing still:
    # the login throttle's window and web sessions. Tests that hand in a clock get it here too.
    wall: Callable[[], datetime] = field(default=utcnow)
    # Replaced by `serve` with the scheduler's nudge, so mail and timers a request created go out promptly.
    nudge: Callable[[], None] = field(default=lambda: None)
    tokens: TokenCache = field(init=False)  # the actors behind API tokens, for a few seconds

    def __post_init__(self) -> None:
        self.tokens = TokenCache(self.engine)

    def mailer(self) -> Mailer | None:
        """The outbox dispatcher's mailer: the relay, the built-in sink, or None when neither runs."""
        if self.rt.settings.mail.smtp_host or self.sink_port:
            return mailer_for(self.rt.settings.mail, self.sink_port, clock=self.rt.clock)
        return None


def services() -> Services:
    """The services of the current app."""
    found: Services = current_app.extensions["creditflow"]
    return found


MAX_PAGE = 2**31 - 1  # so that (page - 1) * per_page stays far inside BIGINT for an OFFSET


def page_arg(name: str = "page") -> int:
    """A page number from the query string; anything but an integer from 1 to MAX_PAGE means page 1."""
    value = request.args.get(name, "1")
    # ASCII digits only: "²".isdigit() is true, and int("²") raises.
    if not (value.isascii() and value.isdigit() and len(value) <= 10):
        return 1
    return int(value) if 1 <= int(value) <= MAX_PAGE else 1
