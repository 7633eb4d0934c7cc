"""GET /api/operations (issue 18): the service operations a diagram may call, described from the live handler
table that deploy checks against; the definition editor offers the same list."""

from __future__ import annotations

import html as html_module
import json
import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from handlers.registry import build_operations
from tests.e2e.test_browser import deploy_shipped
from tests.helpers import auth
from tests.webui.test_pages import logged_in


def test_every_live_operation_is_described_with_its_request_and_result_fields(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    assert client.get("/api/operations").status_code == 401
    response = client.get("/api/operations", headers=auth(demo_tokens["sales1"]))
    assert response.status_code == 200
    described = {op["name"]: op for op in response.json}
    assert sorted(described) == sorted(build_operations())  # nothing made up, nothing left out
    load = described["credit.load_file"]
    assert "who the customer is" in load["description"]
    assert load["request"] == [{"name": "customer_id", "type": "int", "required": True}]
    result = {f["name"]: f for f in load["result"]}
    assert result["exposure"] == {"name": "exposure", "type": "Decimal", "required": True}
    assert result["annual_revenue"]["type"] == "Decimal | None" and not result["annual_revenue"]["required"]
    score = {f["name"]: f for f in described["credit.score"]["request"]}
    assert score["requested_limit"]["required"] is False  # it has a default
    assert described["credit.apply_limit"]["moves_money"] is True
    assert described["credit.load_file"]["moves_money"] is False


def test_the_editor_offers_the_operations_groups_forms_and_decisions_of_the_version(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    deploy_shipped(app, "credit_application")
    page = logged_in(app, "owner1").get("/definitions/credit_application/1/edit")
    assert page.status_code == 200
    studio = _studio_attribute(page.get_data(as_text=True))
    assert [op["name"] for op in studio["operations"]] == sorted(build_operations())
    assert "credit_manager" in studio["groups"] and "credit_analyst" in studio["groups"]
    assert "credit_review.json" in studio["forms"]
    assert "approval_authority" in studio["decisions"] and "credit_scorecard" in studio["decisions"]


def _studio_attribute(page_html: str) -> dict[str, Any]:
    match = re.search(r"data-studio='([^']*)'", page_html)
    assert match, "the editor has no data-studio attribute"
    return dict(json.loads(html_module.unescape(match.group(1))))
