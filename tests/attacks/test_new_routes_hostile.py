"""Hostile review of POST /api/admin/clock, GET /api/audit, GET /api/audit/sod and the /audit pages
(/audit, /audit.csv, /audit/sod, /audit/sod.csv): the wrong group is refused (403), no token or no session
is refused (401, or a redirect to /login), a crafted clock body is a 400, and a crafted query string is a
4xx or a 200, never a server error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import auth
from tests.webui.test_pages import logged_in
from webui import create_app
from workflows.settings import Settings

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LATER = "2026-04-01T09:00:00+00:00"

API_GETS = ("/api/audit", "/api/audit/sod")
PAGE_GETS = ("/audit", "/audit.csv", "/audit/sod", "/audit/sod.csv")
OUTSIDERS = ("sales1", "collector1")


@pytest.fixture
def simulated(settings: Settings) -> Iterator[Flask]:
    """The app in `[clock] mode = "simulated"`, as tests/webui/test_simulated_clock.py builds it."""
    app = create_app(settings.replace("clock", mode="simulated", start=START.isoformat()))
    app.config["TESTING"] = True
    yield app
    app.extensions["creditflow"].engine.dispose()


def _nested(depth: int) -> Any:
    value: Any = LATER
    for _ in range(depth):
        value = {"now": value}
    return value


# Raw JSON texts: 1e400 is not something json.dumps writes, so every body is sent as text.
CLOCK_BODIES = {
    "typename_object": json.dumps({"now": {"typename": "x"}}),
    "nested_100_deep": json.dumps(_nested(100)),
    "float_overflow_1e400": '{"now": 1e400}',
    "nul_string": json.dumps({"now": "\u0000"}),
    "year_275760": json.dumps({"now": "+275760-09-13T00:00:00Z"}),
    "list_body": json.dumps([{"now": LATER}]),
}

QUERIES = {
    "page_2_pow_63": {"page": str(2**63)},
    "per_page_negative": {"per_page": "-1"},
    "from_9999999999": {"from": "9999999999"},
    "actor_with_nul": {"actor": "manager1\x00' OR 1=1 --"},
    "object_huge_id": {"object": "customer:99999999999999999999"},
    "kind_10000_chars": {"kind": "k" * 10_000},
}


# --- POST /api/admin/clock -------------------------------------------------------------------------


@pytest.mark.parametrize("username", OUTSIDERS)
def test_clock_refuses_the_wrong_group(simulated: Flask, demo_tokens: dict[str, str], username: str) -> None:
    client = simulated.test_client()
    refused = client.post("/api/admin/clock", json={"now": LATER}, headers=auth(demo_tokens[username]))
    assert refused.status_code == 403, refused.json
    assert client.get("/api/health").json["clock"]["now"] == START.isoformat()


def test_clock_refuses_no_token(simulated: Flask, demo_tokens: dict[str, str]) -> None:
    client = simulated.test_client()
    assert client.post("/api/admin/clock", json={"now": LATER}).status_code == 401
    assert client.get("/api/health").json["clock"]["now"] == START.isoformat()


@pytest.mark.parametrize("body", CLOCK_BODIES.values(), ids=CLOCK_BODIES.keys())
def test_a_crafted_clock_body_is_a_400(simulated: Flask, demo_tokens: dict[str, str], body: str) -> None:
    client = simulated.test_client()
    answer = client.post(
        "/api/admin/clock", data=body, content_type="application/json", headers=auth(demo_tokens["admin"])
    )
    assert answer.status_code == 400, (answer.status_code, answer.get_data(as_text=True)[:500])
    assert client.get("/api/health").json["clock"]["now"] == START.isoformat()


# --- GET /api/audit, /api/audit/sod ----------------------------------------------------------------


@pytest.mark.parametrize("path", API_GETS)
@pytest.mark.parametrize("username", OUTSIDERS)
def test_api_audit_refuses_the_wrong_group(
    client: FlaskClient, demo_tokens: dict[str, str], path: str, username: str
) -> None:
    assert client.get(path, headers=auth(demo_tokens[username])).status_code == 403


@pytest.mark.parametrize("path", API_GETS)
def test_api_audit_refuses_no_token(client: FlaskClient, demo_tokens: dict[str, str], path: str) -> None:
    assert client.get(path).status_code == 401


@pytest.mark.parametrize("fmt", ("json", "csv"))
@pytest.mark.parametrize("query", QUERIES.values(), ids=QUERIES.keys())
@pytest.mark.parametrize("path", API_GETS)
def test_api_audit_survives_a_crafted_query(
    client: FlaskClient, demo_tokens: dict[str, str], path: str, query: dict[str, str], fmt: str
) -> None:
    answer = client.get(path, query_string={**query, "format": fmt}, headers=auth(demo_tokens["auditor1"]))
    assert answer.status_code == 200 or 400 <= answer.status_code < 500, (
        answer.status_code,
        answer.get_data(as_text=True)[:500],
    )


# --- GET /audit, /audit.csv, /audit/sod, /audit/sod.csv ----------------------------------------------


@pytest.mark.parametrize("path", PAGE_GETS)
@pytest.mark.parametrize("username", OUTSIDERS)
def test_audit_pages_refuse_the_wrong_group(
    app: Flask, demo_tokens: dict[str, str], path: str, username: str
) -> None:
    assert logged_in(app, username).get(path).status_code == 403


@pytest.mark.parametrize("path", PAGE_GETS)
def test_audit_pages_send_no_session_to_login(
    client: FlaskClient, demo_tokens: dict[str, str], path: str
) -> None:
    answer = client.get(path)
    assert answer.status_code in (302, 303), answer.status_code
    assert "/login" in answer.headers["Location"]


@pytest.mark.parametrize("query", QUERIES.values(), ids=QUERIES.keys())
@pytest.mark.parametrize("path", PAGE_GETS)
def test_audit_pages_survive_a_crafted_query(
    app: Flask, demo_tokens: dict[str, str], path: str, query: dict[str, str]
) -> None:
    answer = logged_in(app, "auditor1").get(path, query_string=query)
    assert answer.status_code == 200 or 400 <= answer.status_code < 500, (
        answer.status_code,
        answer.get_data(as_text=True)[:500],
    )
