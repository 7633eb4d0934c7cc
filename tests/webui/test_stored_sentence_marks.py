"""One mechanism for the English our code stores (issue 20): handlers and the migration import store
sentences made with workflows.messages._ (catalogue msgids), and pages say them through said_stored: the
limit-review `basis`/`why`, limit-change reasons, a promise's `outside` limits, a dunning notice that could
not be sent, and SpiffWorkflow's own frames around a failure in an incident (the element id and line kept).
The case-data table writes amounts in the case's currency and ISO days as the page writes dates."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from flask import Flask
from flask.ctx import RequestContext
from flask_babel import gettext

from tests.engine.test_bomb_diagrams import deploy_and_start, incident_of, rt, script_bomb  # noqa: F401
from webui.case_labels import data_list, data_value
from webui.stored_sentences import said_stored
from workflows.engine.runner import Runtime
from workflows.messages import _
from workflows.money import format_money


def _in(app: Flask, language: str) -> RequestContext:
    return app.test_request_context("/", headers={"Accept-Language": language})


# What the handlers store (their English, as the rows hold it) and what a zh reader reads.
STORED = [
    ("basis", "no increase on a scheduled review", "本次额度复核（触发原因：定期复核）不上调额度"),
    (
        "basis",
        "no increase on a dunning review: the customer is in dunning",
        "本次额度复核（触发原因：进入催收）不上调额度：客户正在催收中",
    ),
    (
        "basis",
        "current limit kept: annual_revenue, financial_ratios missing, an analyst decides",
        "维持当前额度（缺少：年营业收入、财务比率），由信用分析师决定",
    ),
    ("basis", "the formula", "按公式计算"),
    ("why", "decrease: applies at once", "下调额度，直接生效"),
    ("why", "a fall of 3 grades", "信用等级下调 3 级"),
]


@pytest.mark.parametrize(("key", "stored", "chinese"), STORED)
def test_the_handlers_sentences_are_said_from_their_msgids(
    app: Flask, key: str, stored: str, chinese: str
) -> None:
    with _in(app, "zh"):
        assert data_value(key, stored, stored) == chinese
    with _in(app, "en"):
        # Our English as stored; the case-data keys it names by their labels (R21's F-11).
        english = stored.replace("annual_revenue, financial_ratios", "annual revenue, financial ratios")
        assert data_value(key, stored, stored) == english


def test_the_stored_english_is_the_msgid_s_so_older_rows_read_the_same(app: Flask) -> None:
    made = _(
        "no increase on a %(trigger)s review: the customer is in %(signal)s",
        trigger="overdue",
        signal="overdue",
    )
    assert made == "no increase on a overdue review: the customer is in overdue"  # what rows hold since 2026
    with _in(app, "zh"):
        assert data_value("basis", str(made), str(made)).endswith("不上调额度：客户有逾期发票")
        # The limit-change reasons (migration import, the shipped diagrams).
        assert said_stored("migrated from ERP: erp 2026.csv") == "从 ERP 迁移：erp 2026.csv"
        assert said_stored("review:turnover doubled") == "额度复核：turnover doubled"


def test_a_promise_s_limits_and_an_undeliverable_notice_are_said_in_chinese(app: Flask) -> None:
    outside = [
        str(_("the date is %(days)s days ahead, more than %(max)s", days=45, max=30)),
        str(
            _(
                "%(amount)s is less than %(pct)s %% of the %(overdue)s overdue (%(floor)s)",
                amount="1,000.00",
                pct=50,
                overdue="4,000.00",
                floor="2,000.00",
            )
        ),
    ]
    assert outside[1] == "1,000.00 is less than 50 % of the 4,000.00 overdue (2,000.00)"
    with _in(app, "zh"):
        said = data_list(outside, "outside")
        assert said == (
            "承诺付款日在 45 天之后，超过上限 30 天；"
            "承诺金额 1,000.00 低于逾期金额 4,000.00 的 50%（2,000.00）"
        )
        assert said_stored("the customer has no e-mail address") == "客户未登记电子邮箱地址"
    with _in(app, "en"):
        # Shown as stored (rows from before the codes), joined.
        assert data_list(outside, "outside") == "; ".join(outside)


SPIFF = [
    (
        "Error evaluating expression 'nothere + 1': NameError: name 'nothere' is not defined.  "
        "Did you mean 'amount'?. Business Rule Task 'None'.",
        "表达式 'nothere + 1' 求值出错：NameError: name 'nothere' is not defined。是否应为 'amount'？"
        "（业务规则任务 'None'）",
    ),
    (
        "line 2 of the script: ZeroDivisionError:division by zero.",
        "脚本第 2 行出错：ZeroDivisionError:division by zero.",
    ),
    ("No conditions satisfied for check_amount.", "check_amount 的所有条件均不满足，流程无法继续"),
    # As an incident stored it before its message was stripped.
    ("No conditions satisfied on gateway. ", "网关的所有条件均不满足，流程无法继续"),
]


@pytest.mark.parametrize(("stored", "chinese"), SPIFF)
def test_spiffworkflow_s_frames_are_said_and_python_s_words_and_the_ids_stay(
    app: Flask, stored: str, chinese: str
) -> None:
    with _in(app, "zh"):
        assert said_stored(stored) == chinese
    with _in(app, "en"):
        assert said_stored(stored) == stored


def test_a_script_failure_s_incident_names_its_line(rt: Runtime, clock: datetime) -> None:  # noqa: F811
    instance_id, _took = deploy_and_start(rt, clock, script_bomb("a = 1\nb = missing_name"))
    incident = incident_of(rt.factory, instance_id)
    assert incident.bpmn_id == "run_script"
    assert incident.message.startswith("line 2 of the script: NameError:name 'missing_name' is not defined")
    assert not incident.message.endswith(" ")


def test_the_case_data_writes_amounts_in_the_case_s_currency_and_days_as_the_page_does(app: Flask) -> None:
    with _in(app, "zh"):
        assert data_value("cap", "750000.00", "750000.00", "EUR") == "€750,000.00"
        assert data_value("overdue", Decimal("1200"), "1200", "CNY") == "¥1,200.00"
        assert data_value("revenue_cap_pct", "1.50", "1.50", "EUR") == "1.50"  # a share, not money
        assert data_value("blocked", False, "否", "EUR") == "否"
        assert data_value("score_valid_to", "2026-06-02", "2026-06-02") == "2026年6月2日"
        assert data_value("score_valid_to", "2026-02-30", "2026-02-30") == "2026-02-30"  # no such day
        assert data_value("scorecard", "default", "default") == "通用评分卡"
        assert data_value("reason", "top_exposure", "top_exposure") == "大额风险敞口客户"
    with _in(app, "en"):
        assert data_value("need", "200000", "200000", "EUR") == format_money("200000", "EUR", locale="en")
        assert data_value("score_valid_to", "2026-06-02", "2026-06-02") == "2 Jun 2026"
        # The limit review form's choice, a code in English too (its form gives no English enum_titles).
        assert data_value("reason", "top_exposure", "top_exposure") == "top exposure"


def test_days_in_sentences_and_the_timer_preview_are_written_as_the_page_writes_them(app: Flask) -> None:
    from webui.stored_sentences import dated
    from webui.studio_previews import _fires_text
    from workflows.messages import translated

    fired = [datetime(2027, 1, 14, 9, 0, tzinfo=UTC)]
    gone = _(
        "no exchange rate %(currency)s->%(base)s on or before %(day)s; post one (POST /api/fx-rates "
        "or `creditflow import fx-rates`) before this step can convert",
        currency="USD",
        base="CNY",
        day=date(2027, 1, 14),
    )
    with _in(app, "zh"):
        assert _fires_text("timeDuration", fired) == "按此开始时间，于 2027年1月14日 09:00 UTC 触发。"
        assert dated("2027-01-14") == "2027年1月14日" and dated("2027-02-30") == "2027-02-30"
        assert dated(fired[0]) == "2027年1月14日 09:00" and dated(7) == 7
        assert translated(gone, gettext, dated).startswith("2027年1月14日")
    with _in(app, "en"):
        assert _fires_text("timeDuration", fired) == "Fires 14 Jan 2027 09:00 UTC for this start date."
        assert dated("2027-01-14") == "14 Jan 2027"  # English sentences write days as English readers do


def test_a_failed_step_s_history_line_says_the_incident_in_chinese(app: Flask) -> None:
    from webui.history_details import history_detail

    detail = {"bpmn_id": "run_script", "message": "line 2 of the script: ZeroDivisionError:division by zero."}
    with _in(app, "zh"):
        said = str(history_detail(detail))
        assert "错误信息：脚本第 2 行出错：ZeroDivisionError:division by zero." in said, said
        limit = str(history_detail({"old": "10000.00", "new": "15000.00", "reason": "credit application"}))
        assert "原额度：10,000.00 · 新额度：15,000.00 · 原因：信用额度申请" in limit, limit
        typed = str(history_detail({"reason": "a reason someone typed"}))
        assert '<span data-value="">a reason someone typed</span>' in typed, typed  # stored data, marked
