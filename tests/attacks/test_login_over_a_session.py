"""Logging in on a browser that still holds a session ends that session on the server. On a shared desk the
next person logs in without the previous one having logged out; the previous session's row stayed, so a
copy of its cookie (taken before) still opened the first user's inbox until it expired. Found by an attack
on the login."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from tests.webui.test_pages import logged_in, login
from workflows.store.login_tables import WebSession


def test_a_login_on_the_same_browser_ends_the_session_it_replaces(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    desk = logged_in(app, "analyst1")
    cookie = desk.get_cookie("session")
    assert cookie is not None
    copy = app.test_client()
    copy.set_cookie("session", cookie.value)
    assert copy.get("/inbox").status_code == 200

    assert login(desk, "sales1").status_code == 302  # the next person, without a logout in between
    assert copy.get("/inbox").status_code == 302  # to /login
    assert "sales1" in desk.get("/inbox").get_data(as_text=True)
    with app.extensions["creditflow"].rt.factory() as session:
        assert len(session.scalars(select(WebSession)).all()) == 1


def test_a_failed_login_leaves_the_session_alone(app: Flask, demo_tokens: dict[str, str]) -> None:
    desk = logged_in(app, "analyst1")
    assert login(desk, "sales1", "wrong").status_code == 401
    assert desk.get("/inbox").status_code == 200
