"""collection_priority.dmn as deployed: the worklist reads the newest active dunning version's table (a
process owner's new factors re-rank the cases), refuses at deploy a table that gives no exact score, and never
guesses a rate."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from handlers.registry import build_operations
from tests.collections_desk import Collections
from tests.helpers import auth
from workflows.definitions.deploy import deploy_files, read_files
from workflows.definitions.shipped import shipped_bundles
from workflows.definitions.validation import InvalidBundle
from workflows.store.db import transaction

pytestmark = pytest.mark.usefixtures("shipped")

GRADE_A_FACTOR = '<outputEntry id="priority_a_out1"><text>Decimal("0.5")</text></outputEntry>'
GRADE_A_SCORE = 'amount_overdue * days_overdue * Decimal("0.5")'


def rows(desk: Collections, user: str = "collector1") -> Any:
    return desk.client.get("/api/collections?due=all", headers=auth(desk.tokens[user]))


def deploy_priority(desk: Collections, edit: Any) -> None:
    """The dunning bundle with an edited collection_priority.dmn, deployed as `init` does (active)."""
    [bundle] = [b for b in shipped_bundles() if b[0].stem == "dunning"]
    files = read_files(bundle)
    files["collection_priority.dmn"] = edit(files["collection_priority.dmn"].decode()).encode()
    with transaction(desk.client.application.extensions["creditflow"].rt.factory) as session:
        deploy_files(session, files, build_operations(), deployed_by="system", now=desk.clock.now)


def set_grade_a(desk: Collections, customer_id: int) -> None:
    from workflows.credit.models import Customer

    with transaction(desk.client.application.extensions["creditflow"].rt.factory) as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None
        customer.grade = "A"


def test_a_newly_deployed_table_reranks_the_worklist(desk: Collections) -> None:
    safe = desk.customer("Safe Big")
    plain = desk.customer("Plain Small")
    desk.invoice(safe, "R-1", "3000.00")
    desk.invoice(plain, "R-2", "2000.00")
    for _ in range(5):
        desk.tick()
    set_grade_a(desk, safe)
    before = rows(desk).json["items"]
    assert [(r["customer_id"], r["score"]) for r in before] == [
        (plain, "15000.00"),
        (safe, "7500.00"),
    ]  # x 1.5 and x 0.5
    deploy_priority(
        desk,
        lambda text: text.replace(GRADE_A_FACTOR, GRADE_A_FACTOR.replace("0.5", "4.0")).replace(
            GRADE_A_SCORE, GRADE_A_SCORE.replace("0.5", "4.0")
        ),
    )
    after = rows(desk).json["items"]
    assert [(r["customer_id"], r["grade_factor"], r["score"]) for r in after] == [
        (safe, "4.0", "60000.00"),  # 3000 x 5 x 4.0
        (plain, "1.5", "15000.00"),
    ]


def test_a_table_that_cannot_score_every_case_is_refused_at_deploy(desk: Collections) -> None:
    customer = desk.customer("Floaty Ltd")
    desk.invoice(customer, "FL-1", "100.00")
    for _ in range(5):
        desk.tick()
    broken = {
        "a float": lambda text: text.replace('Decimal("2.0") + broken', "2.0 + broken"),
        "no row for the ungraded": lambda text: text.replace("-</text>", '== "Z"</text>'),
    }
    for what, edit in broken.items():
        with pytest.raises(InvalidBundle) as refused:
            deploy_priority(desk, edit)
        assert "collection_priority.dmn" in str(refused.value), what
    [row] = rows(desk).json["items"]  # the shipped table still ranks: 100 x 5 x 1.5
    assert (row["customer_id"], row["score"]) == (customer, "750.00")


def test_a_case_without_an_exchange_rate_comes_first_unscored(desk: Collections) -> None:
    euro = desk.customer("Euro Big")
    pound = desk.customer("Pound Small", currency="GBP")
    desk.invoice(euro, "E-1", "90000.00")
    body = {
        "customer_id": pound,
        "number": "G-1",
        "amount": "100.00",
        "currency": "GBP",
        "issue_date": (desk.clock.now.date() - timedelta(days=30)).isoformat(),
        "due_date": desk.clock.now.date().isoformat(),
    }
    assert (
        desk.client.post("/api/invoices", json=body, headers=auth(desk.tokens["finance1"])).status_code == 201
    )
    for _ in range(5):
        desk.tick()
    items = rows(desk).json["items"]
    assert [r["customer_id"] for r in items] == [pound, euro]
    assert items[0]["score"] is None and items[0]["overdue_base"] is None
    assert items[0]["overdue"] == {"GBP": "100.00"} and "no GBP->EUR rate" in items[0]["missing_rate"]
    rate = {"currency": "GBP", "rate": "1.17", "date": desk.clock.now.date().isoformat()}
    assert (
        desk.client.post("/api/fx-rates", json=rate, headers=auth(desk.tokens["finance1"])).status_code == 201
    )
    ranked = rows(desk).json["items"]
    assert [(r["customer_id"], r["overdue_base"]) for r in ranked] == [(euro, "90000.00"), (pound, "117.00")]
