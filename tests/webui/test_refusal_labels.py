"""Refusals name what a credit professional knows, not ids (L1's leftovers of R22 P-1): a contract change's
refused columns by the contract page's labels ("付款期限（天）", not "payment_terms_days"), while the API's
details.fields keep the ids for clients."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.bpmn.test_supplier_contract_change import make_contract
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
