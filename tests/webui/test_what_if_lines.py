"""The edit page's what-if sentences per kind of policy table (webui/what_if_lines.py), in English and in
Chinese, from a summary shaped as workflows.what_if.run.what_if returns it."""

from __future__ import annotations

from typing import Any

from flask import Flask

from webui.what_if_lines import what_if_lines


def table(decision: str, kind: str, **extra: Any) -> dict[str, Any]:
    return {"decision_id": decision, "kind": kind, "rows": 10, "changed": 4, "outputs": {}, **extra}


SUMMARY = {
    "rows": 40,
    "from": "2026-01-01T00:00:00+00:00",
    "to": "2026-03-31T23:59:59.999999+00:00",
    "changed": 16,
    "note": None,
    "repointed": [{"bpmn_id": "decide_authority", "from": "approval_authority", "to": "strict_authority"}],
    "tables": [
        table("credit_scorecard", "scorecard", instances_changing_grade=3, customers_changing_grade=2),
        table(
            "approval_authority",
            "authority",
            applications_with_another_approver=4,
            approval_hours_change="-12.50",
        ),
        table(
            "dunning_policy",
            "dunning_ladder",
            notices_earlier=3,
            notices_later=1,
            first_notice_days_change="-8",
        ),
        table(
            "limit_policy",
            "limit_policy",
            limits={
                "by_grade": {
                    "C": {
                        "EUR": {
                            "cases": 2,
                            "current": "225000.00",
                            "edited": "305000.00",
                            "change": "80000.00",
                        }
                    }
                },
                "cases": 2,
                "not_computed": 1,
                "superseded": 0,
            },
        ),
        table(
            "provision_matrix",
            "provision_matrix",
            provision={
                "as_of": "2026-03-31",
                "base_currency": "EUR",
                "current_total": "1200.00",
                "edited_total": "1500.50",
                "change": "300.50",
            },
        ),
    ],
}


def test_each_kind_says_what_the_change_means(app: Flask) -> None:
    with app.test_request_context():
        lines = what_if_lines(SUMMARY)
    assert lines[0] == (
        "40 logged decisions from 2026-01-01T00:00:00+00:00 to 2026-03-31T23:59:59.999999+00:00 replayed: "
        "16 would change."
    )
    for sentence in (
        "Business rule task decide_authority calls strict_authority instead of approval_authority: its "
        "logged decisions are replayed with strict_authority.",
        "credit_scorecard: 2 customers (3 cases) would get another grade.",
        "approval_authority: 4 applications would have had another approver; approval hours -12.50.",
        "dunning_policy: 3 notices earlier, 1 later; first-notice days -8.",
        "limit_policy, grade C: total proposed limits €225,000.00 → €305,000.00 (+€80,000.00, 2 cases).",
        "limit_policy: 1 changed decisions are not in these totals (no case data to compute the limit from).",
        "provision_matrix: provisions at 2026-03-31 €1,200.00 → €1,500.50 (+€300.50).",
    ):
        assert sentence in lines, lines


def test_in_chinese(app: Flask) -> None:
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        lines = what_if_lines(SUMMARY)
    assert "limit_policy，C 级：建议额度合计 €225,000.00 → €305,000.00（+€80,000.00，共 2 笔）。" in lines, (
        lines
    )
