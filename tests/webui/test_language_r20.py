"""R20's review of issue 20 (findings 2, 6, 7): English our code wrote on zh pages with demo-like data.

The dashboard's provision-snapshot note and watchlist panel, the provisions and collections pages' decision
table names, the customer page's limit history and write-off statuses, the order_release task's refusal
reason, the supplier contract change review task (change summary, four-eyes hint), the flash after a task
and the start pages: each said in Chinese on a zh page and as before (or in English words) on an en page.
"""

from __future__ import annotations

import html
import re
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import SteppingClock
from tests.credit.test_aging_history import NOW, make_book
from tests.helpers import auth, migrated_customer
from tests.webui.test_customer_pages import (
    change_data,
    make_contract,
    open_task,
    record_limit,
    start,
)
from tests.webui.test_language import as_user, visible
from tests.webui.test_pages import csrf_token, deploy_credit_hold, logged_in
from webui.group_labels import actor_label
from webui.i18n import status_label
from webui.instruction_sentences import said_instructions
from workflows.credit.provision_snapshots import post_run
from workflows.credit.watchlist import WatchlistEntry
from workflows.store.db import transaction

pytestmark = pytest.mark.usefixtures("shipped")

JANUARY = date(2026, 1, 31)
ORDERLY = {
    "external_id": "C-720",
    "name": "Orderly Trading GmbH",
    "email": "ap@orderly.example",
    "industry": "wholesale",
    "founded_year": 1999,
    "annual_revenue": "20000000.00",
    "currency": "EUR",
    "credit_limit": "100000.00",
}


def _snapshot_title(page: str) -> str:
    found = re.search(r'data-snapshot="2026-01-31" title="([^"]*)"', page)
    assert found, "no snapshot row"
    return html.unescape(found.group(1))


def _book_with_snapshot_and_watchlist(app: Flask, client: FlaskClient, tokens: dict[str, str]) -> None:
    ids = make_book(app, client, tokens["finance1"])
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        post_run(session, JANUARY, base="EUR", actor="system", now=NOW)
        session.query(WatchlistEntry).delete()
        session.add(
            WatchlistEntry(
                customer_id=ids["CNY"],
                owner="credit_manager",
                indicators=[{"indicator": "utilisation", "severity": "medium", "action": "review"}],
                indicator_names=",utilisation,",
                action="review",
                severity="medium",
                rules="early_warning.dmn of credit_limit_review v1",
                opened_at=NOW,
                evaluated_on=NOW.date(),
            )
        )


def test_the_dashboard_says_its_snapshot_note_and_watchlist_panel_in_the_readers_language(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    _book_with_snapshot_and_watchlist(app, client, demo_tokens)
    zh = as_user(app, "manager1", "zh").get("/dashboard").get_data(as_text=True)
    title = _snapshot_title(zh)
    assert title.startswith("2026年1月31日坏账准备计提快照（") and title.endswith("），过账人：系统"), title
    # The table by the name its DMN gives it in Chinese, then its file (R21 F-12).
    assert "第 1 版的 “坏账准备计提矩阵（IFRS 9 简化方法）”（provision_matrix.dmn）" in title
    assert "dunning" not in title and "provision run" not in title
    watch = zh[zh.index('id="watchlist"') :]
    text = visible(watch[: watch.index("</section>")])
    assert "信用经理" in text and "2026年3月2日" in text and "（中）" in text, text
    assert "credit_manager" not in text and "2026-03-02" not in text
    cap = zh[zh.index('id="cap-source"') :]
    said = '第 1 版的 <span data-value="">“集中度上限”（concentration_cap.dmn）</span>'
    assert said in cap[: cap.index("</p>")]
    assert "credit_limit_review" not in visible(cap[: cap.index("</p>")])

    en = logged_in(app, "analyst1").get("/dashboard").get_data(as_text=True)
    assert _snapshot_title(en) == (
        "the provision run of 31 Jan 2026 (provision_matrix.dmn of dunning v1), posted by the system"
    )
    watch = en[en.index('id="watchlist"') :]
    text = visible(watch[: watch.index("</section>")])
    assert "Credit manager" in text and "2 Mar 2026" in text and "(medium)" in text, text
    assert "concentration_cap.dmn of credit_limit_review v1" in en


def test_the_provisions_and_collections_pages_name_the_process_and_creditflow_in_chinese(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    _book_with_snapshot_and_watchlist(app, client, demo_tokens)
    zh = as_user(app, "finance1", "zh")
    provisions = zh.get("/provisions").get_data(as_text=True)
    text = visible(provisions)
    assert "系统" in text and "dunning v1" not in text and " system" not in text, text
    # The matrix by its DMN's name_zh, then its file.
    matrix = "“坏账准备计提矩阵（IFRS 9 简化方法）”（provision_matrix.dmn）"
    assert f'<span data-value="">{matrix}</span>' in provisions
    collections = visible(as_user(app, "collector1", "zh").get("/collections").get_data(as_text=True))
    assert "第 1 版的" in collections and "dunning v1" not in collections

    en = visible(as_user(app, "finance1", "en").get("/provisions").get_data(as_text=True))
    assert "provision_matrix.dmn of dunning v1" in en and "system" in en


def test_the_customer_page_says_who_changed_the_limit_and_a_write_off_status_in_chinese(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    customer = migrated_customer(app, ORDERLY)
    record_limit(app, customer, "150000.00")  # recorded by creditflow itself ("system")
    zh = visible(as_user(app, "manager1", "zh").get(f"/customers/{customer}").get_data(as_text=True))
    assert "经办人：系统" in zh and "经办人：system" not in zh
    en = visible(as_user(app, "manager1", "en").get(f"/customers/{customer}").get_data(as_text=True))
    assert "by the system" in en
    # A dispute's and a write-off request's statuses (the customer page's legal outcome table).
    with app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        assert [status_label(s) for s in ("proposed", "posted", "resolved", "credited")] == [
            "待审批",
            "已过账",
            "已解决",
            "已开具贷项通知单",
        ]
        assert actor_label("system") == "系统"
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        # English pages name creditflow itself too (R21's F-11: "by system"); the audit filter keeps "system".
        assert status_label("proposed") == "proposed" and actor_label("system") == "the system"


def _held_order(app: Flask, client: FlaskClient, tokens: dict[str, str]) -> dict[str, Any]:
    customer = migrated_customer(app, ORDERLY)
    body = {"customer_id": customer, "order_ref": "SO-2026-0815", "amount": "120000.00", "currency": "EUR"}
    answer = client.post("/api/credit-checks", json=body, headers=auth(tokens["sales1"])).json
    tasks = client.get("/api/tasks", headers=auth(tokens["manager1"])).json["items"]
    [task] = [t for t in tasks if t["instance_id"] == answer["release_instance_id"]]
    return dict(task)


def test_the_order_release_task_says_the_refusal_reason_and_the_done_flash_the_subject_in_chinese(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    task = _held_order(app, client, demo_tokens)
    manager = as_user(app, "manager1", "zh")
    page = manager.get(f"/tasks/{task['id']}").get_data(as_text=True)
    instructions = visible(page[page.index('class="instructions"') :].split("</div>", 1)[0])
    assert "已被冻结：超出信用额度：风险敞口 €0.00 + 订单 €120,000.00 = €120,000.00，信用额度" in instructions
    assert "over the credit limit" not in instructions and "exposure" not in instructions
    english = as_user(app, "manager1", "en").get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert "is held: over the credit limit: exposure €0.00 + order €120,000.00" in html.unescape(english)

    manager = as_user(app, "manager1", "zh")
    token = csrf_token(manager, f"/tasks/{task['id']}")
    done = manager.post(f"/tasks/{task['id']}", data={"csrf_token": token, "decision": "approve"})
    assert done.status_code == 302, done.get_data(as_text=True)
    inbox = html.unescape(manager.get("/inbox").get_data(as_text=True))
    # The subject names the customer (R22-6), not its id.
    assert "已办结：「放行被冻结的订单」（Orderly Trading GmbH 的订单 SO-2026-0815：€120,000.00）" in inbox
    assert "Order SO-2026-0815 of" not in inbox


def test_the_en_done_flash_keeps_the_english_subject(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    task = _held_order(app, client, demo_tokens)
    manager = logged_in(app, "manager1")
    token = csrf_token(manager, f"/tasks/{task['id']}")
    done = manager.post(f"/tasks/{task['id']}", data={"csrf_token": token, "decision": "approve"})
    assert done.status_code == 302
    inbox = html.unescape(manager.get("/inbox").get_data(as_text=True))
    assert "(Order SO-2026-0815 of Orderly Trading GmbH: €120,000.00) is completed." in inbox


def test_the_supplier_change_review_task_says_the_change_and_the_four_eyes_steps_in_chinese(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], app_clock: SteppingClock
) -> None:
    contract = make_contract(client, demo_tokens)
    app_clock.advance(days=1)
    instance = start(client, demo_tokens["buyer1"], "supplier_contract_change", change_data(contract["id"]))
    for user, step in (("finance1", "finance_review"), ("legal1", "legal_review")):
        done = client.post(
            f"/api/tasks/{open_task(instance, step)}/complete",
            json={"data": {"decision": "approve", "comment": "fine"}},
            headers=auth(demo_tokens[user]),
        )
        assert done.status_code == 200, done.json
    instance = client.get(f"/api/process-instances/{instance['id']}", headers=auth(demo_tokens["admin"])).json
    path = f"/tasks/{open_task(instance, 'manager_approval')}"
    page = as_user(app, "pm1", "zh").get(path).get_data(as_text=True)
    instructions = visible(page[page.index('class="instructions"') :].split("</div>", 1)[0])
    assert "账期变更：付款期限（天）：60 → 90。" in instructions, instructions
    assert "payment terms days" not in instructions and "->" not in instructions
    hint = "四眼原则：本案发起人及完成“审核变更（财务）”、“审核变更（法务）”的人员不得办理本任务。"
    assert hint in visible(page) and "legal_review" not in visible(page)
    en = visible(as_user(app, "pm1", "en").get(path).get_data(as_text=True))
    assert "payment terms days: 60 -> 90." in en
    # The steps by their English names, not their element ids (R21's F-11).
    assert "whoever completed Review change (finance), Review change (legal) may not complete this task" in en
    assert "legal_review" not in en


def test_the_start_pages_name_the_process_and_groups_in_chinese(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    zh = as_user(app, "sales1", "zh")
    form = visible(zh.get("/start/credit_application").get_data(as_text=True))
    assert "信用额度申请，第 1 版" in form and "Credit application" not in form, form
    listing = zh.get("/start").get_data(as_text=True)
    assert '<span data-group="sales">销售</span>' in listing or "销售" in visible(listing)
    assert re.search(r"<td>(?:sales|credit_analyst)[,<]", listing) is None
    en = as_user(app, "sales1", "en")
    form = visible(en.get("/start/credit_application").get_data(as_text=True))
    assert "Credit application, version 1" in form
    assert '<span data-group="sales">Sales</span>' in en.get("/start").get_data(as_text=True)


def test_the_start_flash_names_the_process_and_the_new_process_page_its_groups(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    deploy_credit_hold(client, demo_tokens)  # a diagram with no name_zh: its English name is the fallback
    data = {"business_key": "CUST-7", "data": '{"order_amount": 10.5, "available_limit": 5}'}
    flashes = (("zh", "已发起流程 Credit hold on a sales order #"), ("en", "Started credit_hold #"))
    for language, said in flashes:
        sales = as_user(app, "sales1", language)
        token = csrf_token(sales, "/start/credit_hold")
        started = sales.post("/start/credit_hold", data={**data, "csrf_token": token})
        assert started.status_code == 302
        page = html.unescape(sales.get(started.headers["Location"]).get_data(as_text=True))
        assert said in page, language
    zh = as_user(app, "owner1", "zh").get("/definitions/new").get_data(as_text=True)
    assert '<option value="sales" >销售</option>' in zh and ">credit_analyst<" not in zh
    en = as_user(app, "owner1", "en").get("/definitions/new").get_data(as_text=True)
    assert '<option value="sales" >Sales</option>' in en


def test_a_typed_reason_s_own_full_stop_is_not_doubled_in_chinese_instructions(app: Flask) -> None:
    text = "账期变更：60 → 90。变更理由：Volume rebate agreed.。"
    data = {"reason": "Volume rebate agreed.", "change_request": {}}
    with app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        said = said_instructions(text, "supplier_contract_change", data)
        assert said == "账期变更：60 → 90。变更理由：Volume rebate agreed。"
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        english = "Reason: Volume rebate agreed.."
        assert said_instructions(english, "supplier_contract_change", data) == english
