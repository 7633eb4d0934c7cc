"""A web session ends WEB_SESSION_LIFETIME after its login, on the server. Issue 14 wants a copied cookie to
stop working and CSRF tokens to expire with the session, but a session only ever ended by logging out, and
most people close the browser instead: a cookie copied once (a shared PC, a proxy log, a backup of the
browser profile) opened /inbox a month later, and Flask's own 31-day limit on the cookie's signature does
not help, because any request that changes the session (a flash message, a new CSRF token) signs it anew.
Found by an attack on the login."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from tests.conftest import SteppingClock
from tests.webui.test_pages import csrf_token, logged_in, login
from workflows.logins import WEB_SESSION_LIFETIME
from workflows.store.login_tables import WebSession


def test_a_copied_cookie_stops_working_when_the_session_reaches_its_lifetime(
    app: Flask, demo_tokens: dict[str, str], app_clock: SteppingClock
) -> None:
    browser = logged_in(app, "analyst1")
    cookie = browser.get_cookie("session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    app_clock.advance(seconds=WEB_SESSION_LIFETIME.total_seconds() - 60)
    assert thief.get("/inbox").status_code == 200  # still within the lifetime
    app_clock.advance(seconds=61)
    assert thief.get("/inbox").status_code == 302  # to /login
    assert browser.get("/inbox").status_code == 302
    old_token = csrf_token(browser)
    assert login(browser, "analyst1").status_code == 302  # a new login starts a new session
    assert browser.get("/inbox").status_code == 200
    assert browser.post("/logout", data={"csrf_token": old_token}).status_code == 400


def test_ended_sessions_are_pruned_when_someone_logs_in(
    app: Flask, demo_tokens: dict[str, str], app_clock: SteppingClock
) -> None:
    logged_in(app, "analyst1")  # never logs out: the browser was closed
    app_clock.advance(seconds=WEB_SESSION_LIFETIME.total_seconds() + 1)
    logged_in(app, "sales1")
    with app.extensions["creditflow"].rt.factory() as session:
        assert len(session.scalars(select(WebSession)).all()) == 1
