"""`next=` after login stays on this site for every spelling an attacker tried (these held; kept as guards).
Each is sent raw in the query string, as a link in a phishing mail would carry it, and the Location is
resolved the way a browser does (tabs and line breaks dropped, a backslash read as a slash)."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import pytest
from flask import Flask

from tests.webui.test_pages import csrf_token

SITE = "http://creditflow.example/login"


def browser_target(location: str) -> str:
    """The host a browser would go to for this Location, answered from SITE."""
    cleaned = location.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/")
    return urlsplit(urljoin(SITE, cleaned)).netloc


@pytest.mark.parametrize(
    "raw",
    [
        "/%5C%5Cevil.example",
        "/%5Cevil.example",
        "%5C%5Cevil.example",
        "/%09/evil.example",
        "/%0D/evil.example",
        "%2F%2Fevil.example",
        "///evil.example",
        "////evil.example",
        "/.//evil.example",
        "/./%2F/evil.example",
        "http:evil.example",
        "http:/evil.example",
        "https://evil.example",
        "%68ttps://evil.example",
        "javascript:alert(1)",
        "%20//evil.example",
        "/%E3%80%80/evil.example",
        "/%EF%BC%8F%EF%BC%8Fevil.example",  # fullwidth solidus
        "/%E2%88%95%E2%88%95evil.example",  # division slash
        "/%C2%85/evil.example",
        "/%7F/evil.example",
        "/inbox?x=1#//evil.example",
        "/@evil.example",
    ],
)
def test_next_never_leaves_the_site(app: Flask, demo_tokens: dict[str, str], raw: str) -> None:
    browser = app.test_client()
    form = {"username": "analyst1", "password": "demo", "csrf_token": csrf_token(browser)}
    response = browser.post(f"/login?next={raw}", data=form)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/") and not location.startswith("//"), location
    assert browser_target(location) == "creditflow.example", location
