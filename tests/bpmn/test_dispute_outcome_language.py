"""The outcome of a dispute goes to the customer in the customer's language, greeting its contact; the
collector who raised it reads it in the collector's own language (issue 20)."""

from __future__ import annotations

import re

import pytest

from tests.bpmn.test_dispute_resolution import complete, raise_dispute, task_named
from tests.collections_desk import Collections

pytestmark = pytest.mark.usefixtures("shipped")
CJK = re.compile(r"[\u4e00-\u9fff]")


def _body(message: object) -> str:
    text = message.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
    assert text is not None
    return str(text.get_content())


def test_a_zh_customer_reads_the_dispute_outcome_in_chinese_and_greets_its_contact(desk: Collections) -> None:
    customer = desk.customer(
        "上海精密零件有限公司", email="ar@sh.example", language="zh", contact_name="王建国"
    )
    desk.invoice(customer, "INV-Z1", "500.00")
    raised = raise_dispute(desk, desk.tokens["collector1"], customer, ("INV-Z1", "500.00", "delivery"))
    assert raised.status_code == 201, raised.json
    proposal = task_named(desk, desk.tokens["sales1"], "propose_sales")
    done = complete(desk, desk.tokens["sales1"], proposal["id"], decision="reject", comment="delivered")
    assert done.status_code == 200, done.json
    desk.tick(0)
    [letter] = desk.notices_to("ar@sh.example")
    body = _body(letter)
    assert CJK.search(str(letter["Subject"])) and "尊敬的王建国先生/女士：" in body
    # The collector (who chose no language) gets the internal notice in English (the name stays Chinese).
    [internal] = [
        m for m in desk.sink.messages if m["To"] != "ar@sh.example" and "dispute" in str(m["Subject"])
    ]
    assert "Hello," in _body(internal) and "各位同事" not in _body(internal)
