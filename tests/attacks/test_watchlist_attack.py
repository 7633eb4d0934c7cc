"""Hostile calls of GET /api/watchlist and /watchlist, and hostile early-warning tables at deploy: wrong
groups and tokens, crafted query strings (NUL, LIKE wildcards, unknown statuses, page and per_page past
their ends), a salesperson asking for other owners' entries, and tables that would fail the daily run."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from handlers.registry import build_operations
from tests.credit.test_watchlist import NOW, runtime
from tests.helpers import auth
from tests.webui.test_pages import logged_in
from tests.webui.test_watchlist_pages import flagged_book
from workflows.credit.watchlist import WatchlistEntry
from workflows.definitions.deploy import deploy_files, read_files
from workflows.definitions.shipped import shipped_bundles
from workflows.definitions.validation import InvalidBundle
from workflows.settings import BPMN_DIR
from workflows.store.db import transaction
from workflows.store.models import ProcessDefinition

pytestmark = pytest.mark.usefixtures("shipped")


@pytest.mark.parametrize(
    "user", ["collector1", "finance1", "legal1", "buyer1", "owner1", "logistics1", "lead1"]
)
def test_groups_outside_the_readers_get_403(
    client: FlaskClient, demo_tokens: dict[str, str], user: str
) -> None:
    answer = client.get("/api/watchlist", headers=auth(demo_tokens[user]))
    assert answer.status_code == 403 and "read the watchlist" in answer.json["error"]["message"]


def test_no_or_a_bad_token_is_401(client: FlaskClient) -> None:
    assert client.get("/api/watchlist").status_code == 401
    assert client.get("/api/watchlist", headers=auth("not-a-token")).status_code == 401


@pytest.mark.parametrize(
    "query",
    [
        "status=closed",
        "status=%00",
        "indicator=%25",  # a LIKE wildcard is not an indicator name
        "indicator=_",
        "indicator=Utilisation",
        "indicator=" + "a" * 41,
        "owner=" + "x" * 81,
        "owner=sales1%00",
        "customer_id=0",
        "customer_id=9223372036854775808",
        "page=0",
        "page=2147483648",
        "per_page=0",
        "per_page=-1",
        "page=1e3",
    ],
)
def test_crafted_query_strings_are_400(client: FlaskClient, demo_tokens: dict[str, str], query: str) -> None:
    answer = client.get(f"/api/watchlist?{query}", headers=auth(demo_tokens["manager1"]))
    assert answer.status_code == 400, (query, answer.json)


def test_huge_pages_are_empty_and_capped(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    flagged_book(app)
    manager = auth(demo_tokens["manager1"])
    far = client.get("/api/watchlist?page=2147483647&per_page=200", headers=manager)
    assert far.status_code == 200 and far.json["items"] == [] and far.json["total"] == 9
    capped = client.get("/api/watchlist?per_page=2147483647", headers=manager).json
    assert capped["per_page"] == 200 and len(capped["items"]) == 9
    # The page never errs on a wild page number: it shows page 1.
    html = logged_in(app, "manager1").get("/watchlist?page=99999999999999999999").get_data(as_text=True)
    assert "9 entries" in html


def test_a_wildcard_owner_or_indicator_matches_nothing(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    flagged_book(app)
    manager = auth(demo_tokens["manager1"])
    assert client.get("/api/watchlist?owner=%25", headers=manager).json["total"] == 0
    assert client.get("/api/watchlist?owner=credit_manager%20OR%201=1", headers=manager).json["total"] == 0
    # Only whole indicator names match: "limit" is part of "over_limit" but not an indicator.
    assert client.get("/api/watchlist?indicator=limit", headers=manager).json["total"] == 0
    assert client.get("/api/watchlist?indicator=over_limit", headers=manager).json["total"] == 1


def test_sales_cannot_widen_their_view_with_filters(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    ids = flagged_book(app)
    sales = auth(demo_tokens["sales1"])
    for query in (
        "",
        "?status=all",
        "?owner=credit_manager",
        f"?customer_id={ids['over_limit']}",
        "?owner=sales1",
    ):
        found = client.get(f"/api/watchlist{query}", headers=sales).json
        assert {e["customer_id"] for e in found["items"]} <= {ids["owned"]}, query
    page = logged_in(app, "sales1").get("/watchlist?owner=credit_manager&status=all").get_data(as_text=True)
    assert f'href="/customers/{ids["over_limit"]}"' not in page
    # The owner filter offers only their own name, and the counts of all open entries are not shown.
    assert '<option value="credit_manager"' not in page and '<option value="sales1"' in page
    assert "Open: " not in page


def _bundle_with(table: str) -> dict[str, bytes]:
    (bundle,) = [b for b in shipped_bundles() if b[0].stem == "credit_limit_review"]
    files = read_files(bundle)
    files["early_warning.dmn"] = table.encode()
    return files


SHIPPED = (BPMN_DIR / "early_warning.dmn").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("table", "named"),
    [
        (SHIPPED.replace('"high"', '"critical"', 1), "severity 'critical'"),
        (SHIPPED.replace('"utilisation"</text>', '"Utilisation!"</text>', 1), "indicator 'Utilisation!'"),
        (SHIPPED.replace("? is not None and ? &gt;= 90", "? &gt;= 90", 1), "failed on"),  # None > 90
        (SHIPPED.replace("&gt;= 3</text>", "&gt;= undefined_name</text>", 1), "failed on"),
        (SHIPPED.replace('hitPolicy="COLLECT"', 'hitPolicy="FIRST"'), "hit policy COLLECT"),
    ],
)
def test_a_table_that_would_fail_the_daily_run_is_refused_at_deploy(
    app: Flask, table: str, named: str
) -> None:
    assert table != SHIPPED
    factory = runtime(app).factory
    with factory() as session:
        before = session.scalar(select(func.count()).select_from(ProcessDefinition))
    with transaction(factory) as session, pytest.raises(InvalidBundle) as refused:
        deploy_files(session, _bundle_with(table), build_operations(), deployed_by="owner1", now=NOW)
    assert named in str(refused.value) and "early_warning.dmn" in str(refused.value)
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(ProcessDefinition)) == before
        assert session.scalar(select(func.count()).select_from(WatchlistEntry)) == 0
