"""A start the first steps refuse is said in words of the trade (R22 P-1): the process by its name in the
reader's language and the handler's own sentence, with the field as the start form labels it, never the
process key, the service operation or the field id ("supplier_contract_change 无法发起：contract.open_change
执行失败：变更有误：value_impact：…"). The ids stay in the log line and in the API's details."""

from __future__ import annotations

import html
import logging
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.bpmn.test_supplier_contract_change import make_contract
from tests.webui.test_pages import csrf_token, logged_in
from workflows.store.db import transaction
from workflows.users import set_language

pytestmark = pytest.mark.usefixtures("shipped")

IDS = ("supplier_contract_change", "contract.open_change", "open_change", "value_impact")
CHINESE = (
    "无法发起“供应商合同变更”流程：变更有误：价值影响：合同金额变动 ¥58,800,000.00；"
    "申报的价值影响须与该变动方向一致，且金额不低于该变动，而非 ¥1.00。"
)
ENGLISH = (
    "Supplier contract change could not be started: The change has errors: Value impact: The contract "
    "value changes by CN¥58,800,000.00; the value impact must be at least that change in the same "
    "direction, not CN¥1.00."
)


def _start_understated(client: FlaskClient, token: str, contract_id: int, language: str) -> str:
    data = {
        "contract_id": contract_id,
        "change_type": "price",
        "changes": {"value": "60000000.00"},
        "value_impact": "1.00",  # the change raises the value by 58.8 million: refused
        "reason": "price",
    }
    response = client.post(
        "/api/process-instances",
        json={"process_key": "supplier_contract_change", "data": data},
        headers={"Authorization": f"Bearer {token}", "Accept-Language": language},
    )
    assert response.status_code == 422, response.json
    return str(response.json["error"]["message"])


@pytest.mark.parametrize(("language", "said"), [("zh", CHINESE), ("en", ENGLISH)])
def test_a_refused_start_names_the_process_and_the_field_as_the_reader_knows_them(
    app: Flask,
    client: FlaskClient,
    demo_tokens: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    language: str,
    said: str,
) -> None:
    contract = make_contract(client, demo_tokens, currency="CNY")
    with caplog.at_level(logging.INFO, logger="workflows.engine.refusals"):
        message = _start_understated(client, demo_tokens["buyer1"], contract["id"], language)
    assert message == said
    assert not any(name in message for name in IDS), message
    # Whoever reads the log finds the process, the element and the operation that refused.
    (logged,) = [r.getMessage() for r in caplog.records if r.name == "workflows.engine.refusals"]
    assert "supplier_contract_change" in logged and "contract.open_change failed" in logged, logged


def test_the_start_form_of_a_chinese_buyer_says_the_refusal_in_chinese(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    contract = make_contract(client, demo_tokens, currency="CNY")
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        set_language(session, "buyer1", "zh", app.extensions["creditflow"].clock())
    buyer = logged_in(app, "buyer1")
    form = {
        "csrf_token": csrf_token(buyer, "/start/supplier_contract_change"),
        "contract_id": str(contract["id"]),
        "change_type": "price",
        "changes": '{"value": "60000000.00"}',
        "value_impact": "1.00",
        "reason": "价格调整",
    }
    response = buyer.post("/start/supplier_contract_change", data=form)
    assert response.status_code == 422
    page = html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))
    assert CHINESE in " ".join(page.split()), page
    assert "价值影响（合同币种；减少时为负数）" in page  # the field's label says the same words
    assert not any(name in page for name in ("contract.open_change", "执行失败")), page


def test_a_change_of_what_no_change_request_changes_is_refused_in_chinese(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    contract = make_contract(client, demo_tokens)
    data = {
        "contract_id": contract["id"],
        "change_type": "clauses",
        "changes": {"currency": "USD", "x" * 61: "y"},  # not changeable; a term name past 60 characters
        "value_impact": "0",
        "reason": "r",
    }
    response = client.post(
        "/api/process-instances",
        json={"process_key": "supplier_contract_change", "data": data},
        headers={"Authorization": f"Bearer {demo_tokens['buyer1']}", "Accept-Language": "zh"},
    )
    assert response.status_code == 422, response.json
    message = response.json["error"]["message"]
    assert "币种：不能通过变更申请修改。" in message, message  # the column as the contract page says it
    assert "条款名称须为 1 至 60 个字符。" in message, message
    assert message.startswith("无法发起“供应商合同变更”流程：变更有误："), message
