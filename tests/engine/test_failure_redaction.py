"""A password quoted in a failing step's exception text is never stored (workflows/redaction.py).

An incident's message and traceback are shown to administrators and the instance_failed event is in the
audit trail auditors export: a driver error quoting `postgresql://user:password@host` put the password in
all of them (A28's finding, F1 hid the text from non-admins; this keeps it out of the records entirely).
"""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.attacks.test_session14_refusal_attack import OPERATIONS, PROCESS_KEY, bundle
from workflows.definitions.deploy import deploy_files
from workflows.redaction import redacted
from workflows.store.db import transaction
from workflows.store.models import AuditEvent, Incident

PASSWORD = (
    "hunter2"  # the attack module's handler raises with postgresql://creditflow:hunter2@db.internal/prod
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "failed: postgresql+psycopg://app:s3cr%40t@db:5432/credit (x)",
            "failed: postgresql+psycopg://app:***@db:5432/credit (x)",
        ),
        ("smtp://mail:p@ss@relay:25 next", "smtp://mail:***@relay:25 next"),
        ("a://u:p@h b://v:q@i", "a://u:***@h b://v:***@i"),
        ("host=db user=app password=hunter2 dbname=x", "host=db user=app password=*** dbname=x"),
        ("PWD='a b'; server=x", "PWD=***; server=x"),
        ('Password = "q w" rest', "Password = *** rest"),
        # Nothing to mask: a URL without a password, a path with a colon, words that contain "pass".
        ("https://user@host/path http://h:80/x", "https://user@host/path http://h:80/x"),
        ("http://example.com/a:b@c compass=north passed", "http://example.com/a:b@c compass=north passed"),
    ],
)
def test_redacted_masks_the_passwords_a_text_quotes_and_keeps_the_rest(text: str, expected: str) -> None:
    assert redacted(text) == expected


@pytest.mark.parametrize(
    "hostile",
    ["a" * 1_000_000 + "://", "a://b:" * 100_000, "password='" * 100_000, "x://u:" + "p" * 1_000_000 + "@h"],
    ids=["long-scheme", "many-urls", "many-open-quotes", "long-password"],
)
def test_redacted_takes_linear_time_on_hostile_texts(hostile: str) -> None:
    began = time.perf_counter()
    redacted(hostile)
    assert time.perf_counter() - began < 5  # bounded repeats: ~1 s at worst here; unbounded ran for minutes


@pytest.fixture
def failing_app(app: Flask, clock: datetime, monkeypatch: pytest.MonkeyPatch) -> Flask:
    monkeypatch.setattr(app.extensions["creditflow"].rt, "operations", OPERATIONS)
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        deploy_files(session, bundle("P", "流程", "s", "s"), OPERATIONS, deployed_by="system", now=clock)
    return app


def test_a_failed_step_stores_no_password_from_its_exception_text(
    failing_app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    response = client.post(
        "/api/process-instances",
        json={"process_key": PROCESS_KEY, "data": {"value": "v", "mode": "internal"}},
        headers={"Authorization": f"Bearer {demo_tokens['buyer1']}"},
    )
    assert response.status_code == 201, response.json
    assert response.json["status"] == "error"
    instance_id = response.json["id"]
    with transaction(failing_app.extensions["creditflow"].rt.factory) as session:
        incident = session.scalars(select(Incident).where(Incident.instance_id == instance_id)).one()
        details = [
            str(e.detail)
            for e in session.scalars(select(AuditEvent).where(AuditEvent.instance_id == instance_id))
        ]
    assert "postgresql://creditflow:***@db.internal/prod" in incident.message
    assert PASSWORD not in incident.message and PASSWORD not in incident.traceback
    assert "RuntimeError" in incident.traceback  # what an administrator needs to find the cause stays
    assert details and not any(PASSWORD in detail for detail in details)
    shown = client.get(
        f"/api/process-instances/{instance_id}", headers={"Authorization": f"Bearer {demo_tokens['admin']}"}
    )
    assert shown.status_code == 200
    assert "creditflow:***@db.internal" in shown.get_data(as_text=True)
    assert PASSWORD not in shown.get_data(as_text=True)
