"""Flask application factory: web UI, REST API and the services they share."""

from __future__ import annotations

import secrets
from pathlib import Path

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from handlers.registry import build_operations
from webui.json_provider import OrjsonProvider
from webui.responses import ShownResponse
from webui.services import Services
from workflows.clock import Clock, utcnow
from workflows.engine.runner import Runtime
from workflows.settings import Settings, load_settings
from workflows.store.db import make_engine


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    sink_port: int | None = None,
) -> Flask:
    """Build the app; nothing starts in the background here (`creditflow serve` adds scheduler and sink).

    `clock` replaces the configured one ([clock] mode: the wall clock or the stored simulated clock).
    """
    settings = settings or load_settings()
    app = Flask(__name__)
    app.json = OrjsonProvider(app)  # the same JSON as Flask's encoder, encoded faster
    app.response_class = ShownResponse  # a page showing a stored lone surrogate: U+FFFD, not a 500
    app.config.update(
        SECRET_KEY=settings.web.secret_key or _secret_key_file(),
        WTF_CSRF_TIME_LIMIT=None,  # a CSRF token ends with its session instead (webui/auth.py clears it)
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
    )
    from webui import cookie_sessions, input_checks, security

    security.register(app, settings.web)  # headers, cookie flags, proxy (README "Security")
    cookie_sessions.register(app)  # the session cookie as Flask writes it, without its per-request work

    input_checks.register(app)  # before any route exists: `<int:...>` is bounded in all of them
    engine = make_engine(settings.database)
    try:
        rt = Runtime(engine, settings, build_operations())
    except Exception:  # a real clock on a database with a simulated one: no pooled connection leaks
        engine.dispose()
        raise
    services = Services(
        rt=rt, engine=engine, clock=clock or rt.clock, sink_port=sink_port, wall=clock or utcnow
    )
    app.extensions["creditflow"] = services

    # Each resource module of the API adds its routes to api.bp when imported (test_api_package.py).
    import webui.api.admin
    import webui.api.audit
    import webui.api.collections
    import webui.api.contracts
    import webui.api.credit_checks
    import webui.api.customers
    import webui.api.definition_checks
    import webui.api.definitions
    import webui.api.disputes
    import webui.api.dunning_cases
    import webui.api.emails
    import webui.api.fx_rates
    import webui.api.health
    import webui.api.instances
    import webui.api.jobs
    import webui.api.kpis
    import webui.api.messages
    import webui.api.openapi
    import webui.api.operations
    import webui.api.orders
    import webui.api.portfolio
    import webui.api.provisions
    import webui.api.receivables
    import webui.api.suppliers
    import webui.api.tasks
    import webui.api.watchlist
    import webui.api.what_if
    import webui.api.write_offs  # noqa: F401
    from webui import (
        api,
        audit,
        auth,
        case_labels,
        collections,
        customer_labels,
        customers,
        dashboard,
        definition_compare,
        definition_new,
        definition_tables,
        definitions,
        diagram_names,
        errors,
        event_details,
        formatting,
        group_labels,
        history_details,
        i18n,
        inbox,
        instances,
        instruction_sentences,
        jobs,
        js_i18n,
        mail,
        navigation,
        pages,
        portfolio,
        provisions,
        start,
        studio_previews,
        suppliers,
        tasks,
        watchlist,
    )

    csrf = CSRFProtect(app)
    csrf.exempt(api.bp)  # the API authenticates with bearer tokens, not cookies: no CSRF
    auth.init_login(app)
    for blueprint in (
        api,
        studio_previews,
        auth,
        i18n,
        pages,
        inbox,
        tasks,
        instances,
        start,
        definitions,
        definition_compare,
        definition_new,
        mail,
        customers,
        collections,
        suppliers,
        jobs,
        audit,
        dashboard,
        provisions,
        portfolio,
        watchlist,
    ):
        app.register_blueprint(blueprint.bp)
    i18n.register(app)  # before formatting: the formats follow the request's locale
    diagram_names.register(app)  # task, lane and process names in the page's language
    definition_tables.register(app)  # decision tables' names, columns and notes in the page's language
    case_labels.register(app)  # case-data keys and our handlers' stored sentences in the page's language
    history_details.register(app)  # the history's detail lines, labelled the same way
    instruction_sentences.register(app)  # a contract change's summary in the case data
    formatting.register(app)
    # Coded words the pages show (groups, a customer's fields, dunning event details).
    group_labels.register(app)
    customer_labels.register(app)
    event_details.register(app)
    js_i18n.register(app)  # the scripts' sentences in the page's language
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
