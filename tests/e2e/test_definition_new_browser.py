"""Issue 18's "also", in Debian chromium: a process owner starts a new process from the template, names it,
edits it in the modeler's properties panel and deploys it as version 1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.e2e.test_browser import (  # noqa: F401 (fixtures)
    chromium,
    live_url,
    log_in,
    page,
)
from tests.e2e.test_studio_browser import entry, select
from tests.helpers import auth
from webui.diagrams import diagram_xml
from workflows.definitions.versions import get_definition

pytestmark = pytest.mark.browser

STUDIO = Path(__file__).resolve().parents[2] / "webui" / "static" / "vendor" / "studio" / "studio.js"


def test_owner_creates_a_process_from_the_template_and_deploys_version_1(
    app: Flask,
    page: Any,  # noqa: F811
    client: FlaskClient,
    demo_tokens: dict[str, str],
    tmp_path: Path,
) -> None:
    if not STUDIO.exists():
        pytest.skip("the studio bundle is not built; run `make setup` (it needs npm)")
    log_in(page, "owner1")
    page.wait_for_url("**/inbox")
    page.goto("/definitions")
    page.locator("a[data-new-process]").click()
    page.fill("#f-key", "Supplier Onboarding")  # not a key: the form says why
    page.fill("#f-name", "Supplier onboarding")
    page.select_option("#f-group", "procurement")
    page.evaluate("() => document.querySelector('#f-key').removeAttribute('pattern')")  # the server's check
    page.locator("form.new-process button[type=submit]").click()
    assert "lower-case letters" in page.locator(".field.has-error .field-error").inner_text()
    page.fill("#f-key", "supplier_onboarding")
    page.locator("form.new-process button[type=submit]").click()
    page.wait_for_selector("[data-bpmn-modeler][data-state=ready]")

    # The template in the modeler: its lane carries the chosen group; the end event is renamed in the panel.
    select(page, "supplier_onboarding_start_lane")
    assert entry(page, "laneGroup", "select").input_value() == "procurement"
    select(page, "supplier_onboarding_done")
    name = page.locator('[data-entry-id="name"] textarea')
    if not name.is_visible():  # the panel opens with its groups closed: open "General"
        page.locator('[data-group-id="group-general"] .bio-properties-panel-group-header').click()
    name.fill("Supplier onboarded")
    page.wait_for_function("() => !!document.querySelector('[data-bpmn-modeler]').dataset.checked")
    assert page.locator(".modeler-status.ok").count() == 1
    page.get_by_role("button", name="Deploy as version 1").click()
    page.get_by_role("link", name="Deployed supplier_onboarding version 1.").click()
    page.wait_for_url("**/definitions/supplier_onboarding/1")
    page.screenshot(path=str(tmp_path / "new-process-deployed.png"))

    owner = auth(demo_tokens["owner1"])
    [deployed] = [
        d
        for d in client.get("/api/process-definitions", headers=owner).json
        if d["key"] == "supplier_onboarding"
    ]
    assert (deployed["version"], deployed["start_groups"], deployed["name"]) == (
        1,
        ["procurement"],
        "Supplier onboarding",
    )
    svc = app.extensions["creditflow"]
    with svc.rt.factory() as session:
        xml = diagram_xml(session, get_definition(session, "supplier_onboarding", 1))
    assert 'name="Supplier onboarded"' in xml  # the panel's edit was deployed
    assert '<bpmn:lane id="supplier_onboarding_start_lane" name="procurement">' in xml
    started = client.post(
        "/api/process-instances",
        json={"process_key": "supplier_onboarding", "data": {}},
        headers=auth(demo_tokens["buyer1"]),
    )
    assert started.status_code == 201 and started.json["status"] == "completed"  # start → end event
