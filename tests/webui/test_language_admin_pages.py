"""The process and audit pages in the user's language (issue 20): definitions (list, a version, the editor),
an instance page, the start form with its customer picker, the audit trail and the segregation-of-duties
report, suppliers and contracts. A zh user sees no English string of the catalogue on them; after the
header's switch the English words are back and no Chinese stays (test_language_pages.py: the credit desk).

They are read with the same strict check as the must-show pages (test_language.english_left): our words
are said in Chinese, and what is shown as stored (process keys, element and decision ids, JSON, names and
terms people typed) is marked `data-value` by the templates."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import SteppingClock
from tests.webui.test_customer_pages import make_contract, overdue_customer, run_change_to_version_2  # noqa: F401
from tests.webui.test_language import english_left, switch, visible
from tests.webui.test_language_pages import read_in_chinese, read_in_english
from tests.webui.test_pages import logged_in
from workflows.audit_trail import OBJECT_KINDS

pytestmark = pytest.mark.usefixtures("shipped")


def test_a_zh_process_owner_reads_the_definitions_in_chinese_and_back_in_english(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    owner = logged_in(app, "owner1")
    switch(owner, "zh", "/definitions")
    paths = (
        "/definitions",
        "/definitions?q=nothing-like-this",
        "/definitions/credit_application/1",
        "/definitions/credit_application/1/edit",
    )
    # A version's page shows its decision tables as the DMN files say them (their names, columns, cells and
    # notes are the process owner's English, marked data-value); everything around them is in Chinese.
    zh = read_in_chinese(owner, *paths)
    version = owner.get(paths[2]).get_data(as_text=True)
    assert 'class="panel decision-table"' in version and '<th class="output" data-value>' in version
    assert "流程定义" in zh["/definitions"] and "校验并部署" in zh["/definitions"]
    assert "编辑为新版本" in zh["/definitions"] and "已启用" in zh["/definitions"]
    # Process names as the diagrams name them (name_zh), start groups and the system by their names.
    assert "信用额度申请" in zh["/definitions"] and "Credit application" not in zh["/definitions"]
    assert "信用分析师" in zh["/definitions"] and "系统" in zh["/definitions"]
    assert "没有流程键包含“nothing-like-this”的已部署流程" in zh["/definitions?q=nothing-like-this"]
    assert "本次部署的文件" in zh["/definitions/credit_application/1"]
    assert "部署为新版本" in zh["/definitions/credit_application/1/edit"]
    switch(owner, "en", "/definitions")
    en = read_in_english(owner, *paths)
    assert "Validate and deploy" in en["/definitions"] and "Files of this deployment" in en[paths[2]]
    assert "Credit application" in en["/definitions"] and "Credit analyst" in en["/definitions"]
    assert "Deploy as new version" in en["/definitions/credit_application/1/edit"]


def test_a_zh_analyst_reads_an_instance_and_starts_a_process_with_the_picker_in_chinese(
    app: Flask,
    demo_tokens: dict[str, str],
    overdue_customer: dict[str, Any],  # noqa: F811
) -> None:
    instance = f"/instances/{overdue_customer['application']['id']}"
    sales = logged_in(app, "sales1")
    switch(sales, "zh", "/start")
    zh = read_in_chinese(
        sales, "/instances", "/instances?status=running", instance, "/start", "/start/credit_application"
    )
    assert "决策" in zh[instance] and "任务" in zh[instance] and "版本" in zh[instance]
    assert "业务编号" in zh["/start/credit_application"] and "发起" in zh["/start/credit_application"]
    fragments = (
        "/start/pick/customer_id?customer_id_search=slow",
        "/start/pick/customer_id?customer_id_search=nobody-is-called-this",
        f"/start/pick/customer_id/{overdue_customer['id']}",
    )
    for path in fragments:
        fragment = sales.get(path).get_data(as_text=True)
        assert english_left(fragment) == [], path
    assert "没有匹配的客户" in visible(sales.get(fragments[1]).get_data(as_text=True))
    assert "已选：" in visible(sales.get(fragments[2]).get_data(as_text=True))
    switch(sales, "en", "/start")
    en = read_in_english(sales, "/instances", instance, "/start", "/start/credit_application")
    assert "Decisions" in en[instance] and "Business key" in en["/start/credit_application"]
    assert "No customer matches." in visible(sales.get(fragments[1]).get_data(as_text=True))
    assert "Chosen:" in visible(sales.get(fragments[2]).get_data(as_text=True))


def test_a_zh_auditor_reads_the_audit_trail_and_the_sod_report_in_chinese_and_back_in_english(
    app: Flask,
    demo_tokens: dict[str, str],
    overdue_customer: dict[str, Any],  # noqa: F811
) -> None:
    auditor = logged_in(app, "auditor1")
    switch(auditor, "zh", "/audit")
    paths = ("/audit", "/audit?actor=nobody", "/audit/sod", "/audit/sod?from=2001-01-01&to=2001-01-31")
    # The object filter's hint names the kinds a user types (customer:1), as the filter reads them.
    # The SoD report's summaries and rules are said in Chinese (workflows/sod_report.py's Texts), with the
    # reason the import stored ("migrated from ERP") and the process of a change by their names.
    zh = read_in_chinese(auditor, *paths, names=(*OBJECT_KINDS, "from"))
    assert "无需审批：在流程外设定（从 ERP 迁移）" in zh["/audit/sod"]
    assert "（信用额度申请）" in zh["/audit/sod"]
    # An authority level by the group with the last word in it, the groups by their names.
    assert "approval_authority.dmn：审批级别 信用经理（信用分析师 + 信用经理）" in zh["/audit/sod"]
    assert "职责分离报告" in zh["/audit"] and "变更前" in zh["/audit"]
    assert "客户已创建" in zh["/audit"]  # the kinds of change as the history tables say them
    assert "系统" in zh["/audit"]  # creditflow itself, as the actor of jobs and timers
    assert "没有符合筛选条件的变更" in zh["/audit?actor=nobody"]
    assert "同一人出现两次" in zh["/audit/sod"] and "审批权限规则" in zh["/audit/sod"]
    assert "本期没有资金变动" in zh["/audit/sod?from=2001-01-01&to=2001-01-31"]
    switch(auditor, "en", "/audit")
    en = read_in_english(auditor, *paths)
    assert "Before" in en["/audit"] and "customer created" in en["/audit"]
    assert "Authority rule" in en["/audit/sod"] and "system" in en["/audit"]
    assert "approval_authority.dmn: level manager (credit_analyst + credit_manager)" in en["/audit/sod"]
    assert "no approval: set outside a process (migrated from ERP)" in en["/audit/sod"]


def test_a_zh_finance_user_reads_suppliers_and_contracts_in_chinese_and_back_in_english(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], app_clock: SteppingClock
) -> None:
    contract = make_contract(client, demo_tokens)
    app_clock.advance(days=1)
    run_change_to_version_2(client, demo_tokens, contract["id"])
    finance = logged_in(app, "finance1")
    switch(finance, "zh", "/suppliers")
    supplier, page = f"/suppliers/{contract['supplier']['id']}", f"/contracts/{contract['id']}"
    paths = ("/suppliers", "/suppliers?q=nobody", "/contracts", "/contracts?q=nobody", supplier, page)
    zh = read_in_chinese(finance, *paths)
    assert "1 家供应商" in zh["/suppliers"] and "等级有效期至" in zh["/suppliers"]
    assert "没有符合筛选条件的供应商" in zh["/suppliers?q=nobody"] and "1 份合同" in zh["/contracts"]
    assert "供应商档案" in zh[supplier] and "风险评估" in zh[supplier] and "90 天" in zh[page]
    assert "现行有效" in zh[page] and "付款条件" in zh[page] and "€1,200,000.00" in zh[page]
    for path in (supplier, page, "/contracts"):  # a contract's value is 合同金额, not 价值 (R22-3)
        assert "合同金额" in zh[path] and "价值" not in zh[path], path
    # The supplier scorecard's factors, the contract's own columns and the approvers' tasks by their names.
    assert "交货 94" in zh[supplier] and "外部评级 90" in zh[supplier]
    assert "付款期限（天）" in zh[page] and "开始日期" in zh[page] and "2026年1月1日" in zh[page]
    assert 'data-step="finance_review"' in finance.get(page).get_data(as_text=True)
    # The review task's page shows the same terms in its supplier panel.
    case = re.search(r'href="/instances/(\d+)"', finance.get(page).get_data(as_text=True))
    assert case is not None
    task = re.search(
        r'href="(/tasks/\d+)"', finance.get(f"/instances/{case.group(1)}").get_data(as_text=True)
    )
    assert task is not None
    panel = (
        finance.get(task.group(1)).get_data(as_text=True).split('class="panel case-panel supplier-panel"')[1]
    )
    assert "开始日期" in visible(panel.split("</section>")[0]) and "start date" not in panel
    history = visible(finance.get(task.group(1)).get_data(as_text=True))
    assert "合同变更已提交" in history and "合同变更已批准" in history and "合同版本已生成" in history
    switch(finance, "en", "/suppliers")
    en = read_in_english(finance, *paths)
    assert "1 supplier" in en["/suppliers"] and "Supplier file" in en[supplier]
    assert "in force" in en[page] and "90 days" in en[page] and "€1,200,000.00" in en[page]
    assert "delivery 94" in en[supplier] and "payment terms days" in en[page]
