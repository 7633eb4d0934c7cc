"""Attacking GET /api/process-definitions/KEY/diff (issue 18): unknown keys and versions are 404, hostile
version parameters a 4xx, and only process owners and auditors (and admins) may compare versions."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import auth

pytestmark = pytest.mark.usefixtures("shipped")


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("from=1&to=1", 200),
        ("from=2&to=1", 404),  # version 2 is not deployed
        ("to=99", 404),
        ("from=2147483647", 404),
        ("from=2147483648", 400),
        ("to=" + "9" * 40, 400),
        ("from=0", 400),
        ("to=-1", 400),
        ("from=1.5", 400),
        ("from=a", 400),
        ("from=%00", 400),
        ("to=1&to=1", 400),
        ("from=1e3", 400),
        ("from=%EF%BC%91", 400),  # a full-width digit one
        ("unknown=1&from=", 200),
    ],
)
def test_hostile_versions(client: FlaskClient, demo_tokens: dict[str, str], query: str, status: int) -> None:
    answer = client.get(
        f"/api/process-definitions/credit_application/diff?{query}", headers=auth(demo_tokens["owner1"])
    )
    assert answer.status_code in ((400, 422) if status == 400 else (status,)), (query, answer.status_code)
    if status == 404:
        assert "version" in answer.json["error"]["message"]


@pytest.mark.parametrize(
    ("key", "status"),
    [
        ("no_such_process", 404),
        ("x" * 5000, 404),
        ("credit_application%00", 400),
        ("%27%20OR%201%3D1", 404),
        ("..%2F..%2Fetc", 404),
    ],
)
def test_unknown_keys(client: FlaskClient, demo_tokens: dict[str, str], key: str, status: int) -> None:
    answer = client.get(f"/api/process-definitions/{key}/diff", headers=auth(demo_tokens["admin"]))
    assert answer.status_code == status, key


def test_only_owners_auditors_and_admins_compare(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    path = "/api/process-definitions/credit_application/diff"
    for user in ("owner1", "auditor1", "admin"):
        assert client.get(path, headers=auth(demo_tokens[user])).status_code == 200, user
    for user in ("sales1", "analyst1", "manager1", "cfo1", "collector1"):
        answer = client.get(path, headers=auth(demo_tokens[user]))
        assert answer.status_code == 403, user
        assert "approval_authority" not in answer.get_data(as_text=True)
    # The unknown key is refused to an outsider before it is looked up: nothing is learnt about keys.
    assert (
        client.get("/api/process-definitions/nope/diff", headers=auth(demo_tokens["sales1"])).status_code
        == 403
    )
    for header in ({}, {"Authorization": "Bearer nonsense"}):
        assert client.get(path, headers=header).status_code == 401
