"""Whether a user name exists does not show in the login's answers (these held; kept as guards): an existing
name, an unknown one and a deactivated one get the same statuses, the same page and the same lock, and a
deactivated user's check costs a password hash like the others."""

from __future__ import annotations

import re

from flask import Flask
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from tests.webui.test_login_security import fastest, login_from
from tests.webui.test_pages import csrf_token
from workflows.store.db import transaction
from workflows.store.models import User
from workflows.users import check_password

RETRY_AFTERS: list[int] = []
CSRF_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{20,}")


def answers(app: Flask, username: str, address: str) -> list[tuple[int, str, bool]]:
    """Status, page (with the name blanked) and whether a Retry-After came, for six wrong tries and then the
    right one; the Retry-After values go to RETRY_AFTERS (they count down between the runs compared)."""
    browser = app.test_client()
    seen = []
    for password in ["wrong"] * 6 + ["demo"]:
        response = browser.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": csrf_token(browser)},
            environ_base={"REMOTE_ADDR": address},
        )
        page = response.get_data(as_text=True).replace(username, "NAME")
        # Any CSRF token blanked: a token is signed with the second it was made, so the one a fresh GET
        # returns differs from the page's when a second passes in between.
        page = CSRF_TOKEN.sub("TOKEN", page)
        retry_after = response.headers.get("Retry-After")
        if retry_after is not None:
            RETRY_AFTERS.append(int(retry_after))
        seen.append((response.status_code, page, retry_after is not None))
    return seen


def test_existing_unknown_and_deactivated_names_get_the_same_answers(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        session.execute(update(User).where(User.username == "sales2").values(active=False))
    RETRY_AFTERS.clear()
    existing = answers(app, "analyst1", "10.0.1.1")
    assert [status for status, _, _ in existing] == [401] * 5 + [429] * 2
    assert answers(app, "nosuchuser", "10.0.1.2") == existing
    assert answers(app, "sales2", "10.0.1.3") == existing
    # The same lock for each: the waits differ only by the seconds the runs took (a loaded machine: a few).
    assert len(RETRY_AFTERS) == 6 and max(RETRY_AFTERS) - min(RETRY_AFTERS) <= 10, RETRY_AFTERS


def test_a_deactivated_user_costs_a_password_hash(
    session_factory: sessionmaker[Session], demo_tokens: dict[str, str]
) -> None:
    with transaction(session_factory) as session:
        session.execute(update(User).where(User.username == "sales2").values(active=False))
    with session_factory() as session:
        assert check_password(session, "sales2", "demo") is None  # the right password, but inactive
        # Interleaved, the fastest of nine each: a busy machine (two pytest-xdist workers, CI's other
        # stages) slows both alike instead of only the five runs of one (it failed once so: 0.066 / 0.141).
        wrong_password = inactive = float("inf")
        for _ in range(9):
            wrong_password = min(wrong_password, fastest(lambda: check_password(session, "analyst1", "x"), 1))
            inactive = min(inactive, fastest(lambda: check_password(session, "sales2", "demo"), 1))
    assert inactive > 0.5 * wrong_password, (inactive, wrong_password)


def test_an_address_lock_reads_the_same_for_every_name(app: Flask, demo_tokens: dict[str, str]) -> None:
    browser = app.test_client()
    for n in range(20):
        assert login_from(browser, f"guess{n % 4}-{n}", "wrong", "10.0.1.9") == 401
    assert login_from(browser, "analyst1", "demo", "10.0.1.9") == 429
    assert login_from(browser, "nosuchuser", "demo", "10.0.1.9") == 429
