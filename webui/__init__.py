"""Flask application factory: web UI, REST API and the services they share."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from flask import Flask, current_app, request
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import Engine

from handlers.registry import build_operations
from workflows.clock import utcnow
from workflows.engine.runner import Runtime
from workflows.mail.smtp import Mailer, mailer_for
from workflows.settings import Settings, load_settings
from workflows.store.db import make_engine


@dataclass
class Services:
    """What views need, created once per app (see STYLE.md: passed in, never imported globals)."""

    rt: Runtime
    engine: Engine
    clock: Callable[[], datetime]
    sink_port: int | None = None
    # Replaced by `serve` with the scheduler's nudge, so mail and timers a request created go out promptly.
    nudge: Callable[[], None] = field(default=lambda: None)

    def mailer(self) -> Mailer | None:
        """The outbox dispatcher's mailer: the relay, the built-in sink, or None when neither runs."""
        if self.rt.settings.mail.smtp_host or self.sink_port:
            return mailer_for(self.rt.settings.mail, self.sink_port)
        return None


def page_arg(name: str = "page") -> int:
    """A page number from the query string; anything but a positive integer means page 1."""
    value = request.args.get(name, "1")
    return int(value) if value.isdigit() and int(value) > 0 else 1


def services() -> Services:
    """The services of the current app."""
    found: Services = current_app.extensions["creditflow"]
    return found


def create_app(
    settings: Settings | None = None,
    *,
    clock: Callable[[], datetime] = utcnow,
    sink_port: int | None = None,
) -> Flask:
    """Build the app; nothing starts in the background here (`creditflow serve` adds scheduler and sink)."""
    settings = settings or load_settings()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.web.secret_key or _secret_key_file(),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
    )
    engine = make_engine(settings.database)
    rt = Runtime(engine, settings, build_operations())
    app.extensions["creditflow"] = Services(rt=rt, engine=engine, clock=clock, sink_port=sink_port)

    from webui import (
        api,
        auth,
        customers,
        definitions,
        errors,
        formatting,
        inbox,
        instances,
        mail,
        navigation,
        pages,
        start,
        suppliers,
        tasks,
    )

    csrf = CSRFProtect(app)
    csrf.exempt(api.bp)  # the API authenticates with bearer tokens, not cookies: no CSRF
    auth.init_login(app)
    for blueprint in (
        api,
        auth,
        pages,
        inbox,
        tasks,
        instances,
        start,
        definitions,
        mail,
        customers,
        suppliers,
    ):
        app.register_blueprint(blueprint.bp)
    formatting.register(app)
    navigation.register(app)
    errors.register(app)
    return app


def _secret_key_file() -> str:
    # A stable key across restarts keeps users logged in; generated on first start, never committed.
    path = Path("var/secret_key")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
