"""The decision log stores what a deployed diagram names (issue 18, 8228a7c): a DMN decision id is stored in
decision_log.decision_id (120 characters). Deploy checks the lengths of BPMN ids against the columns that
store them (bpmn_checks._check_stored_lengths) but not of the DMN decision a business rule task calls, so a
decision id of 127 characters deployed and then failed every step that ran it on PostgreSQL
(the start answered 400 "A value does not fit"), while SQLite stored it. Deploy now refuses a
calledDecisionId longer than the column, as it refuses other over-long names.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from handlers.registry import build_operations
from tests.bpmn.test_credit_application import SOLID_CUSTOMER, apply, create_customer
from workflows.definitions.deploy import deploy_files, read_files
from workflows.definitions.shipped import shipped_bundles
from workflows.definitions.validation import InvalidBundle
from workflows.store.db import transaction
from workflows.store.decision_log_table import DecisionLogEntry

pytestmark = pytest.mark.usefixtures("shipped")

LONG_ID = "credit_scorecard_" + "x" * 110  # 127 characters, a valid XML id


def test_a_decision_id_longer_than_its_column_is_refused_or_logged_whole(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime
) -> None:
    bundle = next(b for b in shipped_bundles() if any(p.name == "credit_application.bpmn" for p in b))
    files = read_files(bundle)
    dmn = files["credit_scorecard.dmn"].decode()
    assert 'decision id="credit_scorecard"' in dmn
    files["credit_scorecard.dmn"] = dmn.replace(
        'decision id="credit_scorecard"', f'decision id="{LONG_ID}"'
    ).encode()
    bpmn = files["credit_application.bpmn"].decode()
    called = "<spiffworkflow:calledDecisionId>credit_scorecard</spiffworkflow:calledDecisionId>"
    assert called in bpmn
    files["credit_application.bpmn"] = bpmn.replace(
        called, f"<spiffworkflow:calledDecisionId>{LONG_ID}</spiffworkflow:calledDecisionId>"
    ).encode()
    factory = app.extensions["creditflow"].rt.factory
    with pytest.raises(InvalidBundle) as refused, transaction(factory) as session:
        deploy_files(session, files, build_operations(), deployed_by="owner1", now=clock + timedelta(hours=1))
    assert "calledDecisionId names credit_scorecard_x" in str(refused.value)
    assert "(127 characters; at most 120)" in str(refused.value)
    # the shipped version still runs and logs its decisions
    customer = create_customer(client, demo_tokens["sales1"], SOLID_CUSTOMER)
    instance = apply(client, demo_tokens["sales1"], customer["id"], 600_000)
    with factory() as session:
        logged = session.scalars(
            select(DecisionLogEntry.decision_id).where(DecisionLogEntry.instance_id == instance["id"])
        ).all()
    assert "credit_scorecard" in logged
