"""/api/docs in Debian chromium: Swagger UI renders every operation of /api/openapi.json, and the page
fetches nothing from anywhere but this server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.e2e.test_browser import chromium, live_url, page  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser

SWAGGER_UI = Path(__file__).resolve().parents[2] / "webui" / "static" / "vendor" / "swagger-ui"


def test_the_docs_page_shows_every_operation_from_this_server_only(
    page: Any,  # noqa: F811
    live_url: str,  # noqa: F811
    client: FlaskClient,
) -> None:
    if not (SWAGGER_UI / "swagger-ui-bundle.js").exists():
        pytest.skip("Swagger UI is not in webui/static/vendor/; run `make setup` (it needs npm)")
    document = client.get("/api/openapi.json").json
    operations = sum(len(methods) for methods in document["paths"].values())
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto("/api/docs")
    page.wait_for_selector(".opblock")
    assert page.locator(".opblock").count() == operations
    assert page.locator(".info .title").inner_text().startswith("creditflow REST API")
    assert requested and all(url.startswith(live_url) for url in requested), requested
