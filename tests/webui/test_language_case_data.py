"""Every shipped process's case data and history on zh pages (issue 20, review R20 finding 1): the keys our
diagrams and handlers write (change_request_id, fee_level_1, write_off_amount, business_key, ...) are labelled
in Chinese, and values that are our codes (wait, open, settled, credit_manager, unchanged, approve) are said
in it. Unlike tests/webui/test_language.py this looks INSIDE `data-value`: a key cell may hide nothing, and
a value cell may keep only what a person or the ERP typed.

The demo's cases (workflows/cli/demo.start_demo_cases: a credit application, a payment terms exception, a
contract change, a held order, a write-off, a dispute, a dunning case) and a limit review started by hand
are read by the demo admin in Chinese on every open task page and every instance page."""

from __future__ import annotations

import dataclasses
import html
import re
import typing
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from handlers.registry import build_operations
from tests.bpmn.test_dunning_languages import post_invoice
from tests.collections_desk import DUE, Collections
from tests.helpers import auth
from tests.webui.test_customer_pages import make_contract, run_change_to_version_2
from tests.webui.test_language import as_user
from webui.case_keys import KEY_LABELS
from workflows.cli.demo import seed_demo, start_demo_cases
from workflows.credit import roles
from workflows.credit.models import Customer
from workflows.engine.runner import start_instance
from workflows.settings import BPMN_DIR
from workflows.store.db import transaction
from workflows.store.models import InboxItem, ProcessInstance
from workflows.users import actor_for, get_user

pytestmark = pytest.mark.usefixtures("shipped")

# An id as our code writes it: snake_case (fee_level_1, business_key).
SNAKE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")
# Values our code writes that R20 found raw on zh pages, and their like: shown alone in a value cell they are
# a code, never a person's words.
CODES = frozenset(
    {
        "wait", "close", "open", "unreachable", "promised", "disputed", "refused", "settled", "recovered",
        "uncollectable", "credit_manager", "credit_analyst", "sales", "finance", "legal", "unchanged",
        "increase", "decrease", "approve", "reject", "price", "payment_terms", "posted", "released", "held",
        "running", "completed",
    }
)  # fmt: skip


class _Cells(HTMLParser):
    """The case-data tables' key cells (`th[data-key]`, data-value included), their leaf value cells, and
    the history's detail lines (`small`), each as its whole text."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: list[str] = []
        self.values: list[str] = []
        self.details: list[str] = []
        self.open: list[tuple[str, list[str]]] = []  # (kind, text parts) of the cells being read

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "th" and "data-key" in values:
            self.open.append(("key", []))
        elif tag == "td" and any(kind == "kv" for kind, _ in self.open[-1:]):
            self.open.append(("value", []))
        elif tag == "table" and "kv" in (values.get("class") or "").split():
            if self.open and self.open[-1][0] == "value":
                self.open[-1] = ("nested", [])  # a value cell holding a table: its cells are read themselves
            self.open.append(("kv", []))
        elif tag == "small":
            self.open.append(("small", []))

    def handle_endtag(self, tag: str) -> None:
        ends = {"th": "key", "td": "value", "table": "kv", "small": "small"}
        if tag == "td" and self.open and self.open[-1][0] == "nested":
            self.open.pop()
            return
        if not self.open or self.open[-1][0] != ends.get(tag):
            return
        kind, parts = self.open.pop()
        text = " ".join("".join(parts).split())
        {"key": self.keys, "value": self.values, "small": self.details}.get(kind, []).append(text)

    def handle_data(self, data: str) -> None:
        if self.open:
            self.open[-1][1].append(data)


def cells(page: str) -> _Cells:
    parser = _Cells()
    parser.feed(page)
    return parser


# An instance page's decision log shows each decision table's input expressions and rule ids as the table's
# author wrote them (like the decision ids): not case data.
DECISIONS = re.compile(r'<section class="panel" id="decisions">.*?</section>', re.S)


def _leftovers(page: str) -> list[str]:
    found = cells(DECISIONS.sub("", page))
    left = [f"key {key!r}" for key in found.keys if SNAKE.search(key) or key in CODES]
    left += [f"value {value!r}" for value in found.values if value in CODES]
    for line in found.details:
        for part in line.split(" · "):
            label = part.split("：", 1)[0]
            if SNAKE.search(label) or re.fullmatch(r"[a-z]+", label):
                left.append(f"history {part!r}")
    return left


@pytest.fixture
def demo_cases(app: Flask, demo_tokens: dict[str, str]) -> dict[str, Any]:
    svc = app.extensions["creditflow"]
    with transaction(svc.rt.factory) as session:
        seed_demo(session, svc.clock())
    start_demo_cases(svc.rt, svc.clock())
    with svc.rt.factory() as session:
        customer_id = session.scalar(select(Customer.id).where(Customer.external_id == "C-1001"))
        manager = actor_for(get_user(session, "manager1"))
    review = {"customer_id": customer_id, "reason": "manual"}
    start_instance(svc.rt, roles.CREDIT_LIMIT_REVIEW, review, actor=manager, now=svc.clock())
    with transaction(svc.rt.factory) as session:
        instances = dict(session.execute(select(ProcessInstance.id, ProcessInstance.process_key)).all())
        tasks = dict(
            session.execute(
                select(InboxItem.id, InboxItem.instance_id).where(InboxItem.status == "open")
            ).all()
        )
    return {"instances": instances, "tasks": tasks}


def test_a_zh_reader_sees_no_key_or_code_of_ours_in_any_shipped_process_s_case_data(
    app: Flask, demo_cases: dict[str, Any]
) -> None:
    keys = set(demo_cases["instances"].values())
    assert {roles.DUNNING, roles.WRITE_OFF, roles.SUPPLIER_CONTRACT_CHANGE, roles.CREDIT_LIMIT_REVIEW} <= keys
    reader = as_user(app, "admin", "zh")  # the demo admin, reading Chinese
    left: dict[str, list[str]] = {}
    pages = [f"/instances/{i}" for i in demo_cases["instances"]] + [
        f"/tasks/{t}" for t in demo_cases["tasks"]
    ]
    shown = 0
    for path in pages:
        response = reader.get(path)
        assert response.status_code == 200, path
        page = response.get_data(as_text=True)
        assert '<html lang="zh-Hans"' in page, path
        shown += len(cells(page).keys)
        if found := _leftovers(page):
            left[path] = found
    assert shown > 200  # the tables were read: each case writes dozens of keys
    # The contract's page names the demo contract's clauses in Chinese too (its current terms and versions).
    contract = reader.get("/contracts/1").get_data(as_text=True)
    assert _leftovers(contract) == [] and contract.count("责任条款") >= 2 and "终止条款" in contract
    assert not left, "\n".join(f"{path}: {found}" for path, found in left.items())


def test_the_keys_r20_named_have_chinese_labels_and_codes_are_said(app: Flask) -> None:
    from webui.case_labels import data_label, data_value

    with app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        named = "change_request_id value_impact fee_level_1 promise_max_days write_off_amount review_need"
        for key in f"{named} order_value business_key before price delivery liability".split():
            assert key in KEY_LABELS and not SNAKE.search(data_label(key)), key
        assert data_label("promised_amount") == "承诺付款金额"  # a form field: its title_zh
        said = {
            ("action", "wait"): "等待付款",
            ("status", "open"): "待处理",
            ("outcome", "settled"): None,
            ("approval_level", "credit_manager"): "信用经理",
            ("change", "unchanged"): "额度不变",
            ("decision", "approve"): None,
            ("outcome", "unreachable"): "无法联系",
        }
        for (key, code), chinese in said.items():
            value = data_value(key, code, code)
            assert value != code and (chinese is None or value == chinese), (key, code, value)
        assert data_value("comment", "approve", "approve") == "approve"  # a person's words stay as typed
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        # English pages read the same labels and codes in English.
        assert data_label("fee_level_1") == "Fee at level 1"
        assert data_value("action", "wait", "wait") == "wait for payment"
        assert data_value("approval_level", "credit_manager", "credit_manager") == "Credit manager"


def test_a_dunning_case_s_call_promise_and_legal_handover_pages_in_chinese(
    app: Flask, desk: Collections
) -> None:
    """The dunning walk of the collections desk (tests/bpmn/test_dunning_languages.py): the collector's call
    (disputes, promises and no answer write their keys), the promise's approval and the legal handover."""
    customer = desk.customer(
        "上海精密零件有限公司", email="ar@sh-precision.example", currency="CNY", language="zh"
    )
    post_invoice(desk, customer, "SH-1", "120000.00", "CNY")
    reader = as_user(app, "admin", "zh")
    seen: set[str] = set()
    left: dict[str, list[str]] = {}

    def read(task: dict[str, Any]) -> None:
        seen.add(task["name"])
        for path in (f"/tasks/{task['id']}", f"/instances/{task['instance_id']}"):
            if found := _leftovers(reader.get(path).get_data(as_text=True)):
                left[f"{task['name']} {path}"] = found

    answers = iter(
        [
            {"outcome": "promised", "promised_date": (DUE + timedelta(days=60)).isoformat(),
             "promised_amount": "20000.00", "comment": "pays in instalments"},
        ]
    )  # fmt: skip
    for _day in range(60):
        desk.tick()
        for task in desk.open_tasks("collector1"):
            read(task)
            answer = next(answers, {"outcome": "unreachable", "comment": "voicemail"})
            assert desk.complete("collector1", task["id"], **answer).status_code == 200
        for user in ("manager1", "lead1"):
            for task in desk.open_tasks(user) if user in desk.tokens else []:
                read(task)
                decision = "reject" if task["name"] != "approve_legal_handover" else "approve"
                assert desk.complete(user, task["id"], decision=decision).status_code == 200
        if "approve_legal_handover" in seen:
            break
    assert {"call_customer", "approve_legal_handover"} <= seen, seen
    assert not left, "\n".join(f"{path}: {found}" for path, found in left.items())


def test_every_result_a_shipped_diagram_stores_has_a_chinese_label(app: Flask) -> None:
    """The walks above reach most of the data, not every branch: each service task's resultVariable in the
    shipped diagrams (an approval letter, a rejection notice, a new contract version...) and each field of
    the shipped operations' results is labelled too."""
    from webui.case_labels import data_label

    stored = set()
    for path in BPMN_DIR.glob("*.bpmn"):
        diagram = path.read_text(encoding="utf-8")
        stored |= set(re.findall(r'resultVariable="(\w+)"', diagram))
        # what a task's script keeps (finance_review = {"decision": ...})
        for script in re.findall(
            r"<(?:spiffworkflow:postScript|spiffworkflow:preScript|bpmn:script)>(.*?)</", diagram, re.S
        ):
            stored |= set(re.findall(r"(?m)^\s*([a-z_]\w*)\s*=(?!=)", html.unescape(script)))
    assert len(stored) > 40
    # ... and each field of what a service operation returns (the result a resultVariable holds).
    for operation in build_operations().values():
        result = typing.get_type_hints(operation.func).get("return")
        if dataclasses.is_dataclass(result):  # all but dispute.open, which returns a plain dict
            stored |= {field.name for field in dataclasses.fields(result)}
    with app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        unlabelled = sorted(key for key in stored if data_label(key) == key or SNAKE.search(data_label(key)))
    assert unlabelled == []


def test_a_contract_change_walked_to_version_2_and_an_order_hold_read_in_chinese(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], demo_cases: dict[str, Any]
) -> None:
    """The contract change after its reviews, approval and countersignature (its history says the request's
    statuses), and the demo's held order (its case data says the hold's reason, our sentence)."""
    contract = make_contract(client, demo_tokens, number="PC-ZH-1")
    instance_id = run_change_to_version_2(client, demo_tokens, contract["id"])
    reader = as_user(app, "admin", "zh")
    page = reader.get(f"/instances/{instance_id}").get_data(as_text=True)
    left = _leftovers(page)
    assert left == [], left
    details = " ".join(cells(page).details)
    assert "awaiting" not in details and "待会签" in details, details
    # The supplier panel's versions name our clauses (R21's F-5: 'price: EUR 820 per tonne' in data-value).
    tasks = client.get(f"/api/process-instances/{instance_id}", headers=auth(demo_tokens["admin"])).json[
        "tasks"
    ]
    task_page = reader.get(f"/tasks/{tasks[0]['id']}").get_data(as_text=True)
    versions = task_page[task_page.index("<h3>版本</h3>") :].split("</table>")[0]
    assert "价格：" in versions and "price:" not in versions, versions
    [held] = [i for i, key in demo_cases["instances"].items() if key == roles.ORDER_RELEASE]
    shown = " ".join(cells(reader.get(f"/instances/{held}").get_data(as_text=True)).values)
    assert "over the credit limit" not in shown and "信用额度" in shown, shown
