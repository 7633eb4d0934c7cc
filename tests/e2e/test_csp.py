"""The pages work under the Content-Security-Policy (webui/security.py) in Debian chromium: the inbox, a task
page with its diagram, the modeler, a start form with htmx, and Swagger UI at /api/docs report no policy
violation and no console error."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.e2e.test_api_docs import SWAGGER_UI
from tests.e2e.test_browser import (  # noqa: F401 (fixtures)
    chromium,
    deploy_shipped,
    live_url,
    log_in,
    page,
    start_hold,
)
from tests.helpers import credit_hold_files, upload

pytestmark = pytest.mark.browser

# Recorded in the page itself: a securitypolicyviolation event is not a console message in every case.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__violations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${where}`);
});
"""


def watch(page: Any) -> list[str]:  # noqa: F811
    """Console errors of the page from now on (CSP violations are reported there too)."""
    page.add_init_script(RECORD_VIOLATIONS)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    return errors


def assert_clean(page: Any, errors: list[str], where: str) -> None:  # noqa: F811
    violations = page.evaluate("window.__violations")
    assert violations == [], f"{where}: CSP violations {violations}"
    assert errors == [], f"{where}: console errors {errors}"


def test_inbox_task_page_start_form_and_modeler_run_under_the_csp(
    app: Flask,
    page: Any,  # noqa: F811
    client: FlaskClient,
    demo_tokens: dict[str, str],
) -> None:
    assert upload(client, demo_tokens["owner1"], credit_hold_files()).status_code == 201
    deploy_shipped(app, "credit_application", "definition_approval")
    instance = start_hold(client, demo_tokens, customer_name="Kunde GmbH")
    task_id = next(t["id"] for t in instance["tasks"] if t["status"] == "open")
    errors = watch(page)

    response = page.goto("/login")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    log_in(page, "analyst1")
    page.locator(f"#task-{task_id}").get_by_role("button", name="Claim").click()  # htmx under the CSP
    page.locator(f"#task-{task_id}").get_by_role("button", name="Unclaim").wait_for()
    assert_clean(page, errors, "inbox")

    page.goto(f"/tasks/{task_id}")
    page.wait_for_selector("[data-bpmn-viewer][data-state=ready]")
    assert page.locator(".diagram svg").count() >= 1
    assert_clean(page, errors, "task page")

    page.get_by_role("button", name="Log out").click()
    log_in(page, "sales1")
    page.goto("/start/credit_application")
    search = page.locator("input[data-enter-searches]")
    if search.count():  # many customers: the htmx search box, where Enter must not submit the form
        search.fill("Kunde")
        search.press("Enter")
        assert "/start/credit_application" in page.url
    assert_clean(page, errors, "start form")

    page.get_by_role("button", name="Log out").click()
    log_in(page, "owner1")
    page.goto("/definitions/credit_application/1/edit")
    page.wait_for_selector("[data-bpmn-modeler][data-state=ready]")
    page.locator('.djs-element[data-element-id="review_application"]').dblclick()  # direct editing
    page.locator(".djs-direct-editing-parent").wait_for()
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Validate").click()
    page.wait_for_selector(".modeler-status.ok")
    assert_clean(page, errors, "modeler")


def test_swagger_ui_runs_under_the_csp(page: Any) -> None:  # noqa: F811
    if not (SWAGGER_UI / "swagger-ui-bundle.js").exists():
        pytest.skip("Swagger UI is not in webui/static/vendor/; run `make setup` (it needs npm)")
    errors = watch(page)
    response = page.goto("/api/docs")
    assert response.headers["x-frame-options"] == "DENY"
    page.wait_for_selector(".opblock")
    page.locator(".opblock-summary").first.click()  # opens an operation: React renders more of the page
    page.wait_for_selector(".opblock-body")
    assert_clean(page, errors, "/api/docs")
