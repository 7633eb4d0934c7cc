"""Logging out also clears what the browser kept of the session's pages. htmx keeps its last ten page
snapshots (the inbox with customers and amounts) in the tab's sessionStorage for the Back button, and the
browser's cache and back/forward cache hold the pages themselves, so on a shared desk the next person
pressed Back after the logout and read the previous user's inbox without any request. The logout answer
now sends `Clear-Site-Data: "cache", "storage"`. Found by an attack on the login."""

from __future__ import annotations

from flask import Flask

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
