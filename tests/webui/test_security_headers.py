"""Security headers on every response, the session cookie's flags and their switches, and templates that
need no inline script or style (the browser side is tests/e2e/test_csp.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import SteppingClock
from tests.webui.test_login_security import login_from
from tests.webui.test_pages import csrf_token, logged_in
from webui import create_app
from webui.security import for_workers
from workflows.settings import Settings, SettingsError

TEMPLATES = Path(__file__).resolve().parents[2] / "webui" / "templates"
EXPECTED = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def assert_secured(headers: dict[str, str] | object, where: str) -> None:
    got = {name: headers.get(name) for name in EXPECTED}  # type: ignore[attr-defined]
    assert got == EXPECTED, where
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in headers.get("Content-Security-Policy", "").split(";")  # type: ignore[attr-defined]
    )
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'", where
    assert policy["default-src"] == "'self'" and policy["frame-ancestors"] == "'none'", where


def test_every_kind_of_response_sends_the_security_headers(app: Flask, demo_tokens: dict[str, str]) -> None:
    anonymous = app.test_client()
    analyst = logged_in(app, "analyst1")
    responses = {
        "login page": anonymous.get("/login"),
        "redirect to login": anonymous.get("/inbox"),
        "inbox": analyst.get("/inbox"),
        "404 page": analyst.get("/no/such/page"),
        "static file": anonymous.get("/static/app.css"),
        "API JSON": anonymous.get("/api/health"),
        "API 401": anonymous.get("/api/tasks"),
        "API docs": anonymous.get("/api/docs"),
        "CSRF refusal": analyst.post("/logout"),
    }
    for where, response in responses.items():
        assert_secured(response.headers, where)
        response.close()
    assert responses["inbox"].status_code == 200 and responses["CSRF refusal"].status_code == 400


def test_the_session_cookie_is_httponly_and_lax_and_not_secure_on_plain_serve(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    response = client.post(
        "/login", data={"username": "analyst1", "password": "demo", "csrf_token": csrf_token(client)}
    )
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_secure_cookie_switch_marks_the_cookie_secure(settings: Settings, app_clock: SteppingClock) -> None:
    app = create_app(settings.replace("web", secure_cookie="true"), clock=app_clock)
    try:
        response = app.test_client().get("/login", base_url="https://localhost")  # the form's CSRF token
        cookie = response.headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    finally:
        app.extensions["creditflow"].engine.dispose()


def test_serve_workers_turns_auto_switches_on_and_keeps_explicit_ones(settings: Settings) -> None:
    assert (settings.web.secure_cookie, settings.web.behind_proxy) == ("auto", "auto")  # config/default.toml
    assert for_workers(settings.web) == {"secure_cookie": "true", "behind_proxy": "true"}
    chosen = settings.replace("web", secure_cookie="false", behind_proxy="false")
    assert for_workers(chosen.web) == {}


def test_a_bad_switch_value_fails_at_startup_naming_the_key(settings: Settings) -> None:
    with pytest.raises(SettingsError, match=r"\[web\] secure_cookie must be"):
        create_app(settings.replace("web", secure_cookie="yes please"))


def test_behind_a_proxy_the_throttle_counts_the_forwarded_client_address(
    settings: Settings, app_clock: SteppingClock, demo_tokens: dict[str, str]
) -> None:
    app = create_app(settings.replace("web", behind_proxy="true"), clock=app_clock)
    try:
        browser = app.test_client()
        browser.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.5"
        for n in range(20):
            assert login_from(browser, f"guess{n % 4}-{n}", "wrong", "10.0.0.1") == 401
        assert login_from(browser, "analyst1", "demo", "10.0.0.1") == 429
        other = app.test_client()  # another client behind the same proxy
        other.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.6"
        assert login_from(other, "analyst1", "demo", "10.0.0.1") == 302
    finally:
        app.extensions["creditflow"].engine.dispose()


# Inline code the policy would block: <script> without src, <style>, style="...", on*= handlers, hx-on.
# A `<script type="application/json">` data block (base.html's JS translations) is data, never run: the
# browser does not execute it and the CSP's script-src does not apply; `tojson` escapes `<` (no `</script>`).
INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)(?![^>]*\btype=\"application/json\")[^>]*>"
    r"|<style\b|\sstyle\s*=|\son[a-z]+\s*=|\shx-on[:-]|javascript:",
    re.I,
)


def without_comments(template: str) -> str:
    """The template with its {# comments #} blanked, lines kept (so numbers still match)."""
    return re.sub(r"\{#.*?#\}", lambda m: "\n" * m.group().count("\n"), template, flags=re.S)


def test_templates_have_no_inline_script_or_style() -> None:
    found = [
        f"{path.relative_to(TEMPLATES)}:{number}: {line.strip()}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for number, line in enumerate(without_comments(path.read_text()).splitlines(), 1)
        if INLINE.search(line)
    ]
    assert found == [], "move these to webui/static (the CSP allows no inline code):\n" + "\n".join(found)
