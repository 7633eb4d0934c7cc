"""Hostile calls on the collectors' worklist and contact log (issue 17): other groups, another collector
group's case, crafted JSON, NUL, huge numbers, past dates, a closed case, and two people logging at once."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from handlers.registry import build_operations
from tests.collections_desk import Collections
from tests.helpers import auth
from tests.webui.test_pages import csrf_token, logged_in
from workflows.credit.collection_contacts import CollectionContact
from workflows.credit.promises import DunningPromise, PromiseStatus
from workflows.definitions.deploy import deploy_files, read_files
from workflows.definitions.shipped import shipped_bundles
from workflows.store.db import transaction

pytestmark = pytest.mark.usefixtures("shipped")

PROMISE_SENDERS = (
    '<spiffworkflow:property name="senderGroups" value="collections" />\n          '
    '<spiffworkflow:property name="messageJsonSchemaFilename" value="message_promise_to_pay.json" />'
)


def post(desk: Collections, case_id: int, body: Any, user: str = "collector1") -> Any:
    return desk.client.post(
        f"/api/dunning-cases/{case_id}/contacts", json=body, headers=auth(desk.tokens[user])
    )


def counts(desk: Collections) -> tuple[int, int]:
    """(contacts, promises) stored."""
    with desk.client.application.extensions["creditflow"].rt.factory() as session:
        contacts = session.scalar(select(func.count()).select_from(CollectionContact)) or 0
        promises = session.scalar(select(func.count()).select_from(DunningPromise)) or 0
        return contacts, promises


def open_case(desk: Collections, name: str, amount: str = "1000.00") -> tuple[int, int]:
    customer = desk.customer(name)
    desk.invoice(customer, f"{name[:3].upper()}-1", amount, due=desk.clock.now.date() - timedelta(days=5))
    desk.tick()
    return customer, desk.case(customer)["id"]


def test_only_the_cases_collector_groups_log_and_others_are_refused(desk: Collections) -> None:
    ours_customer, ours = open_case(desk, "Ours Ltd")
    # A process owner's next dunning version hands promises (so the cases) to the collections leads.
    [bundle] = [b for b in shipped_bundles() if b[0].stem == "dunning"]
    files = read_files(bundle)
    text = files["dunning.bpmn"].decode()
    assert text.count(PROMISE_SENDERS) == 1
    files["dunning.bpmn"] = text.replace(
        PROMISE_SENDERS, PROMISE_SENDERS.replace('"collections"', '"collections_lead"')
    ).encode()
    with transaction(desk.client.application.extensions["creditflow"].rt.factory) as session:
        deploy_files(session, files, build_operations(), deployed_by="system", now=desk.clock.now)
    theirs_customer, theirs = open_case(desk, "Theirs Ltd")
    body = {"kind": "call", "outcome": "reached"}

    def seen(user: str) -> set[int]:
        response = desk.client.get("/api/collections?due=all", headers=auth(desk.tokens[user]))
        assert response.status_code == 200, response.json
        return {row["case_id"] for row in response.json["items"]}

    assert seen("collector1") == {ours}
    assert seen("lead1") == seen("manager1") == seen("auditor1") == {ours, theirs}
    refused = post(desk, theirs, body)
    assert refused.status_code == 403 and "collections_lead" in refused.json["error"]["message"]
    assert (
        desk.client.get(
            f"/api/dunning-cases/{theirs}/contacts", headers=auth(desk.tokens["collector1"])
        ).status_code
        == 403
    )
    for user in ("sales1", "finance1", "manager1", "auditor1", "legal1", "lead1"):
        assert post(desk, ours, body, user).status_code == 403, user
    for user in ("sales1", "finance1", "legal1", "analyst1"):
        assert desk.client.get("/api/collections", headers=auth(desk.tokens[user])).status_code == 403, user
    assert counts(desk) == (0, 0)
    assert post(desk, theirs, body, "lead1").status_code == 201
    assert post(desk, ours, body).status_code == 201
    assert (ours_customer, theirs_customer) and counts(desk) == (2, 0)


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"kind": {"a": 1}, "outcome": "reached"}, {"kind"}),
        ({"kind": "fax", "outcome": "reached"}, {"kind"}),
        ({"kind": "call", "outcome": ["promise"]}, {"outcome"}),
        ({"kind": "call", "outcome": "reached", "note": 5}, {"note"}),
        ({"kind": "call", "outcome": "reached", "note": "x" * 2001}, {"note"}),
        ({"kind": "call", "outcome": "reached", "next_action": "y" * 201}, {"next_action"}),
        ({"kind": "call", "outcome": "reached", "actor": "ceo"}, {"actor"}),
        ({"kind": "call", "outcome": "reached", "at": "2020-01-01T00:00:00+00:00"}, {"at"}),
        ({"kind": "call", "outcome": "promise"}, {"promised_date", "promised_amount"}),
        ({"kind": "call", "outcome": "reached", "promised_amount": "10.00"}, {"promised_amount"}),
        (
            {"kind": "call", "outcome": "promise", "promised_date": "2026-03-20", "promised_amount": 100.555},
            {"promised_amount"},
        ),
        (
            {"kind": "call", "outcome": "promise", "promised_date": "2026-03-20", "promised_amount": "1e400"},
            {"promised_amount"},
        ),
        (
            {
                "kind": "call",
                "outcome": "promise",
                "promised_date": "2026-03-20",
                "promised_amount": "99999999999999999999.99",
            },
            {"promised_amount"},
        ),
        (
            {"kind": "call", "outcome": "promise", "promised_date": "2026-03-20", "promised_amount": "-5.00"},
            {"promised_amount"},
        ),
        (
            {"kind": "call", "outcome": "promise", "promised_date": "2026-03-20", "promised_amount": "0"},
            {"promised_amount"},
        ),
        (
            {
                "kind": "call",
                "outcome": "promise",
                "promised_date": "2026-03-20",
                "promised_amount": "10.001",
            },
            {"promised_amount"},
        ),
        (
            {
                "kind": "call",
                "outcome": "promise",
                "promised_date": "2026-03-20",
                "promised_amount": "10.00",
                "next_action_date": "2026-03-21",
            },
            {"next_action_date"},
        ),
        ({"kind": "call", "outcome": "reached", "next_action_date": "2026-02-30"}, {"next_action_date"}),
        ({"kind": "call", "outcome": "reached", "next_action_date": 20260401}, {"next_action_date"}),
        ({"kind": "call", "outcome": "reached", "next_action_date": "99999-01-01"}, {"next_action_date"}),
        (
            {"kind": "call", "outcome": "reached", "next_action_date": "2026-03-01"},
            {"next_action_date"},
        ),  # past
        (
            {"kind": "call", "outcome": "promise", "promised_date": "2026-03-01", "promised_amount": "10.00"},
            {"promised_date"},
        ),
    ],
)
def test_crafted_bodies_are_422_naming_the_fields_and_write_nothing(
    desk: Collections, body: dict[str, Any], fields: set[str]
) -> None:
    _, case_id = open_case(desk, "Crafty Ltd")  # the clock is on 2026-03-03: 03-01 is past
    response = post(desk, case_id, body)
    assert response.status_code == 422, response.json
    assert set(response.json["error"]["fields"]) == fields
    assert counts(desk) == (0, 0)


@pytest.mark.parametrize(
    "raw", [b"[]", b"null", b'"call"', b"{", b'{"kind": "call", "kind": "email", "outcome": "reached"}']
)
def test_bodies_that_are_no_json_object_are_400(desk: Collections, raw: bytes) -> None:
    _, case_id = open_case(desk, "Nobody Ltd")
    response = desk.client.post(
        f"/api/dunning-cases/{case_id}/contacts",
        data=raw,
        content_type="application/json",
        headers=auth(desk.tokens["collector1"]),
    )
    assert response.status_code in (400, 422) and response.status_code != 500
    assert counts(desk) == (0, 0)


def test_nul_bytes_are_refused_by_the_api_and_the_page(desk: Collections, app: Flask) -> None:
    _, case_id = open_case(desk, "Nul Ltd")
    for field in ("note", "next_action"):
        response = post(desk, case_id, {"kind": "call", "outcome": "reached", field: "a\x00b"})
        assert response.status_code in (400, 422), response.json
    web = logged_in(app, "collector1")
    page = web.post(
        f"/collections/{case_id}/contacts",
        data={"csrf_token": csrf_token(web), "kind": "call", "outcome": "reached", "note": "a\x00b"},
    )
    assert page.status_code in (400, 422)
    assert counts(desk) == (0, 0)


def test_huge_and_unknown_case_ids_are_404(desk: Collections) -> None:
    body = {"kind": "call", "outcome": "reached"}
    for case_id in (999, 2**31 - 1):
        assert post(desk, case_id, body).status_code == 404
    assert post(desk, 2**31, body).status_code in (400, 404)
    assert post(desk, 10**30, body).status_code in (400, 404)
    assert counts(desk) == (0, 0)


def test_a_closed_case_takes_no_contact(desk: Collections) -> None:
    customer, case_id = open_case(desk, "Paidup Ltd", "300.00")
    assert desk.pay(customer, "300.00", "PAIDUP-1").status_code == 201
    assert desk.case(customer)["status"] == "closed"
    refused = post(desk, case_id, {"kind": "call", "outcome": "reached"})
    assert refused.status_code == 409 and "closed" in refused.json["error"]["message"]
    promise = {
        "kind": "call",
        "outcome": "promise",
        "promised_date": "2026-03-20",
        "promised_amount": "300.00",
    }
    assert post(desk, case_id, promise).status_code == 409
    assert counts(desk) == (0, 0)
    assert (
        desk.client.get("/api/collections?due=all", headers=auth(desk.tokens["collector1"])).json["items"]
        == []
    )


def test_two_people_logging_at_once_leave_one_open_promise(desk: Collections) -> None:
    customer, case_id = open_case(desk, "Twice Ltd", "800.00")
    app = desk.client.application
    results: dict[str, int] = {}
    start = threading.Barrier(2)

    def log(user: str, day: int) -> None:
        client = app.test_client()
        body = {
            "kind": "call",
            "outcome": "promise",
            "promised_date": f"2026-03-{day}",
            "promised_amount": "800.00",
        }
        start.wait()
        response = client.post(
            f"/api/dunning-cases/{case_id}/contacts", json=body, headers=auth(desk.tokens[user])
        )
        results[user] = response.status_code

    threads = [threading.Thread(target=log, args=(u, d)) for u, d in (("collector1", 20), ("admin", 25))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(results.values()) <= {201, 409, 503} and 201 in results.values(), results
    with app.extensions["creditflow"].rt.factory() as session:
        promises = list(session.scalars(select(DunningPromise).where(DunningPromise.case_id == case_id)))
        contacts = list(
            session.scalars(select(CollectionContact).where(CollectionContact.case_id == case_id))
        )
    assert len([p for p in promises if p.status == PromiseStatus.OPEN]) == 1
    assert len(contacts) == list(results.values()).count(201)
    assert {c.promise_id for c in contacts} <= {p.id for p in promises}
    assert {c.actor for c in contacts} == {u for u, s in results.items() if s == 201}
    case = desk.case(customer)
    assert case["status"] == "paused"


def test_a_contact_that_cannot_be_written_leaves_no_promise(
    desk: Collections, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The promise (the instance's step) and its contact row are one transaction: a failure writing the
    contact (here a crash of add_contact) rolls the promise back, and the case still waits for one."""
    customer, case_id = open_case(desk, "Crash Ltd", "700.00")
    before = counts(desk)
    body = {"kind": "call", "outcome": "promise", "promised_date": "2026-03-20", "promised_amount": "700.00"}

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the disk filled up")

    monkeypatch.setattr("workflows.credit.collection_log.add_contact", crash)
    assert post(desk, case_id, body).status_code == 500  # the simulated crash, logged as unhandled
    assert counts(desk) == before
    assert desk.case(customer)["status"] != "paused"
    monkeypatch.undo()
    response = post(desk, case_id, body)
    assert response.status_code == 201, response.json
    assert response.json["promise_id"] is not None
    assert counts(desk) == (before[0] + 1, before[1] + 1)
    assert desk.case(customer)["status"] == "paused"
