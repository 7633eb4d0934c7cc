"""Responses are checked against the OpenAPI models in tests and where CREDITFLOW_VALIDATE_RESPONSES=1 is
set; elsewhere they go out as the view wrote them (issue 19: checking a page of 50 tasks cost 1-6 ms of a
10-20 ms GET /api/tasks). A view made to answer a shape its model refuses shows each case."""

from __future__ import annotations

import logging

import pytest
from flask import Flask, Response, jsonify
from flask.testing import FlaskClient

from tests.helpers import auth
from webui.api import tasks


@pytest.fixture
def wrong_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    """GET /api/tasks answers a list its model refuses (items is not a list, no total)."""

    def paged(*args: object, **kwargs: object) -> Response:
        return jsonify({"items": "not a list"})

    monkeypatch.setattr(tasks, "paged", paged)


@pytest.mark.usefixtures("wrong_shape")
def test_tests_refuse_a_response_that_breaks_its_model(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    assert client.get("/api/tasks", headers=auth(demo_tokens["analyst1"])).status_code == 500


@pytest.mark.usefixtures("wrong_shape")
def test_production_sends_the_response_unchecked(
    app: Flask,
    client: FlaskClient,
    demo_tokens: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app.config["TESTING"] = False
    monkeypatch.delenv("CREDITFLOW_VALIDATE_RESPONSES", raising=False)
    with caplog.at_level(logging.ERROR, logger="webui.api.openapi"):
        response = client.get("/api/tasks", headers=auth(demo_tokens["analyst1"]))
    assert (response.status_code, response.json) == (200, {"items": "not a list"})
    assert not [r for r in caplog.records if "does not match the API document" in r.getMessage()]


@pytest.mark.usefixtures("wrong_shape")
def test_the_switch_checks_and_logs_a_mismatch_but_still_answers(
    app: Flask,
    client: FlaskClient,
    demo_tokens: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app.config["TESTING"] = False
    monkeypatch.setenv("CREDITFLOW_VALIDATE_RESPONSES", "1")
    with caplog.at_level(logging.ERROR, logger="webui.api.openapi"):
        response = client.get("/api/tasks", headers=auth(demo_tokens["analyst1"]))
    assert (response.status_code, response.json) == (200, {"items": "not a list"})
    assert [r for r in caplog.records if "does not match the API document" in r.getMessage()]


def test_production_answers_match_what_tests_check(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same body and status either way: skipping the check changes nothing a client sees."""
    headers = auth(demo_tokens["analyst1"])
    checked = client.get("/api/tasks?per_page=2", headers=headers)
    app.config["TESTING"] = False
    monkeypatch.delenv("CREDITFLOW_VALIDATE_RESPONSES", raising=False)
    unchecked = client.get("/api/tasks?per_page=2", headers=headers)
    assert (
        (unchecked.status_code, unchecked.json)
        == (checked.status_code, checked.json)
        == (
            200,
            {
                "items": [],
                "total": 0,
                "page": 1,
                "per_page": 2,
                "total_is_lower_bound": False,
                "has_more": False,
            },
        )
    )
    assert unchecked.headers["Content-Type"] == checked.headers["Content-Type"]
