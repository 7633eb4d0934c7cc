"""Every list of the API reports the page size it used, not the one asked for: a client asking for 500 got
200 rows with `per_page: 500`, and paging by the answer skipped rows 201-500 of every 500."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import auth
from workflows.store.paging import MAX_PER_PAGE


def test_every_list_reports_the_page_size_it_used(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    lists = sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/") and "GET" in (rule.methods or set()) and "<" not in rule.rule
    )
    checked = []
    for path in lists:
        answer = client.get(f"{path}?per_page=500", headers=auth(demo_tokens["admin"]))
        body = answer.json if answer.is_json else None
        if not isinstance(body, dict) or "per_page" not in body:
            continue  # not a list (health, the OpenAPI document, docs)
        assert answer.status_code == 200, (path, body)
        assert body["per_page"] == MAX_PER_PAGE, (path, body["per_page"])
        checked.append(path)
    assert len(checked) >= 10, checked
