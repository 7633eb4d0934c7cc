"""Hostile requests to /dashboard and /provisions (issue 17): crafted query strings get a 4xx naming the
parameter, never a 500 nor a silently different page; the wrong group gets 403 and sees no figure."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.webui.test_pages import logged_in

pytestmark = pytest.mark.usefixtures("shipped")


@pytest.fixture
def manager(app: Flask, demo_tokens: dict[str, str]) -> FlaskClient:
    return logged_in(app, "manager1")


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("as_of=garbage", "as_of"),
        ("as_of=%00", None),  # NUL anywhere in a request is refused before the view (input_checks)
        ("as_of=2026-02-30", "as_of"),  # the shape of a day, but no day
        ("as_of=2026-3-1", "as_of"),
        ("as_of=%EF%BC%92026-03-01", "as_of"),  # a fullwidth digit
        ("as_of=2026-03-03", "as_of"),  # after today (the app clock's 2026-03-02)
        ("as_of=9999-12-31", "as_of"),
        ("as_of=" + "9" * 5000, "as_of"),
        ("as_of=1800-01-31", None),  # before the KPI calendar: the KPI module's 4xx
        ("period=week", "period"),
        ("period=MONTH", "period"),
        ("period=%00", None),
        ("period=" + "m" * 3000, "period"),
    ],
)
def test_hostile_dashboard_parameters_are_a_4xx(manager: FlaskClient, query: str, named: str | None) -> None:
    answer = manager.get(f"/dashboard?{query}")
    assert 400 <= answer.status_code < 500, (query, answer.status_code)
    if named:
        assert named in answer.get_data(as_text=True)


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("month=garbage", 400),
        ("month=%00", 400),
        ("month=2026-02-30", 400),
        ("month=2026-02-27", 404),  # a day without a snapshot
        ("from=garbage", 400),
        ("to=2026-13-01", 400),
        ("from=%00", 400),
        ("from=" + "2" * 4000, 400),
        ("from=2026-03-01&to=2025-01-01", 200),  # an empty range is an empty list
        ("page=%00", 400),
        ("page=-1", 200),  # any page number but 1..MAX is page 1 (webui.services.page_arg)
        ("page=99999999999999999999", 200),
        ("page=2147483647", 200),  # far past the last page: an empty page, not an error
    ],
)
def test_hostile_provisions_parameters(
    app: Flask, demo_tokens: dict[str, str], query: str, status: int
) -> None:
    assert logged_in(app, "finance1").get(f"/provisions?{query}").status_code == status


@pytest.mark.parametrize(
    ("user", "path"),
    [
        ("sales1", "/dashboard"),
        ("auditor1", "/dashboard"),
        ("sales1", "/provisions"),
        ("buyer1", "/provisions"),
    ],
)
def test_the_wrong_group_gets_403_and_no_figures(
    app: Flask, demo_tokens: dict[str, str], user: str, path: str
) -> None:
    answer = logged_in(app, user).get(path)
    assert answer.status_code == 403
    body = answer.get_data(as_text=True)
    assert "data-chart" not in body and "data-numbers" not in body


def test_a_repeated_parameter_takes_the_first_and_still_checks_it(manager: FlaskClient) -> None:
    assert manager.get("/dashboard?as_of=garbage&as_of=2026-03-01").status_code == 400
    assert manager.get("/dashboard?as_of=2026-03-01&as_of=garbage").status_code == 200
