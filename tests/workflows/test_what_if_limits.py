"""Issue 18's what-if for the limit policy: the total change of the proposed limits by grade.

Applications run through the engine (limit_policy.dmn logged by their business rule task, their credit file
and proposal kept on the instance); the edited table raises grade C's revenue cap and grace days and lowers
grade D's cap. The expected totals are credit.propose_limit's formula written out by hand here, with the
shipped table's percentages, over the customers' revenues and the requests; the hand formula is first checked
against the proposals the engine actually made.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.bpmn.test_credit_application import SOLID_CUSTOMER, apply, create_customer, refresh
from tests.webui.test_pages import csrf_token, logged_in
from tests.workflows.test_what_if import period, what_if
from workflows.store.db import transaction
from workflows.store.decision_log_table import DecisionLogEntry

pytestmark = pytest.mark.usefixtures("shipped")

BPMN = Path(__file__).resolve().parents[2] / "bpmn"
POLICY = (BPMN / "limit_policy.dmn").read_text(encoding="utf-8")
EDITED = (
    POLICY.replace(
        '<outputEntry id="policy_c_out1"><text>Decimal("3")',
        '<outputEntry id="policy_c_out1"><text>Decimal("4")',
    )
    .replace('<outputEntry id="policy_c_out4"><text>15<', '<outputEntry id="policy_c_out4"><text>45<')
    .replace(
        '<outputEntry id="policy_d_out1"><text>Decimal("1.5")',
        '<outputEntry id="policy_d_out1"><text>Decimal("1")',
    )
)
# The shipped table by hand (not a key customer): the revenue cap in % by grade; grace 15 days, step 1000.
CAP_PCT = {"A": Decimal(10), "B": Decimal(5), "C": Decimal(3), "D": Decimal("1.5"), "E": Decimal(0)}
EDITED_PCT = {**CAP_PCT, "C": Decimal(4), "D": Decimal(1)}
EDITED_GRACE = {"C": 45}
STRONG = {"external_rating": "AA", "current_ratio": "2", "debt_ratio": "0.3"}
# (revenue, requested limit, expected annual sales or None, payment terms days); customers rated so that
# they grade differently (the scorecard decides; the test reads the grade the engine gave).
CASES = [
    ("4000000.00", 300_000, None, 30, {}),
    ("2000000.00", 90_000, None, 30, {}),
    ("6000000.00", 900_000, "3650000", 60, {}),
    ("3000000.00", 250_000, None, 30, {"current_ratio": "0.9", "debt_ratio": "0.85"}),
    ("9000000.00", 400_000, "1825000", 30, {"current_ratio": "0.9", "debt_ratio": "0.85"}),
    ("5000000.00", 500_000, None, 30, STRONG),
    ("6000000.00", 900_000, "365000", 60, STRONG),  # the need (sales over terms + grace) binds, not the cap
]


def by_hand(revenue: str, request: int, sales: str | None, terms: int, grade: str, edited: bool) -> Decimal:
    pct = (EDITED_PCT if edited else CAP_PCT)[grade]
    grace = EDITED_GRACE.get(grade, 15) if edited else 15
    need = Decimal(sales) / 365 * (terms + grace) if sales else Decimal(request)
    cap = Decimal(revenue) * pct / 100
    formula = (min(need, cap) / 1000).to_integral_value(rounding=ROUND_DOWN) * 1000
    return min(formula, Decimal(request)).quantize(Decimal("0.01"))


def run_applications(client: FlaskClient, tokens: dict[str, str]) -> list[tuple[int, str, Decimal, Decimal]]:
    """(instance id, grade, proposed limit by hand with the shipped table, with the edited one) per case."""
    done = []
    for n, (revenue, request, sales, terms, extra) in enumerate(CASES):
        fields = {**SOLID_CUSTOMER, "external_id": f"C-L{n}", "annual_revenue": revenue, **extra}
        customer = create_customer(client, tokens["analyst1"], fields)
        started = apply(
            client,
            tokens["sales1"],
            customer["id"],
            request,
            payment_terms_days=terms,
            **({"expected_annual_sales": sales} if sales else {}),
        )
        data = refresh(client, tokens, started["id"])["data"]
        grade = data["grade"]
        old, new = (by_hand(revenue, request, sales, terms, grade, e) for e in (False, True))
        assert Decimal(data["proposal"]["proposed_limit"]) == old  # the hand formula is the engine's
        done.append((started["id"], grade, old, new))
    return done


def log_row(app: Flask, instance_id: int | None, grade: str, at: datetime) -> None:
    """A limit_policy row as the engine writes one (the shipped table's grade C/D outputs)."""
    outputs = {
        "revenue_cap_pct": str(CAP_PCT[grade]),
        "score_valid_months": 6,
        "review_months": 6 if grade == "C" else 3,
        "grace_days": 15,
        "limit_rounding": "1000",
    }
    inputs = {"grade": grade, 'credit_file.get("key_customer", False)': False}
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        session.add(
            DecisionLogEntry(
                instance_id=instance_id,
                process_key="credit_application",
                version=1,
                decision_id="limit_policy",
                bpmn_id="apply_limit_policy",
                inputs=inputs,
                outputs=outputs,
                rules=[],
                at=at,
            )
        )


def test_a_limit_policy_change_totals_the_proposed_limits_by_grade(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime
) -> None:
    cases = run_applications(client, demo_tokens)
    grades = {grade for _i, grade, _o, _n in cases}
    assert {"C", "D"} <= grades, grades  # the edit moves both
    log_row(app, None, "C", clock - timedelta(days=3))  # outside any case: no need to read, not computed
    first_c = next(i for i, grade, _o, _n in cases if grade == "C")
    log_row(app, first_c, "C", clock - timedelta(days=2))  # that case's earlier evaluation: superseded
    answer = what_if(client, demo_tokens["owner1"], {"limit_policy.dmn": EDITED}, **period(clock))
    assert answer.status_code == 200, answer.json
    [table] = answer.json["summary"]["tables"]
    assert table["kind"] == "limit_policy"
    limits = table["limits"]
    expected: dict[str, dict[str, Any]] = {}
    for _i, grade, old, new in cases:
        if grade not in EDITED_PCT or EDITED_PCT[grade] == CAP_PCT[grade] and grade not in EDITED_GRACE:
            continue  # its row is unchanged: no limit moves
        entry = expected.setdefault(grade, {"cases": 0, "current": Decimal(0), "edited": Decimal(0)})
        entry["cases"] += 1
        entry["current"] += old
        entry["edited"] += new
    got = {
        grade: {
            "cases": e["cases"],
            "current": Decimal(e["current"]),
            "edited": Decimal(e["edited"]),
            "change": Decimal(e["change"]),
        }
        for grade, by_currency in limits["by_grade"].items()
        for currency, e in by_currency.items()
        if currency == "EUR"
    }
    assert got == {g: {**e, "change": e["edited"] - e["current"]} for g, e in expected.items()}
    assert any(e["change"] != 0 for e in got.values())
    assert limits["cases"] == sum(e["cases"] for e in expected.values())
    assert (limits["not_computed"], limits["superseded"]) == (1, 1)


def test_the_edit_page_says_the_limit_totals_by_grade(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime
) -> None:
    cases = run_applications(client, demo_tokens)
    browser = logged_in(app, "owner1")
    body = {"files": {"limit_policy.dmn": EDITED}, **period(clock)}
    headers = {"X-CSRFToken": csrf_token(browser, "/inbox")}
    answer = browser.post("/definitions/credit_application/1/what-if", json=body, headers=headers)
    assert answer.status_code == 200, answer.json
    lines = answer.json["lines"]
    for grade in ("C", "D"):
        old = sum(o for _i, g, o, _n in cases if g == grade)
        new = sum(n for _i, g, _o, n in cases if g == grade)
        count = sum(1 for _i, g, _o, _n in cases if g == grade)
        assert (
            f"limit_policy, grade {grade}: total proposed limits €{old:,.2f} → €{new:,.2f} "
            f"({'+' if new > old else '-' if new < old else ''}€{abs(new - old):,.2f}, {count} cases)."
        ) in lines, lines
