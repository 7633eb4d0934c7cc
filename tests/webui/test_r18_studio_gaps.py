"""Review R18 of issue 18 (tenth session): three behaviours the issue asks for that HEAD e028288 did not have,
pinned first as strict xfails; fixed since (the lead), so they are plain tests now.

1. "Every property is validated as you type with the deploy checks" / "Cells are checked by the same DMN
   checker as deploy, on change": the edit page's as-you-type route (POST /definitions/KEY/V/validate, which
   modeler.js and dmn_editor.js call on every change) runs validate_files only, while deploy (and
   POST /api/definitions/validate, through check_files) also runs the policy-table checks (dunning ladder,
   provision matrix, charges, priority, cap, exposure, watchlist). A ladder that starts before the due date is
   refused by deploy but passes the as-you-type check. Fix: call check_files in webui/definitions.validate.
2. "The same diff is shown for any two versions, from the definition page": the page's default 'from' is the
   version just before 'to' (as GET /api/process-definitions/KEY/diff and the compare page say), but
   webui/definitions.show takes earlier[-1] of versions_of (newest first), i.e. the OLDEST version: v3's page
   shows v1 -> v3. Fix: max(earlier), as c46b4b8 did in definition_compare.py.
3. "dunning ladder: how many notices would have gone earlier or later": workflows/what_if/summaries._ladder
   compares level_1_days only, so the issue's own example ("grade C ladder: L2 +14 -> +10 days") replays as
   "0 notices earlier, 0 later" although every grade C case's level-2 notice goes 4 days earlier. Fix: count
   each level_N_days that moves (notices earlier/later per level), keep first_notice_days_change on level 1.
"""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from handlers.registry import build_operations
from tests.helpers import auth
from tests.webui.test_pages import csrf_token, logged_in
from tests.workflows.test_what_if import log_rows, period, what_if
from workflows.definitions.deploy import deploy_files, read_files
from workflows.definitions.shipped import shipped_bundles
from workflows.engine.decisions import evaluate_decision
from workflows.store.db import transaction
from workflows.store.jsonable import to_jsonable

pytestmark = pytest.mark.usefixtures("shipped")

LADDER = "dunning_policy.dmn"
REFUSED = "grade 'C': level days [-5, 14, 25, 45]"  # level 1 five days before the due date


def _dunning_files() -> dict[str, bytes]:
    [bundle] = [b for b in shipped_bundles() if b[0].name == "dunning.bpmn"]
    return read_files(bundle)


def _early_ladder(text: str) -> str:
    entry = re.compile(r'(<outputEntry id="ladder_c_out1"><text>)[^<]*(</text>)')
    assert entry.search(text), "the shipped ladder's grade C level-1 cell moved"
    return entry.sub(r"\g<1>-5\g<2>", text)


def _owner(app: Flask) -> tuple[FlaskClient, dict[str, str]]:
    browser = logged_in(app, "owner1")
    return browser, {"X-CSRFToken": csrf_token(browser, "/definitions")}


def _dunning_version(client: FlaskClient, token: str) -> int:
    listed = client.get("/api/process-definitions", headers=auth(token)).json
    items = listed["items"] if isinstance(listed, dict) else listed
    return max(int(d["version"]) for d in items if d["key"] == "dunning")


def test_deploy_and_the_api_refuse_a_ladder_that_starts_before_the_due_date(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    """What does hold: the studio's deploy and POST /api/definitions/validate both refuse it."""
    version = _dunning_version(client, demo_tokens["owner1"])
    files = _dunning_files()
    edited = _early_ladder(files[LADDER].decode())
    checked = client.post(
        "/api/definitions/validate",
        data={"files": [(io.BytesIO(edited.encode()), LADDER)], "definition_key": "dunning"},
        headers=auth(demo_tokens["owner1"]),
        content_type="multipart/form-data",
    )
    assert checked.status_code == 200, checked.json
    assert checked.json["ok"] is False and any(REFUSED in p["message"] for p in checked.json["problems"])

    browser, headers = _owner(app)
    xml = browser.get(f"/definitions/dunning/{version}/diagram.bpmn").get_data(as_text=True)
    deployed = browser.post(
        f"/definitions/dunning/{version}/deploy",
        json={"xml": xml, "files": {LADDER: edited}},
        headers=headers,
    )
    assert deployed.status_code == 422, deployed.json
    assert any(REFUSED in p["message"] for p in deployed.json["problems"])


def test_the_as_you_type_check_refuses_what_deploy_refuses(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    version = _dunning_version(client, demo_tokens["owner1"])
    edited = _early_ladder(_dunning_files()[LADDER].decode())
    browser, headers = _owner(app)
    xml = browser.get(f"/definitions/dunning/{version}/diagram.bpmn").get_data(as_text=True)
    answer = browser.post(
        f"/definitions/dunning/{version}/validate",
        json={"xml": xml, "files": {LADDER: edited}},
        headers=headers,
    )
    assert answer.status_code == 200, answer.json
    # The page's check must say what deploy will say, while the owner is still typing in the cell.
    assert answer.json["ok"] is False, "the as-you-type check passed a ladder that deploy refuses"
    assert any(REFUSED in p["message"] for p in answer.json["problems"])


def _deploy_versions(app: Flask, clock: datetime, thresholds: list[str]) -> None:
    """Versions 2.. of credit_application, each with the manager's threshold (approval_authority.dmn rule 4)
    at the next value of `thresholds`."""
    bundle = next(b for b in shipped_bundles() if any(p.name == "credit_application.bpmn" for p in b))
    files = read_files(bundle)
    text = files["approval_authority.dmn"].decode("utf-8")
    old = '<inputEntry id="above_hundred_thousand_in2"><text>&gt; 100000</text>'
    assert old in text
    for i, value in enumerate(thresholds, start=1):
        new = f'<inputEntry id="above_hundred_thousand_in2"><text>&gt; {value}</text>'
        changed = {**files, "approval_authority.dmn": text.replace(old, new).encode("utf-8")}
        with transaction(app.extensions["creditflow"].rt.factory) as session:
            deploy_files(
                session, changed, build_operations(), deployed_by="system", now=clock + timedelta(hours=i)
            )


def test_the_api_diff_defaults_to_the_version_just_before(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime
) -> None:
    """What does hold: GET /api/process-definitions/KEY/diff?to=3 compares v2 with v3."""
    _deploy_versions(app, clock, ["150000", "200000"])
    body = client.get(
        "/api/process-definitions/credit_application/diff",
        query_string={"to": 3},
        headers=auth(demo_tokens["owner1"]),
    ).json
    assert (body["from"], body["to"]) == (2, 3)


def test_the_definition_page_defaults_to_the_version_just_before(
    app: Flask, demo_tokens: dict[str, str], clock: datetime
) -> None:
    _deploy_versions(app, clock, ["150000", "200000"])
    page = logged_in(app, "owner1").get("/definitions/credit_application/3").get_data(as_text=True)
    assert "Policy changes: v2 → v3" in page  # HEAD shows v1 → v3 (the oldest version)
    assert "&gt; 150000 → &gt; 200000" in page


def test_a_level_2_change_of_the_ladder_counts_its_notices_earlier(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime
) -> None:
    ladder = _dunning_files()[LADDER].decode()
    grades = ["C", "C", "C", "A", "D"]  # three grade C cases, two others the edit does not touch
    rows = [
        (
            {'standing["grade"]': g},
            to_jsonable(evaluate_decision(ladder, "dunning_policy", {"standing": {"grade": g}})),
        )
        for g in grades
    ]
    log_rows(app, "dunning", "dunning_policy", rows, clock)
    old = '<outputEntry id="ladder_c_out2"><text>14</text>'
    assert old in ladder
    edited = ladder.replace(old, '<outputEntry id="ladder_c_out2"><text>10</text>')  # L2 +14 -> +10 days
    answer = what_if(
        client, demo_tokens["owner1"], {LADDER: edited}, definition_key="dunning", **period(clock)
    )
    assert answer.status_code == 200, answer.json
    [table] = answer.json["summary"]["tables"]
    assert table["outputs"] == {"level_2_days": {"14 → 10": 3}}  # holds: the generic count sees it
    assert table["first_notice_days_change"] == "0"  # holds: the first notice does not move
    # The three grade C cases' level-2 notices go out 4 days earlier: a what-if must say so.
    assert (table["notices_earlier"], table["notices_later"]) == (3, 0)
