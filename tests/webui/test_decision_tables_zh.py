"""Shipped decision tables speak Chinese on a zh definition page (issue 20, R21 F-12): a DMN element gives
its words in another language as a `spiffworkflow:property` in its `extensionElements`, as a diagram's
`name_zh` does: `name_zh` and `description_zh` on the decision, `label_zh` on a column, `description_zh` on a
rule (its note). Expressions, output names and cells are code: never translated. English pages keep the
English words."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.bpmn.test_credit_application import SOLID_CUSTOMER, apply, create_customer
from tests.helpers import auth
from tests.webui.test_language import switch, visible
from tests.webui.test_pages import logged_in
from tests.workflows.test_decision_log import rule_ids
from workflows.definitions.decision_tables import read_decision_tables

SHIPPED = {path.name: path.read_text(encoding="utf-8") for path in sorted(Path("bpmn").glob("*.dmn"))}
CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_shipped_table_gives_its_name_columns_and_notes_in_chinese() -> None:
    english = read_decision_tables(SHIPPED)
    chinese = read_decision_tables(SHIPPED, "zh")
    assert len(chinese) == len(SHIPPED) == 18
    for en, zh in zip(english, chinese, strict=True):
        assert (zh.file, zh.decision_id, zh.hit_policy) == (en.file, en.decision_id, en.hit_policy)
        assert CJK.search(zh.name) and zh.name != en.name, zh.file
        assert not en.description or CJK.search(zh.description), zh.file
        for en_column, zh_column in zip(en.inputs + en.outputs, zh.inputs + zh.outputs, strict=True):
            # "label (expression)": the label in Chinese, the expression or output name as the file has it
            assert CJK.search(zh_column.split(" (")[0]), (zh.file, zh_column)
            assert zh_column.endswith(en_column[en_column.rindex(" (") :]), (zh.file, zh_column)
        for (en_in, en_out, en_note), (zh_in, zh_out, zh_note) in zip(en.rules, zh.rules, strict=True):
            assert (zh_in, zh_out) == (en_in, en_out), zh.file  # the cells are code
            assert not en_note or CJK.search(zh_note), (zh.file, en_note)
    # English is the file's own words, none of the Chinese ones.
    assert not any(CJK.search(t.name + t.description + "".join(t.inputs + t.outputs)) for t in english)
    authority = next(t for t in chinese if t.decision_id == "approval_authority")
    assert authority.name == "信用额度审批权限"
    assert authority.inputs[1] == '建议额度（本位币） (recommendation["limit_in_base"])'
    assert authority.outputs == ["审批级别 (approval_level)"]
    assert authority.rules[-1][2] == "不超过 100,000：信用分析师独立审批"


ONE_TABLE = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" name="D" namespace="x">
  <decision id="fee" name="Fee">
    <extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="name_zh" value="  " />
      <spiffworkflow:property name="name_fr" value="Frais" />
    </spiffworkflow:properties></extensionElements>
    <decisionTable id="t" hitPolicy="FIRST">
      <input id="i" label="Grade">
        <extensionElements><spiffworkflow:properties>
          <spiffworkflow:property name="label_zh" value="信用等级" />
        </spiffworkflow:properties></extensionElements>
        <inputExpression id="ie" typeRef="string"><text>grade</text></inputExpression>
      </input>
      <output id="o" label="Fee" name="fee" typeRef="number" />
      <rule id="r"><description>Grade A</description>
        <inputEntry id="r1"><text>"A"</text></inputEntry><outputEntry id="r2"><text>10</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
</definitions>
"""


def test_words_a_table_does_not_give_in_a_language_stay_english() -> None:
    [table] = read_decision_tables({"fee.dmn": ONE_TABLE}, "zh")
    # An empty name_zh and another language's name are no Chinese name; the column that has one says it.
    assert table.name == "Fee"
    assert table.inputs == ["信用等级 (grade)"] and table.outputs == ["Fee (fee)"]
    assert table.rules == [(['"A"'], ["10"], "Grade A")]
    [french] = read_decision_tables({"fee.dmn": ONE_TABLE}, "fr")
    assert french.name == "Frais" and french.inputs == ["Grade (grade)"]


@pytest.mark.usefixtures("shipped", "demo_tokens")
def test_a_zh_process_owner_reads_the_decision_tables_of_a_version_in_chinese(app: Flask) -> None:
    owner = logged_in(app, "owner1")
    switch(owner, "zh", "/definitions")
    page = owner.get("/definitions/credit_application/1").get_data(as_text=True)
    # The table's words are data (data-value, the process owner's): read from the page's HTML.
    shown = html.unescape(page)
    assert 'class="panel decision-table"' in page and "决策表：" in visible(page)
    assert ">信用额度审批权限</span>" in shown and "Who approves a credit limit" not in shown
    assert '建议额度（本位币） (recommendation["limit_in_base"])' in shown
    assert "不超过 100,000：信用分析师独立审批" in shown and "Up to 100,000: the analyst alone" not in shown
    assert "按评分卡得分确定信用等级" in shown and "担保品计入比例" in shown
    assert '<code data-value>"analyst"</code>' in shown  # the cells as the file has them
    switch(owner, "en", "/definitions")
    english = html.unescape(owner.get("/definitions/credit_application/1").get_data(as_text=True))
    assert ">Who approves a credit limit</span>" in english and "信用额度审批权限" not in english
    assert "Up to 100,000: the analyst alone" in english


@pytest.mark.usefixtures("shipped")
def test_the_instance_pages_decision_log_names_tables_columns_and_rules_in_chinese(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer = create_customer(client, demo_tokens["sales1"], SOLID_CUSTOMER)
    instance = apply(client, demo_tokens["sales1"], customer["id"], 600_000)
    logged = client.get(
        f"/api/process-instances/{instance['id']}/decisions", headers=auth(demo_tokens["sales1"])
    ).json
    grade = next(d for d in logged["items"] if d["decision_id"] == "credit_scorecard")  # type: ignore[index]
    [rule] = grade["rules"]
    note = dict(zip(rule_ids("credit_scorecard.dmn"), ZH_GRADE_NOTES, strict=True))[rule["id"]]
    sales = logged_in(app, "sales1")
    switch(sales, "zh", "/inbox")
    page = html.unescape(sales.get(f"/instances/{instance['id']}").get_data(as_text=True))
    row = (
        page.split('<tr data-decision="credit_scorecard">')[1]
        .split("<tr data-decision=")[0]
        .split("</section>")[0]
    )
    # The table by its name (its id beside it), the inputs by their columns, the rule's note after its row.
    assert "<span data-value>按评分卡得分确定信用等级</span>" in row and ">credit_scorecard</code>" in row
    assert 'data-key="得分（0–100）"' in row and 'data-key="无付款记录且无外部评级"' in row
    assert 'data-key="scoring[' not in row
    assert f"<small data-value>{note}</small>" in row
    switch(sales, "en", "/inbox")
    english = html.unescape(sales.get(f"/instances/{instance['id']}").get_data(as_text=True))
    row = (
        english.split('<tr data-decision="credit_scorecard">')[1]
        .split("<tr data-decision=")[0]
        .split("</section>")[0]
    )
    assert 'data-key="scoring["score"]"' in row and ">credit_scorecard</code>" in row
    assert not CJK.search(row)


ZH_GRADE_NOTES = (
    "资料不足（无付款记录、无评级）：最高 C 级",
    "85 分及以上",
    "70–84 分",
    "55–69 分",
    "40–54 分",
    "40 分以下",
)
