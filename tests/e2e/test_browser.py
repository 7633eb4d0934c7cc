"""The web UI in Debian chromium (Playwright): an analyst works a task from the inbox, a process owner edits a
diagram in the modeler and deploys it. The app runs in-process on a free loopback port (werkzeug)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from handlers.registry import build_operations
from tests.helpers import auth, credit_hold_files, migrated_customer, upload
from workflows.definitions.deploy import deploy_files, read_files
from workflows.definitions.shipped import shipped_bundles
from workflows.store.db import transaction
from workflows.users import add_user, issue_token

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
VENDOR = Path(__file__).resolve().parents[2] / "webui" / "static" / "vendor" / "bpmn-js"
# Debian's chromium through Playwright's executable_path; never `playwright install` (no browser downloads).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
START = {"order_amount": 1200.50, "available_limit": 1000, "order_number": "SO-7"}
CUSTOMER = "<b>Escaped</b> Co"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    if not (VENDOR / "bpmn-modeler.production.min.js").exists():
        pytest.skip("bpmn-js is not in webui/static/vendor/; run `make setup` (it needs npm)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live_url(app: Flask) -> Iterator[str]:
    """The test's app served on a free 127.0.0.1 port from a thread, for the browser."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.fixture
def page(chromium: Any, live_url: str) -> Iterator[Any]:
    context = chromium.new_context(base_url=live_url, viewport={"width": 1280, "height": 1000})
    # What a step may wait for (a page, an element): 10 s ran out on the dashboard with two pytest-xdist
    # workers at load 16. A passing step waits only as long as it needs.
    context.set_default_timeout(30_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


def deploy_shipped(app: Flask, *stems: str) -> None:
    """Deploy shipped diagrams as `creditflow init` does (the system's deployments are active at once; a
    process owner's deployment of credit_application, which sets limits, waits for a second owner)."""
    svc = app.extensions["creditflow"]
    with transaction(svc.rt.factory) as session:
        for bundle in shipped_bundles():
            if bundle[0].stem in stems:
                files = read_files(bundle)
                deploy_files(session, files, build_operations(), deployed_by="system", now=svc.clock())


def log_in(page: Any, username: str, password: str = "demo") -> None:
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click(".login button[type=submit]")  # not the header's language switch


def start_hold(client: FlaskClient, tokens: dict[str, str], **data: Any) -> dict[str, Any]:
    response = client.post(
        "/api/process-instances",
        json={"process_key": "credit_hold", "business_key": "CUST-1", "data": {**START, **data}},
        headers=auth(tokens["sales1"]),
    )
    assert response.status_code == 201, response.json
    return dict(response.json)


def assert_watermark_visible(page: Any) -> None:
    """The bpmn.io watermark is shown and nothing covers it (bpmn-js licence)."""
    watermark = page.locator(".bjs-powered-by").first
    watermark.scroll_into_view_if_needed()
    assert watermark.is_visible()
    box = watermark.bounding_box()
    on_top = page.evaluate(
        "([x, y]) => !!document.elementFromPoint(x, y).closest('.bjs-powered-by')",
        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
    )
    assert on_top, "something covers the bpmn.io watermark"


def test_analyst_claims_opens_and_completes_a_task(
    page: Any, client: FlaskClient, demo_tokens: dict[str, str], tmp_path: Path
) -> None:
    assert upload(client, demo_tokens["owner1"], credit_hold_files()).status_code == 201
    instance = start_hold(client, demo_tokens, customer_name=CUSTOMER)
    task_id = next(t["id"] for t in instance["tasks"] if t["status"] == "open")

    log_in(page, "analyst1", "wrong")
    assert page.url.endswith("/login")
    assert page.get_by_role("alert").inner_text() == "Unknown user name or wrong password."
    log_in(page, "analyst1")
    assert page.url.endswith("/inbox")

    row = page.locator(f"#task-{task_id}")
    assert CUSTOMER in row.inner_text()  # the markup shows as text ...
    assert row.locator("b").count() == 0  # ... and never becomes an element
    row.get_by_role("button", name="Claim").click()  # htmx swaps the row in place
    row.get_by_role("button", name="Unclaim").wait_for()
    assert "analyst1" in page.locator(f"#task-{task_id}").inner_text()
    assert client.get(f"/api/tasks/{task_id}", headers=auth(demo_tokens["analyst1"])).json["assignee"] == (
        "analyst1"
    )

    row.get_by_role("link", name="Review credit hold").click()
    page.wait_for_selector("[data-bpmn-viewer][data-state=ready]")
    assert page.locator(".diagram svg").count() >= 1
    current = page.locator('.djs-element.cf-current[data-element-id="review_hold"]')
    assert current.count() == 1
    assert "Order SO-7 exceeds the available limit." in page.locator(".instructions").inner_text()
    assert_watermark_visible(page)
    page.screenshot(path=str(tmp_path / "task.png"), full_page=True)

    page.check("input[name=decision][value=release]")
    page.fill("input[name=release_amount]", "250.75")
    page.fill("textarea[name=comment]", "Paid in advance <i>today</i>")
    page.get_by_role("button", name="Complete task").click()
    page.wait_for_url("**/inbox")
    assert "Done: “Review credit hold”" in page.locator(".flash").inner_text()
    page.screenshot(path=str(tmp_path / "inbox.png"), full_page=True)
    done = client.get(f"/api/tasks/{task_id}", headers=auth(demo_tokens["analyst1"])).json
    assert done["status"] == "completed" and done["completed_by"] == "analyst1"


def test_process_owner_renames_a_task_in_the_modeler_and_deploys_version_2(
    app: Flask, page: Any, client: FlaskClient, demo_tokens: dict[str, str], tmp_path: Path
) -> None:
    deploy_shipped(app, "credit_application", "definition_approval")
    log_in(page, "owner1")
    page.goto("/definitions")
    page.locator('a[href="/definitions/credit_application/1/edit"]').click()
    page.wait_for_selector("[data-bpmn-modeler][data-state=ready]")
    assert_watermark_visible(page)

    # Rename the user task the way a user does: double-click it and type over its label.
    page.locator('.djs-element[data-element-id="review_application"]').dblclick()
    editor = page.locator(".djs-direct-editing-parent")
    editor.wait_for()
    page.keyboard.press("Control+A")
    page.keyboard.type("Assess credit request")
    page.locator(".editor-canvas").click(position={"x": 20, "y": 20})  # empty canvas: ends the edit

    page.get_by_role("button", name="Validate").click()
    page.wait_for_selector(".modeler-status.ok")
    assert "Valid" in page.locator(".modeler-status").inner_text()
    page.get_by_role("button", name="Deploy as new version").click()
    page.get_by_role("link", name="Deployed credit_application version 2.").wait_for()
    page.screenshot(path=str(tmp_path / "modeler.png"))

    xml = client.get("/definitions/credit_application/2/diagram.bpmn")  # not logged in on this client
    assert xml.status_code == 302
    # Version 2 sets limits: it is used once a second process owner approves it in the inbox.
    svc = app.extensions["creditflow"]
    with transaction(svc.rt.factory) as session:
        add_user(session, "owner2", groups=["process_owner"], now=svc.clock())
        owner2 = issue_token(session, "owner2", svc.clock())
    later = (svc.clock() + timedelta(seconds=5)).isoformat()
    assert (
        client.post("/api/admin/tick", json={"now": later}, headers=auth(demo_tokens["admin"])).status_code
        == 200
    )
    [approval] = client.get("/api/tasks", headers=auth(owner2)).json["items"]
    assert approval["subject"] == "credit_application v2 by owner1"
    approve = {"data": {"decision": "approve", "comment": "renamed step only"}}
    assert (
        client.post(f"/api/tasks/{approval['id']}/complete", json=approve, headers=auth(owner2)).status_code
        == 200
    )
    customer = client.post(
        "/api/customers",
        json={
            "name": "Renamed Steps AG",
            "industry": "manufacturing",
            "founded_year": 1990,
            "annual_revenue": "50000000.00",
            "currency": "EUR",
        },
        headers=auth(demo_tokens["sales1"]),
    ).json
    data = {
        "customer_id": customer["id"],
        "requested_limit": 200_000,
        "currency": "EUR",
        "payment_terms_days": 30,
        "justification": "New plant",
    }
    started = client.post(
        "/api/process-instances",
        json={"process_key": "credit_application", "data": data},
        headers=auth(demo_tokens["sales1"]),
    ).json
    assert started["version"] == 2
    assert [t["title"] for t in started["tasks"]] == ["Assess credit request"]
    # The SpiffWorkflow extensions survived the edit: the task still has its form and instructions.
    task = client.get(f"/api/tasks/{started['tasks'][0]['id']}", headers=auth(demo_tokens["analyst1"])).json
    assert [f["name"] for f in task["form"]["fields"]] == [
        "decision",
        "recommended_limit",
        "exception_reason",
        "comment",
        "management_rating",
        "industry_rating",
        "strategic_rating",
    ]
    assert "Justification: New plant" in task["context"]["instructions"]


def test_analyst_approves_a_credit_application_for_a_customer_named_with_markup(
    app: Flask, page: Any, client: FlaskClient, demo_tokens: dict[str, str], tmp_path: Path
) -> None:
    deploy_shipped(app, "credit_application")
    customer = client.post(
        "/api/customers",
        json={
            "name": "<b>Escaped</b> Co",
            "email": "ap@escaped.example",
            "industry": "manufacturing",
            "founded_year": 1990,
            "annual_revenue": "50000000.00",
            "currency": "EUR",
        },
        headers=auth(demo_tokens["sales1"]),
    )
    assert customer.status_code == 201, customer.json
    data = {
        "customer_id": customer.json["id"],
        "requested_limit": 200_000,
        "currency": "EUR",
        "payment_terms_days": 30,
        "justification": "Framework agreement",
    }
    started = client.post(
        "/api/process-instances",
        json={"process_key": "credit_application", "data": data},
        headers=auth(demo_tokens["sales1"]),
    )
    assert started.status_code == 201, started.json
    review = next(t for t in started.json["tasks"] if t["status"] == "open")

    log_in(page, "analyst1")
    row = page.locator(f"#task-{review['id']}")
    assert "<b>Escaped</b> Co" in row.inner_text() and row.locator("b").count() == 0
    row.get_by_role("link").first.click()
    page.wait_for_selector("[data-bpmn-viewer][data-state=ready]")
    assert page.locator(f'.djs-element.cf-current[data-element-id="{review["name"]}"]').count() == 1
    assert "<b>Escaped</b> Co" in page.locator("main").inner_text()
    page.screenshot(path=str(tmp_path / "application.png"), full_page=True)

    page.check("input[name=decision][value=approve]")
    page.fill("input[name=recommended_limit]", "150000")
    page.get_by_role("button", name="Complete task").click()
    page.wait_for_url("**/inbox")
    assert "Done:" in page.locator(".flash").inner_text()
    done = client.get(f"/api/tasks/{review['id']}", headers=auth(demo_tokens["analyst1"])).json
    assert done["status"] == "completed" and done["completed_by"] == "analyst1"


def test_sales_starts_a_credit_application_from_the_customer_page_and_the_analyst_sees_the_customer(
    app: Flask, page: Any, client: FlaskClient, demo_tokens: dict[str, str], tmp_path: Path
) -> None:
    deploy_shipped(app, "credit_application")
    # A customer with a limit taken over by the ERP migration (the API gives new customers limit 0).
    customer_id = migrated_customer(
        app,
        {
            "name": CUSTOMER,
            "external_id": "C-900",
            "email": "ap@escaped.example",
            "industry": "manufacturing",
            "founded_year": 1990,
            "annual_revenue": "50000000.00",
            "currency": "EUR",
            "credit_limit": "100000.00",
        },
    )
    invoice = {
        "customer_id": customer_id,
        "number": "INV-900",
        "amount": "4200.00",
        "currency": "EUR",
        "issue_date": "2026-01-01",
        "due_date": "2026-01-31",
    }
    assert (
        client.post("/api/invoices", json=invoice, headers=auth(demo_tokens["finance1"])).status_code == 201
    )

    log_in(page, "sales1")
    page.goto(f"/customers/{customer_id}")
    assert CUSTOMER in page.locator("h1").inner_text() and page.locator("h1 b").count() == 0
    assert "INV-900" in page.locator("#invoices").inner_text()
    page.screenshot(path=str(tmp_path / "customer.png"), full_page=True)
    page.get_by_role("link", name="New credit application").click()
    page.wait_for_url(f"**/start/credit_application?customer_id={customer_id}")
    picker = page.locator("select[name=customer_id]")
    assert picker.input_value() == str(customer_id)
    assert CUSTOMER in picker.locator("option:checked").inner_text()
    page.fill("input[name=requested_limit]", "200000")
    page.fill("input[name=currency]", "EUR")
    page.fill("input[name=payment_terms_days]", "30")
    page.fill("textarea[name=justification]", "Framework agreement")
    page.get_by_role("button", name="Start").click()
    page.wait_for_url("**/instances/*")
    assert "Started credit_application #" in page.locator(".flash").inner_text()
    instance_id = int(page.url.rsplit("/", 1)[1])
    instance = client.get(f"/api/process-instances/{instance_id}", headers=auth(demo_tokens["admin"])).json
    assert instance["data"]["customer_id"] == customer_id and instance["started_by"] == "sales1"
    review = next(t for t in instance["tasks"] if t["status"] == "open")

    page.get_by_role("button", name="Log out").click()
    log_in(page, "analyst1")
    page.locator(f"#task-{review['id']}").get_by_role("link").first.click()
    page.wait_for_selector("[data-bpmn-viewer][data-state=ready]")
    panel = page.locator(".customer-panel")
    text = panel.inner_text()
    assert CUSTOMER in text and panel.locator("h2 b").count() == 0
    assert "€100,000.00" in text and "€4,200.00" in text and "INV-900" in text and "migrated from ERP" in text
    assert_watermark_visible(page)
    page.screenshot(path=str(tmp_path / "task-customer.png"), full_page=True)
    panel.get_by_role("link", name=CUSTOMER).click()
    page.wait_for_url(f"**/customers/{customer_id}")
