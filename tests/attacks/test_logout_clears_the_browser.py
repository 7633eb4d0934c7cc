"""Logging out also clears what the browser kept of the session's pages. htmx keeps its last ten page
snapshots (the inbox with customers and amounts) in the tab's sessionStorage for the Back button, and the
browser's cache and back/forward cache hold the pages themselves, so on a shared desk the next person
pressed Back after the logout and read the previous user's inbox without any request. The logout answer
now sends `Clear-Site-Data: "cache", "storage"`. Found by an attack on the login."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.e2e.test_browser import chromium, live_url, log_in, page, start_hold  # noqa: F401 (fixtures)
from tests.helpers import credit_hold_files, upload
from tests.webui.test_pages import csrf_token, logged_in


def test_the_logout_answer_tells_the_browser_to_drop_cached_pages_and_htmx_history(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    browser = logged_in(app, "analyst1")
    response = browser.post("/logout", data={"csrf_token": csrf_token(browser, "/inbox")})
    assert response.status_code == 302
    directives = {d.strip() for d in response.headers.get("Clear-Site-Data", "").split(",")}
    assert {'"cache"', '"storage"'} <= directives
    assert '"cookies"' not in directives  # the session cookie is replaced by the answer itself


def test_other_answers_do_not_clear_anything(app: Flask, demo_tokens: dict[str, str]) -> None:
    browser = logged_in(app, "analyst1")
    assert "Clear-Site-Data" not in browser.get("/inbox").headers


@pytest.mark.browser
def test_after_logout_the_tab_keeps_no_htmx_snapshot_of_the_inbox(
    client: FlaskClient,
    page: Any,  # noqa: F811
    demo_tokens: dict[str, str],
) -> None:
    """In chromium: the snapshot htmx took of the inbox (with a customer's name) is gone after logging out."""
    assert upload(client, demo_tokens["owner1"], credit_hold_files()).status_code == 201
    start_hold(client, demo_tokens, customer_name="Secretive Holdings")
    log_in(page, "analyst1")
    page.wait_for_url("**/inbox")
    page.locator("#inbox-results").get_by_role("link").first.wait_for()
    page.evaluate("htmx.ajax('GET', '/inbox?sort=-created', {target: '#inbox-results', push: true})")
    page.goto("/inbox?overdue=1")  # leaving the page makes htmx store its snapshot of the results
    assert "Secretive Holdings" in (page.evaluate("sessionStorage.getItem('htmx-history-cache')") or "")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login")
    assert page.evaluate("sessionStorage.getItem('htmx-history-cache')") is None
