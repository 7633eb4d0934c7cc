"""Hostile review of the audit trail (issue 14, "An auditor's view"): moving the simulated clock is a state
change (every later payment, due date and dunning step happens at the moved time), yet it wrote nothing
to the trail. An admin could walk the clock a year ahead, let every invoice fall overdue and every review
come due, and the auditor's list of "every state change" showed no trace of who did it or when."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask

from tests.helpers import auth
from webui import create_app
from workflows.settings import Settings

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def simulated(settings: Settings) -> Iterator[Flask]:
    app = create_app(settings.replace("clock", mode="simulated", start=START.isoformat()))
    app.config["TESTING"] = True
    yield app
    app.extensions["creditflow"].engine.dispose()


def test_moving_the_simulated_clock_is_in_the_audit_trail(
    simulated: Flask, demo_tokens: dict[str, str]
) -> None:
    client, admin = simulated.test_client(), auth(demo_tokens["admin"])
    later, latest = START + timedelta(days=30), START + timedelta(days=400)
    assert client.post("/api/admin/clock", json={"now": later.isoformat()}, headers=admin).status_code == 200
    ticked = client.post("/api/admin/tick", json={"now": latest.isoformat()}, headers=admin)
    assert ticked.status_code == 200, ticked.json
    # The same time again changes nothing, so it records nothing.
    assert client.post("/api/admin/clock", json={"now": latest.isoformat()}, headers=admin).status_code == 200

    found = client.get("/api/audit?kind=clock_moved", headers=auth(demo_tokens["auditor1"])).json
    assert found["total"] == 2, found
    newest, first = found["items"]
    assert first["actor"] == "admin" and newest["actor"] == "admin"
    assert datetime.fromisoformat(first["before"]["now"]) == START
    assert datetime.fromisoformat(first["after"]["now"]) == later
    assert datetime.fromisoformat(newest["before"]["now"]) == later
    assert datetime.fromisoformat(newest["after"]["now"]) == latest
