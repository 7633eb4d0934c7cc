"""Chinese company names (issue 20, "Names"): substring search finds 上海精密零件有限公司 by 精密 on the
customer and supplier lists and their API filters, on SQLite and (with -m db) PostgreSQL; lowering the text
for Latin letters leaves CJK as it is, and LIKE's wildcards are literal. The demo has a Chinese customer and a
Chinese supplier."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import auth, migrated_customer
from tests.webui.test_pages import logged_in, text_of
from workflows.cli.demo import seed_demo
from workflows.store.db import transaction
from workflows.store.text_search import like_pattern

pytestmark = pytest.mark.usefixtures("shipped")

SHANGHAI = "上海精密零件有限公司"  # the demo's Chinese customer
MIXED = "上海Abc精密仪器有限公司"
GUANGZHOU = "广州包装制品有限公司"  # the demo's Chinese supplier


@pytest.fixture
def demo_book(app: Flask, demo_tokens: dict[str, str]) -> dict[str, Any]:
    svc = app.extensions["creditflow"]
    with transaction(svc.rt.factory) as session:
        seeded = seed_demo(session, svc.clock())
    mixed = migrated_customer(
        app,
        {"name": MIXED, "external_id": "C-CN-2", "currency": "CNY", "email": "a@b.example"},
    )
    literal = migrated_customer(
        app,
        {"name": "100% Steel_Works Ltd", "external_id": "C-PCT", "currency": "EUR", "email": "s@w.example"},
    )
    return {"seeded": seeded, "mixed": mixed, "literal": literal}


def _names(client: FlaskClient, path: str, token: str, q: str) -> list[str]:
    response = client.get(path, query_string={"q": q, "per_page": 100}, headers=auth(token))
    assert response.status_code == 200, response.get_json()
    return sorted(item["name"] for item in response.get_json()["items"])


def test_the_demo_has_a_chinese_customer_and_a_chinese_supplier(demo_book: dict[str, Any]) -> None:
    assert SHANGHAI in demo_book["seeded"]["customers"]
    assert GUANGZHOU in demo_book["seeded"]["suppliers"]


def test_cjk_substrings_find_customers_and_suppliers_through_the_api(
    client: FlaskClient, demo_tokens: dict[str, str], demo_book: dict[str, Any]
) -> None:
    analyst = demo_tokens["analyst1"]
    assert _names(client, "/api/customers", analyst, "精密") == [MIXED, SHANGHAI]
    assert _names(client, "/api/customers", analyst, "精密零件") == [SHANGHAI]
    assert _names(client, "/api/customers", analyst, SHANGHAI) == [SHANGHAI]
    # A trailing blank is part of the text.
    assert _names(client, "/api/customers", analyst, "有限公司 ") == []
    # Latin letters in a Chinese name match in any case; the CJK around them is left as it is.
    assert _names(client, "/api/customers", analyst, "ABC精密") == [MIXED]
    assert _names(client, "/api/customers", analyst, "abc精密") == [MIXED]
    assert _names(client, "/api/customers", analyst, "ACME") == ["Acme Machinery GmbH"]
    assert _names(client, "/api/customers", analyst, "北京") == []
    # % and _ are characters, not wildcards.
    assert _names(client, "/api/customers", analyst, "100%") == ["100% Steel_Works Ltd"]
    assert _names(client, "/api/customers", analyst, "l_w") == ["100% Steel_Works Ltd"]
    assert _names(client, "/api/customers", analyst, "_") == ["100% Steel_Works Ltd"]
    assert _names(client, "/api/customers", analyst, "%") == ["100% Steel_Works Ltd"]

    buyer = demo_tokens["buyer1"]
    assert _names(client, "/api/suppliers", buyer, "包装") == [GUANGZHOU]
    assert _names(client, "/api/suppliers", buyer, GUANGZHOU) == [GUANGZHOU]
    assert _names(client, "/api/suppliers", buyer, "精密") == []


def test_cjk_substrings_find_customers_and_suppliers_on_the_list_pages(
    app: Flask, demo_tokens: dict[str, str], demo_book: dict[str, Any]
) -> None:
    page = text_of(logged_in(app, "analyst1").get("/customers", query_string={"q": "精密"}))
    assert SHANGHAI in page and MIXED in page
    assert "Acme Machinery" not in page
    page = text_of(logged_in(app, "buyer1").get("/suppliers", query_string={"q": "包装"}))
    assert GUANGZHOU in page and "Alpine Logistics" not in page


def test_the_like_pattern_keeps_cjk_and_escapes_wildcards() -> None:
    assert like_pattern("精密") == "%精密%"
    assert like_pattern("ABC精密") == "%abc精密%"
    assert like_pattern("100%_\\") == "%100\\%\\_\\\\%"
