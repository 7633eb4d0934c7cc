"""Refusals name what a credit professional knows, not ids (L1's leftovers of R22 P-1): a contract change's
refused columns by the contract page's labels ("付款期限（天）", not "payment_terms_days"), while the API's
details.fields keep the ids for clients; a refused message by the step that catches it, as its diagram names
it ("付款承诺", not "promise_to_pay")."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.bpmn.test_supplier_contract_change import make_contract
from tests.collections_desk import Collections
from tests.helpers import auth
from workflows.credit.contract_changes import parse_changes
from workflows.errors import Invalid

pytestmark = pytest.mark.usefixtures("shipped")

COLUMN_IDS = ("payment_terms_days", "currency", "start_date")


def _refused_start(client: FlaskClient, token: str, data: dict[str, Any], language: str) -> dict[str, Any]:
    response = client.post(
        "/api/process-instances",
        json={"process_key": "supplier_contract_change", "data": data},
        headers={"Authorization": f"Bearer {token}", "Accept-Language": language},
    )
    assert response.status_code == 422, response.json
    return dict(response.json["error"])


@pytest.mark.parametrize(
    ("language", "terms", "currency", "start"),
    [
        ("zh", "付款期限（天）：须为 0 或以上的整数。", "币种：不能通过变更申请修改。", "起始日期："),
        (
            "en",
            "Payment terms (days): A whole number of 0 or more.",
            "Currency: Cannot be changed by a change request.",
            "Start date: ",
        ),
    ],
)
def test_a_contract_change_names_refused_columns_by_the_contract_page_s_labels(
    client: FlaskClient, demo_tokens: dict[str, str], language: str, terms: str, currency: str, start: str
) -> None:
    contract = make_contract(client, demo_tokens)
    data = {
        "contract_id": contract["id"],
        "change_type": "payment_terms",
        "changes": {"payment_terms_days": "ninety", "currency": "USD", "start_date": "soon"},
        "value_impact": "0",
        "reason": "terms",
    }
    error = _refused_start(client, demo_tokens["buyer1"], data, language)
    message = error["message"]
    assert terms in message and currency in message and start in message, message
    assert not any(column in message for column in COLUMN_IDS), message


def test_the_refusal_s_details_keep_the_column_ids() -> None:
    with pytest.raises(Invalid) as refused:
        parse_changes({"payment_terms_days": -1, "currency": "USD"}, today=date(2026, 12, 7))
    assert set(refused.value.details["fields"]) == {"payment_terms_days", "currency"}
    assert str(refused.value.message).startswith("The change has errors: Payment terms (days): ")


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("zh", r"^实例 \d+ 的“付款承诺”环节无法使用此消息："),
        ("en", r"^The message for 'Promise to pay' in instance \d+ cannot be used: "),
    ],
)
def test_a_refused_message_names_the_step_that_catches_it_by_the_diagram_s_name(
    desk: Collections, language: str, said: str
) -> None:
    customer = desk.customer("Past Promises")
    desk.invoice(customer, "INV-90", "300.00")
    for _ in range(5):
        desk.tick()
    message = {
        "name": "promise_to_pay",
        "correlation_key": str(customer),
        "data": {"promised_date": "2020-01-01", "amount": "300.00"},  # a promise for a past day
    }
    headers = {**auth(desk.tokens["collector1"]), "Accept-Language": language}
    refused = desk.client.post("/api/messages", json=message, headers=headers)
    assert refused.status_code == 422, refused.json
    text = refused.json["error"]["message"]
    assert re.search(said, text), text
    assert "promise_to_pay" not in text, text
