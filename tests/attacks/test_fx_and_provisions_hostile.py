"""Hostile calls of /api/fx-rates and /api/provisions: crafted JSON, NUL bytes, huge numbers, wrong
groups, and a process owner who lowers the provision matrix alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import SteppingClock
from tests.definitions.test_definition_approval import approval_task, decide, tick
from tests.helpers import auth, migrated_customer, upload
from workflows.definitions.shipped import shipped_bundles
from workflows.store.db import transaction
from workflows.users import add_user, issue_token

pytestmark = pytest.mark.usefixtures("shipped")

GOOD = {"currency": "GBP", "rate": "1.17", "date": "2026-03-01"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**GOOD, "rate": "1e400"}, "rate"),
        ({**GOOD, "rate": "NaN"}, "rate"),
        ({**GOOD, "rate": "Infinity"}, "rate"),
        ({**GOOD, "rate": "-1.17"}, "rate"),
        ({**GOOD, "rate": "0"}, "rate"),
        ({**GOOD, "rate": "0.00000000001"}, "rate"),  # eleven places: zero at the stored precision
        ({**GOOD, "rate": "1000001"}, "rate"),
        ({**GOOD, "rate": True}, "rate"),
        ({**GOOD, "rate": None}, "rate"),
        ({**GOOD, "rate": ["1.17"]}, "rate"),
        ({**GOOD, "rate": 10**30}, None),  # refused by the JSON reader: beyond 64 bits
        ({**GOOD, "currency": "gbp"}, "currency"),
        ({**GOOD, "currency": "EUR"}, "currency"),  # the base currency: always 1
        ({**GOOD, "currency": "GB\x00"}, None),
        ({**GOOD, "currency": "ÄBC"}, "currency"),
        ({**GOOD, "currency": 826}, "currency"),
        ({**GOOD, "date": "2026-02-30"}, "date"),
        ({**GOOD, "date": "yesterday"}, "date"),
        ({**GOOD, "date": 20260301}, "date"),
        ({**GOOD, "source": "ECB\x00"}, None),
        ({**GOOD, "source": "x" * 81}, "source"),
        ({k: v for k, v in GOOD.items() if k != "rate"}, "rate"),
    ],
)
def test_a_crafted_rate_is_refused_naming_the_field_and_nothing_is_stored(
    client: FlaskClient, demo_tokens: dict[str, str], body: dict[str, Any], field: str | None
) -> None:
    token = demo_tokens["finance1"]
    response = client.post("/api/fx-rates", json=body, headers=auth(token))
    assert response.status_code in (400, 422), (body, response.status_code, response.get_data(as_text=True))
    if field is not None:
        assert response.status_code == 422 and field in response.json["error"]["fields"], response.json
    assert client.get("/api/fx-rates", headers=auth(token)).json["total"] == 0


def test_a_float_number_rate_keeps_its_exact_decimal(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    raw = b'{"currency": "CNY", "rate": 0.1283000001, "date": "2026-03-01"}'
    response = client.post(
        "/api/fx-rates",
        data=raw,
        headers={**auth(demo_tokens["finance1"]), "Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.json
    assert response.json["rate"] == "0.1283000001" and response.json["created_by"] == "finance1"


@pytest.mark.parametrize(
    "user", ["sales1", "analyst1", "manager1", "collector1", "cfo1", "auditor1", "owner1", "legal1"]
)
def test_only_finance_posts_rates(client: FlaskClient, demo_tokens: dict[str, str], user: str) -> None:
    assert client.post("/api/fx-rates", json=GOOD, headers=auth(demo_tokens[user])).status_code == 403
    assert client.get("/api/fx-rates", headers=auth(demo_tokens["finance1"])).json["total"] == 0


def test_a_correction_replaces_the_days_rate_and_both_are_audited_with_the_person(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    for token, rate in (("finance1", "1.17"), ("finance1", "1.1712")):
        body = {**GOOD, "rate": rate}
        assert client.post("/api/fx-rates", json=body, headers=auth(demo_tokens[token])).status_code == 201
    listed = client.get("/api/fx-rates?currency=GBP", headers=auth(demo_tokens["sales1"])).json
    assert [(r["rate"], r["created_by"]) for r in listed["items"]] == [("1.1712", "finance1")]
    audit = client.get("/api/audit?kind=fx_rate_set", headers=auth(demo_tokens["auditor1"])).json
    changes = sorted(
        ((e["actor"], e["before"], e["after"]["rate"]) for e in audit["items"]), key=lambda c: c[2]
    )
    assert changes == [
        ("finance1", None, "1.17"),
        ("finance1", {"rate": "1.17", "source": ""}, "1.1712"),
    ]


@pytest.mark.parametrize(
    "query",
    [
        "?currency=gbp",
        "?currency=GBP%00",
        "?from=2026-13-01",
        "?from=2026-03-05&to=2026-03-01",
        "?page=0",
        "?per_page=" + "9" * 40,
    ],
)
def test_bad_rate_queries_are_a_400(client: FlaskClient, demo_tokens: dict[str, str], query: str) -> None:
    response = client.get(f"/api/fx-rates{query}", headers=auth(demo_tokens["finance1"]))
    assert response.status_code == 400, (query, response.status_code)


@pytest.mark.parametrize("query", ["?as_of=2026-02-30", "?as_of=%00", "?as_of=" + "9" * 400, "?as_of=soon"])
@pytest.mark.parametrize("path", ["/api/provisions", "/api/provisions/preview"])
def test_bad_provision_days_are_a_400(
    client: FlaskClient, demo_tokens: dict[str, str], path: str, query: str
) -> None:
    response = client.get(f"{path}{query}", headers=auth(demo_tokens["cfo1"]))
    assert response.status_code == 400, (path, query, response.status_code)


@pytest.mark.parametrize("user", ["sales1", "analyst1", "legal1", "owner1", "buyer1"])
def test_provisions_are_for_finance_credit_collections_cfo_and_auditors(
    client: FlaskClient, demo_tokens: dict[str, str], user: str
) -> None:
    for path in ("/api/provisions", "/api/provisions/preview"):
        assert client.get(path, headers=auth(demo_tokens[user])).status_code == 403


def test_one_process_owner_cannot_lower_the_provision_matrix_alone(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], tmp_path: Path, app_clock: SteppingClock
) -> None:
    """The matrix is read from the newest active dunning version; dunning moves money, so the version a
    process owner deploys with every rate at 0 waits for a second one, and the rates stay as they were."""
    debtor = migrated_customer(app, {"external_id": "D-1", "name": "Old Debt", "currency": "EUR"})
    invoice = {"customer_id": debtor, "number": "OD-1", "amount": "1000.00", "currency": "EUR"}
    dates = {"issue_date": "2024-01-01", "due_date": "2024-06-30"}
    posted = client.post("/api/invoices", json=invoice | dates, headers=auth(demo_tokens["finance1"]))
    assert posted.status_code == 201, posted.json
    (dunning,) = [b for b in shipped_bundles() if b[0].name == "dunning.bpmn"]
    directory = tmp_path / "bundle"
    directory.mkdir()
    for path in dunning:
        text = path.read_text(encoding="utf-8")
        if path.name == "provision_matrix.dmn":
            for rate in ("0.005", "0.02", "0.05", "0.10", "0.20", "0.35", "0.60", "1.00"):
                text = text.replace(f'Decimal("{rate}")', 'Decimal("0")')
        (directory / path.name).write_text(text, encoding="utf-8")
    deployed = upload(client, demo_tokens["owner1"], sorted(directory.iterdir()))
    assert deployed.status_code == 201 and deployed.json["status"] == "pending", deployed.json
    report = client.get("/api/provisions/preview?as_of=2026-03-02", headers=auth(demo_tokens["cfo1"])).json
    assert report["matrix"] == "provision_matrix.dmn of dunning v1"
    assert report["total"] == "1000.00"  # 610 days past due: 100 %
    # The uploader cannot approve it; a second process owner can, and then its rates count.
    svc = app.extensions["creditflow"]
    with transaction(svc.rt.factory) as session:
        add_user(session, "owner2", groups=["process_owner"], now=svc.clock())
        owner2 = issue_token(session, "owner2", svc.clock())
    tick(client, demo_tokens, app_clock)
    task = approval_task(client, owner2, "dunning", 2)
    assert "provision_matrix.dmn" in task["context"]["instructions"]
    assert decide(client, demo_tokens["owner1"], task["id"], "approve").status_code == 403
    assert decide(client, owner2, task["id"], "approve").status_code == 200
    report = client.get("/api/provisions/preview?as_of=2026-03-02", headers=auth(demo_tokens["cfo1"])).json
    assert (report["matrix"], report["total"]) == ("provision_matrix.dmn of dunning v2", "0.00")
