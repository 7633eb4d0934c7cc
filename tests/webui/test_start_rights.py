"""Who may start a process is decided once (definitions.start_rights): the API and the web agree."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import FIXTURES, auth, upload
from tests.webui.test_pages import logged_in

LANELESS = FIXTURES / "engine" / "scripted.bpmn"  # its start event has no lane and no startGroups


def api_start(client: FlaskClient, token: str) -> int:
    response = client.post(
        "/api/process-instances", json={"process_key": "scripted", "data": {}}, headers=auth(token)
    )
    return response.status_code


def test_a_laneless_start_event_is_started_by_admins_only_on_the_api_and_the_web(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    assert upload(client, demo_tokens["owner1"], [LANELESS]).status_code == 201

    assert api_start(client, demo_tokens["sales1"]) == 403
    sales_web = logged_in(app, "sales1").get("/start/scripted")
    assert sales_web.status_code == 403
    assert "no lane" in sales_web.get_data(as_text=True)
    assert "scripted" not in logged_in(app, "sales1").get("/start").get_data(as_text=True)

    assert api_start(client, demo_tokens["admin"]) == 201
    assert logged_in(app, "admin").get("/start/scripted").status_code == 200


def test_the_api_refusal_names_the_rule(client: FlaskClient, demo_tokens: dict[str, str]) -> None:
    upload(client, demo_tokens["owner1"], [LANELESS])
    response = client.post(
        "/api/process-instances",
        json={"process_key": "scripted", "data": {}},
        headers=auth(demo_tokens["sales1"]),
    )
    assert response.status_code == 403
    assert "no lane and no startGroups" in response.json["error"]["message"]
