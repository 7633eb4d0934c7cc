"""Logins (issue 14): failed tries are throttled per name and per address with 429 and Retry-After, an unknown
name costs as much time as a wrong password, and logging out ends the session on the server, so a copied
cookie and the old CSRF token stop working."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import SteppingClock
from tests.webui.test_pages import csrf_token, logged_in, login
from workflows.logins import LOGIN_WINDOW, MAX_FAILURES_PER_NAME, begin_login_try
from workflows.store.login_tables import LoginAttempt
from workflows.users import check_password

LOCKED = "Too many failed logins"


def login_from(client: FlaskClient, username: str, password: str, address: str) -> int:
    """POST /login as a browser at `address` would; returns the status."""
    token = csrf_token(client)
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": address},
    )
    return response.status_code


# --- must-show 4: the throttle ---------------------------------------------------------------------------


def test_thirty_wrong_passwords_get_429_from_the_sixth_and_the_right_one_waits_for_the_window(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], app_clock: SteppingClock
) -> None:
    statuses = []
    for _ in range(30):
        response = login(client, "analyst1", "wrong")
        statuses.append(response.status_code)
        app_clock.advance(seconds=1)
    assert statuses == [401] * 5 + [429] * 25
    assert LOCKED in response.get_data(as_text=True)
    # The lock lifts when the first failure leaves the 15-minute window: 900 s after it, 30 s from now.
    assert response.headers["Retry-After"] == str(int(LOGIN_WINDOW.total_seconds()) - 30 + 1)

    refused = login(client, "analyst1", "demo")
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert client.get("/inbox").status_code == 302  # the right password did not log in

    app_clock.advance(seconds=int(refused.headers["Retry-After"]))
    assert login(client, "analyst1", "demo").status_code == 302
    assert client.get("/inbox").status_code == 200


def test_a_lock_on_one_name_leaves_other_names_alone_and_success_clears_the_count(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    browser = app.test_client()
    for _ in range(4):
        assert login_from(browser, "analyst1", "wrong", "10.0.0.1") == 401
    assert login_from(browser, "analyst1", "demo", "10.0.0.1") == 302  # the fifth try, right: clears
    other = app.test_client()
    for _ in range(5):
        assert login_from(other, "analyst1", "wrong", "10.0.0.2") == 401
    assert login_from(other, "analyst1", "demo", "10.0.0.2") == 429
    assert login_from(other, "sales1", "demo", "10.0.0.2") == 302  # another name from the same address


def test_twenty_failures_from_one_address_lock_every_name_from_it(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    browser = app.test_client()
    for n in range(20):  # four names, never five failures for one of them
        assert login_from(browser, f"guess{n % 4}-{n}", "wrong", "10.0.0.9") == 401
    assert login_from(browser, "analyst1", "demo", "10.0.0.9") == 429
    assert login_from(app.test_client(), "analyst1", "demo", "10.0.0.10") == 302  # another address


def test_refused_tries_leave_no_rows_and_old_failures_are_pruned(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], app_clock: SteppingClock
) -> None:
    factory: sessionmaker[Session] = app.extensions["creditflow"].rt.factory
    for _ in range(8):
        login(client, "analyst1", "wrong")
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(LoginAttempt)) == 5
    app_clock.advance(seconds=int(LOGIN_WINDOW.total_seconds()) + 1)
    login(client, "nobody", "wrong")
    with factory() as session:
        assert session.scalars(select(LoginAttempt.username)).all() == ["nobody"]


def test_racing_tries_on_one_name_get_at_most_five_password_checks(
    session_factory: sessionmaker[Session], clock: datetime
) -> None:
    """Tries from several workers at once: each is committed before it counts, so none slips past."""
    start = threading.Barrier(12)
    results: list[int] = []

    def one_try() -> None:
        start.wait()
        results.append(begin_login_try(session_factory, "analyst1", "10.0.0.7", clock).refused_for_s)

    threads = [threading.Thread(target=one_try) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 12 and sum(1 for wait in results if wait == 0) <= MAX_FAILURES_PER_NAME


# --- timing ------------------------------------------------------------------------------------------


def fastest(check: Callable[[], object], rounds: int = 5) -> float:
    """The fastest of a few runs: other work on a busy machine only ever adds time."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        check()
        best = min(best, time.perf_counter() - start)
    return best


def test_an_unknown_user_name_takes_as_long_as_a_wrong_password(
    session_factory: sessionmaker[Session], demo_tokens: dict[str, str]
) -> None:
    with session_factory() as session:
        assert check_password(session, "nosuchuser", "demo") is None
        wrong_password = fastest(lambda: check_password(session, "analyst1", "wrong"))
        unknown_name = fastest(lambda: check_password(session, "nosuchuser", "wrong"))
    # Both hash one password (scrypt, tens of ms); without the dummy hash the unknown name took ~1 ms.
    assert unknown_name > 0.5 * wrong_password, (unknown_name, wrong_password)


# --- logout ends the session -----------------------------------------------------------------------------


def test_a_copied_session_cookie_stops_working_after_logout(app: Flask, demo_tokens: dict[str, str]) -> None:
    browser = logged_in(app, "analyst1")
    cookie = browser.get_cookie("session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    assert thief.get("/inbox").status_code == 200  # a copied cookie works while the session lives ...

    assert browser.post("/logout", data={"csrf_token": csrf_token(browser, "/inbox")}).status_code == 302
    assert thief.get("/inbox").status_code == 302  # ... and not after its owner logged out
    assert thief.get("/inbox").headers["Location"].startswith("/login")


def test_a_csrf_token_ends_with_its_session(app: Flask, demo_tokens: dict[str, str]) -> None:
    browser = logged_in(app, "analyst1")
    old_token = csrf_token(browser, "/inbox")
    assert browser.post("/logout", data={"csrf_token": old_token}).status_code == 302
    assert login(browser, "analyst1").status_code == 302
    refused = browser.post("/logout", data={"csrf_token": old_token})
    assert refused.status_code == 400  # the token of the ended session
    assert browser.get("/inbox").status_code == 200  # still logged in: the forged logout did nothing


def test_logging_in_starts_a_new_session_and_other_sessions_of_the_user_go_on(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    desk, laptop = logged_in(app, "analyst1"), logged_in(app, "analyst1")
    assert desk.post("/logout", data={"csrf_token": csrf_token(desk, "/inbox")}).status_code == 302
    assert laptop.get("/inbox").status_code == 200
