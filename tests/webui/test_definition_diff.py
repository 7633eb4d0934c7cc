"""A policy change is a diff, for any two deployed versions (issue 18): GET /api/process-definitions/KEY/diff
and the definition page's "Policy changes" section, for process owners and auditors."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from handlers.registry import build_operations
from tests.helpers import auth
from tests.webui.test_pages import logged_in
from workflows.definitions.deploy import deploy_files, read_files
from workflows.definitions.shipped import shipped_bundles
from workflows.store.db import transaction

pytestmark = pytest.mark.usefixtures("shipped")

OLD_CELL = '<inputEntry id="above_hundred_thousand_in2"><text>&gt; 100000</text>'
NEW_CELL = '<inputEntry id="above_hundred_thousand_in2"><text>&gt; 150000</text>'
RAISED = "rule 4 (above_hundred_thousand): Recommended limit in the base currency > 100000 → > 150000"


def deploy_raised_threshold(app: Flask, clock: datetime) -> None:
    """Version 2 of credit_application: the manager's threshold raised from 100,000 to 150,000."""
    bundle = next(b for b in shipped_bundles() if any(p.name == "credit_application.bpmn" for p in b))
    files = read_files(bundle)
    text = files["approval_authority.dmn"].decode("utf-8")
    assert OLD_CELL in text
    files["approval_authority.dmn"] = text.replace(OLD_CELL, NEW_CELL).encode("utf-8")
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        deploy_files(session, files, build_operations(), deployed_by="owner1", now=clock + timedelta(hours=1))


def diff(client: FlaskClient, token: str, key: str = "credit_application", **query: object) -> object:
    return client.get(f"/api/process-definitions/{key}/diff", query_string=query, headers=auth(token))


def test_the_api_says_what_the_new_version_changed(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime
) -> None:
    deploy_raised_threshold(app, clock)
    answer = diff(client, demo_tokens["owner1"])
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert (body["key"], body["from"], body["to"]) == ("credit_application", 1, 2)
    changed = [d for d in body["decisions"] if d["status"] != "unchanged"]
    assert [(d["decision_id"], [c["text"] for c in d["changes"]]) for d in changed] == [
        ("approval_authority", [RAISED])
    ]
    [change] = changed[0]["changes"]
    assert (change["kind"], change["rule"], change["old"], change["new"]) == (
        "rule_changed",
        "above_hundred_thousand",
        "> 100000",
        "> 150000",
    )
    unchanged = {d["decision_id"] for d in body["decisions"] if d["status"] == "unchanged"}
    assert {"credit_scorecard", "limit_policy", "scorecard_weights"} <= unchanged
    assert body["files"] == {"added": [], "removed": [], "changed": ["approval_authority.dmn"]}

    back = diff(client, demo_tokens["auditor1"], **{"from": 2, "to": 1}).json
    assert [c["text"] for d in back["decisions"] for c in d["changes"]] == [
        "rule 4 (above_hundred_thousand): Recommended limit in the base currency > 150000 → > 100000"
    ]
    same = diff(client, demo_tokens["owner1"], **{"from": 1, "to": 1}).json
    assert all(d["status"] == "unchanged" for d in same["decisions"]) and same["files"]["changed"] == []
    # Only `to` given: compared with the version before it.
    assert (diff(client, demo_tokens["owner1"], to=2).json["from"]) == 1
    assert (diff(client, demo_tokens["owner1"], to=1).json["from"]) == 1


def test_the_definition_page_shows_the_diff_of_any_two_versions(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime
) -> None:
    deploy_raised_threshold(app, clock)
    browser = logged_in(app, "owner1")
    page = browser.get("/definitions/credit_application/2").get_data(as_text=True)
    section = page[
        page.index('id="policy-changes"') : page.index("</section>", page.index('id="policy-changes"'))
    ]
    assert "Policy changes: v1 → v2" in section
    assert 'data-decision="approval_authority"' in section
    assert "Recommended limit in the base currency &gt; 100000 → &gt; 150000" in section
    assert "Files changed: approval_authority.dmn." in section
    first = browser.get("/definitions/credit_application/1").get_data(as_text=True)
    assert "Choose two different versions" in first
    picked = browser.get("/definitions/credit_application/1?from=2&to=1").get_data(as_text=True)
    assert "Policy changes: v2 → v1" in picked and "&gt; 150000 → &gt; 100000" in picked
    # Versions that are not deployed, or not numbers, fall back to the defaults.
    for query in ("from=99&to=2", "from=%C2%B2&to=2", "from=" + "9" * 40 + "&to=2", "from=-1&to=2"):
        other = browser.get(f"/definitions/credit_application/2?{query}")
        assert other.status_code == 200, query
        assert "Policy changes: v1 → v2" in other.get_data(as_text=True), query
    assert (
        browser.get("/definitions/credit_application/2?from=%00").status_code == 400
    )  # NUL: refused as anywhere
    assert logged_in(app, "auditor1").get("/definitions/credit_application/2").status_code == 200
    assert logged_in(app, "sales1").get("/definitions/credit_application/2").status_code == 403
