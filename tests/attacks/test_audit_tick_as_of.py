"""Hostile review of the audit trail (issue 14, "An auditor's view", "every change names the person who
made it"): with the real clock, an admin's `POST /api/admin/tick {"now": X}` (or `creditflow tick --now X`)
runs the daily jobs, timers and dunning steps as of X, a date of their choosing, for one tick. Everything
that tick did (cases opened, customers blocked, notices sent) was recorded as done by `system`, and the
admin who asked for the date was named nowhere. The request is now in the trail as `tick_as_of`."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from flask.testing import FlaskClient

from tests.cli.test_cli import Cli, cli, initialized_db  # noqa: F401 (fixtures)
from tests.helpers import auth

pytestmark = pytest.mark.usefixtures("shipped")


def test_a_tick_as_of_another_time_names_the_admin_who_asked(
    client: FlaskClient, demo_tokens: dict[str, str], clock: datetime
) -> None:
    later = clock + timedelta(days=400)
    ran = client.post("/api/admin/tick", json={"now": later.isoformat()}, headers=auth(demo_tokens["admin"]))
    assert ran.status_code == 200, ran.json
    plain = client.post("/api/admin/tick", json={}, headers=auth(demo_tokens["admin"]))
    assert plain.status_code == 200, plain.json  # a tick at the current time is the scheduler's own round
    found = client.get("/api/audit?kind=tick_as_of", headers=auth(demo_tokens["auditor1"])).json
    assert found["total"] == 1, found
    [change] = found["items"]
    assert change["actor"] == "admin"
    assert datetime.fromisoformat(change["after"]["as_of"]) == later


def test_a_command_line_tick_as_of_another_time_names_the_shell_account(
    cli: Cli,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LOGNAME", "ops7")
    cli.run("tick", "--now", "2031-01-01T00:00:00+00:00")
    rows = cli.query(
        "SELECT actor, json_extract(detail, '$.after.as_of') FROM audit_events WHERE action = 'tick_as_of'"
    )
    assert rows == [("cli:ops7", "2031-01-01T00:00:00+00:00")]
