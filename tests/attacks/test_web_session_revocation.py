"""A new password ends the user's web sessions. Issue 14 asks that a copied session cookie stop working;
logout did that, but the usual answer to a stolen cookie or a leaked password is an admin resetting the
password (`creditflow users add NAME --password NEW`), and every session started with the old password
kept working: the thief's copy of the cookie still opened /inbox. Found by an attack on the login."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from tests.webui.test_pages import logged_in, login
from workflows.store.db import transaction
from workflows.store.login_tables import WebSession
from workflows.users import add_user


def test_a_password_reset_ends_every_web_session_of_the_user(app: Flask, demo_tokens: dict[str, str]) -> None:
    svc = app.extensions["creditflow"]
    victim, other = logged_in(app, "analyst1"), logged_in(app, "sales1")
    cookie = victim.get_cookie("session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    assert thief.get("/inbox").status_code == 200

    with transaction(svc.rt.factory) as session:
        add_user(session, "analyst1", groups=[], now=svc.clock(), password="a-new-secret")

    assert thief.get("/inbox").status_code == 302  # to /login
    assert victim.get("/inbox").status_code == 302
    assert other.get("/inbox").status_code == 200  # other users' sessions go on
    assert login(victim, "analyst1", "demo").status_code == 401
    assert login(victim, "analyst1", "a-new-secret").status_code == 302
    assert victim.get("/inbox").status_code == 200


def test_adding_groups_without_a_password_leaves_sessions_alone(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    svc = app.extensions["creditflow"]
    browser = logged_in(app, "analyst1")
    with transaction(svc.rt.factory) as session:
        add_user(session, "analyst1", groups=["auditor"], now=svc.clock())
    assert browser.get("/inbox").status_code == 200
    with svc.rt.factory() as session:
        assert session.scalar(select(func.count()).select_from(WebSession)) == 1
