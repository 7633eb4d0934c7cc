"""The definition workbench's version compare page (issue 18): the two diagrams' bpmn-js markers (added,
removed, changed) computed on the server from real shipped versions, the defaults, rights and language."""

from __future__ import annotations

import html
import json
import re
from datetime import datetime
from pathlib import Path

from flask import Flask

from handlers.registry import build_operations
from tests.webui.test_pages import logged_in
from workflows.definitions.deploy import deploy_files, read_files
from workflows.definitions.shipped import shipped_bundles
from workflows.store.db import transaction

ROOT = Path(__file__).resolve().parents[2]
BEFORE_RESCORE = ROOT / "tests" / "fixtures" / "credit_application_before_rescore" / "credit_application.bpmn"


def _deploy_two_versions(app: Flask, now: datetime) -> None:
    """credit_application v1 (before the re-scoring step, a real earlier shipped diagram) and v2 (today's)."""
    [bundle] = [b for b in shipped_bundles() if b[0].name == "credit_application.bpmn"]
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        for paths in ([BEFORE_RESCORE, *bundle[1:]], bundle):
            deploy_files(session, read_files(paths), build_operations(), deployed_by="system", now=now)


def _markers(page: str) -> list[dict[str, list[str]]]:
    return [json.loads(html.unescape(m)) for m in re.findall(r"data-markers='([^']*)'", page)]


def test_the_compare_page_marks_added_removed_and_changed_elements(
    app: Flask, demo_tokens: dict[str, str], clock: datetime
) -> None:
    _deploy_two_versions(app, clock)
    owner = logged_in(app, "owner1")
    show = owner.get("/definitions/credit_application/2").get_data(as_text=True)
    assert "/definitions/credit_application/compare?from=1&amp;to=2" in show  # the link from the version page
    page = owner.get("/definitions/credit_application/compare?from=1&to=2")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    old, new = _markers(text)
    assert old["cf-removed"] == ["to_analyst_decision"]
    assert "rescore_customer" in new["cf-added"] and "rescore_customer" not in old["cf-removed"]
    assert "record_ratings" in old["cf-changed"] and old["cf-changed"] == new["cf-changed"]
    assert "/definitions/credit_application/1/diagram.bpmn" in text
    assert "/definitions/credit_application/2/diagram.bpmn" in text
    assert 'data-element="record_ratings" data-status="changed"' in text
    # Defaults: the newest against the one before; a version that does not exist falls back to them.
    assert _markers(owner.get("/definitions/credit_application/compare").get_data(as_text=True)) == [old, new]
    fallback = owner.get("/definitions/credit_application/compare?from=x&to=99999999999")
    assert _markers(fallback.get_data(as_text=True)) == [old, new]
    same = owner.get("/definitions/credit_application/compare?from=2&to=2").get_data(as_text=True)
    assert _markers(same) == [
        {"cf-removed": [], "cf-changed": [], "cf-frame": []},
        {"cf-added": [], "cf-changed": [], "cf-frame": []},
    ]
    assert "sales_lane" in old["cf-frame"] and "sales_lane" in old["cf-changed"]  # its zh name
    assert owner.get("/definitions/no_such_process/compare").status_code == 404
    # Auditors read it too; other staff do not; visitors log in first.
    assert logged_in(app, "auditor1").get("/definitions/credit_application/compare").status_code == 200
    assert logged_in(app, "sales1").get("/definitions/credit_application/compare").status_code == 403
    assert app.test_client().get("/definitions/credit_application/compare").status_code == 302


def test_the_compare_page_speaks_chinese(app: Flask, demo_tokens: dict[str, str], clock: datetime) -> None:
    _deploy_two_versions(app, clock)
    owner = logged_in(app, "owner1")
    page = owner.get("/definitions/credit_application/compare", headers={"Accept-Language": "zh-CN"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert re.search(r"[\u4e00-\u9fff]", text.split("<h1>", 1)[1])


def test_by_default_the_newest_version_is_compared_with_the_one_just_before(
    app: Flask, demo_tokens: dict[str, str], clock: datetime
) -> None:
    _deploy_two_versions(app, clock)
    [bundle] = [b for b in shipped_bundles() if b[0].name == "credit_application.bpmn"]
    files = read_files(bundle)
    files["credit_application.bpmn"] = files["credit_application.bpmn"].replace(
        b'name="Review credit application"', b'name="Review the application"', 1
    )
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        deploy_files(session, files, build_operations(), deployed_by="system", now=clock)
    owner = logged_in(app, "owner1")
    # Versions are listed newest first: the default "from" is v2, not the oldest (v1).
    default = owner.get("/definitions/credit_application/compare").get_data(as_text=True)
    assert "v2 and v3 side by side" in default
    assert _markers(default) == [
        {"cf-removed": [], "cf-changed": ["review_application"], "cf-frame": []},
        {"cf-added": [], "cf-changed": ["review_application"], "cf-frame": []},
    ]
    to_two = owner.get("/definitions/credit_application/compare?to=2").get_data(as_text=True)
    assert "v1 and v2 side by side" in to_two
