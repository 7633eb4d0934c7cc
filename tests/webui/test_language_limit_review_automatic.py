"""A limit review decided without people reads in the reader's language (issue 20, R21's F-8).

bpmn/credit_limit_review.bpmn's accept_proposal wrote `decision = "automatic"` and `comment = "applied
automatically"` into the case: a zh admin read 决策 automatic · 备注 applied automatically on the instance
page, and the limit-review-result mail carried the English comment as 备注. The comment is now left empty
(elsewhere it is what a person typed) and the decision code is labelled where case data is shown; the mail
gets the decision in its context to say it in its own words. The credit manager's and the CFO's English
instructions printed the recommended and the policy's limit as bare numbers ("150000.0").
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask

from tests.bpmn.test_credit_limit_review import FINANCIALS, Desk, desk  # noqa: F401
from tests.webui.test_language import as_user, english_left, visible
from workflows.engine.task_texts import render_instructions, renders_in_process
from workflows.mail.templates import render_email

pytestmark = pytest.mark.usefixtures("shipped")


def _automatic_review(desk: Desk) -> int:  # noqa: F811
    """A scheduled review that lowers the limit: within the policy, no approval, completed at once."""
    retailer = desk.customer(
        name="Corner Retail GmbH",
        industry="retail",
        founded_year=2015,
        annual_revenue="2000000.00",
        credit_limit="900000.00",
        next_review_date=(desk.clock.now.date() - timedelta(days=1)).isoformat(),
        **FINANCIALS,
    )
    desk.tick()
    [review] = desk.reviews(retailer)
    assert review["status"] == "completed", review
    return int(review["id"])


@pytest.mark.parametrize(
    ("language", "said"),
    [("zh", "系统自动采纳（无需审批）"), ("en", "applied automatically, no approval needed")],
)
def test_an_automatic_limit_review_s_decision_is_said_and_no_english_comment_is_stored(
    app: Flask,
    desk: Desk,  # noqa: F811
    language: str,
    said: str,
) -> None:
    instance_id = _automatic_review(desk)
    data = desk.client.get(
        f"/api/process-instances/{instance_id}", headers={"Authorization": f"Bearer {desk.tokens['admin']}"}
    ).json["data"]
    assert (data["decision"], data["comment"]) == ("automatic", "")  # the code stays; no sentence stored
    page = as_user(app, "admin", language).get(f"/instances/{instance_id}").get_data(as_text=True)
    text = visible(page)
    assert said in text, text
    assert "applied automatically" not in text.replace(said, "")
    if language == "zh":
        assert "automatic" not in text, text
        assert english_left(page, ["Corner Retail GmbH"]) == []


def test_the_credit_manager_s_english_instructions_write_the_amounts_as_money(desk: Desk) -> None:  # noqa: F811
    """The zh instructions of manager_approval wrote ¥/€ amounts; the English ones printed "150000.0"."""
    busy = desk.customer(
        name="Busy Machinery AG",
        industry="manufacturing",
        founded_year=1990,
        annual_revenue="50000000.00",
        credit_limit="100000.00",
        next_review_date=(desk.clock.now.date() + timedelta(days=200)).isoformat(),
        **FINANCIALS,
    )
    desk.client.post(
        "/api/invoices",
        json={
            "customer_id": busy,
            "number": "INV-96",
            "amount": "96000.00",
            "currency": "EUR",
            "issue_date": desk.clock.now.date().isoformat(),
            "due_date": (desk.clock.now.date() + timedelta(days=30)).isoformat(),
        },
        headers={"Authorization": f"Bearer {desk.tokens['finance1']}"},
    )
    desk.tick()
    review = desk.task("analyst1")
    proposed = review["context"]["data"]["proposal"]["proposed_limit"]
    done = desk.complete("analyst1", review["id"], decision="approve", recommended_limit=float(proposed))
    assert done.status_code == 200, done.json
    instructions = desk.task("manager1")["context"]["instructions"]
    shown = f"€{float(proposed):,.2f}"
    assert instructions.startswith(f"The analyst recommends {shown} (grade "), instructions
    assert re.search(r"policy's limit €[\d,]+\.\d\d", instructions), instructions
    assert ", trigger: high utilisation of the limit; " in instructions, instructions  # not the code


@pytest.mark.parametrize(
    ("why", "basis", "said"),
    [
        (
            "missing on the credit file: annual_revenue, financial_ratios",
            "current limit kept: annual_revenue, financial_ratios missing, an analyst decides",
            [
                "people decide: missing on the credit file: annual revenue, financial ratios)",
                "(current limit kept: annual revenue, financial ratios missing, an analyst decides)",
            ],
        ),
        (
            "a fall of 2 grades",
            "no increase on a dunning review: the customer is in dunning",
            [
                "people decide: a fall of 2 grades)",
                "(no increase on this review: the customer is in dunning)",
            ],
        ),
        (
            "an increase",
            "no increase on a overdue review: the customer is in overdue",
            ["(no increase on this review: the customer has overdue invoices)"],
        ),
        ("an increase", "no increase on a rating_change review", ["(no increase on this review's trigger)"]),
        ("an increase", "the formula", ["(the formula)"]),
    ],
)
def test_a_limit_review_s_english_instructions_name_keys_and_triggers_in_words(
    why: str, basis: str, said: list[str]
) -> None:
    """F-11: the English review instructions printed 'missing on the credit file: financial_ratios' and
    'no increase on a overdue review: the customer is in overdue' (stored sentences with codes inside)."""
    import html

    with open("bpmn/credit_limit_review.bpmn", encoding="utf-8") as diagram:
        texts = re.findall(r"<spiffworkflow:instructionsForEndUser>(.*?)</", diagram.read(), re.S)
    template = html.unescape(next(text for text in texts if text.startswith("Trigger: ")))
    assert renders_in_process(template)
    data = {
        "reason": "rating_change",
        "assessment": {"why": why, "grade_drop": 2},
        "proposal": {"basis": basis, "missing_data": ["annual_revenue", "financial_ratios"]},
        "scoring": {"score": 40, "scorecard": "construction"},
        "credit_file": {"customer_currency": "EUR", "current_limit": "10000"},
    }
    text = render_instructions(template, data, language="en")
    assert text.startswith("Trigger: rating change (people decide: "), text
    for part in said:
        assert part in text, text
    assert not re.search(r"[a-z]+_[a-z]+", text), text  # no key or code of ours


@pytest.mark.parametrize(
    ("language", "said", "english"),
    [
        ("zh", "决策：系统自动采纳（无需审批）", "applied"),
        ("en", "Decision:     applied automatically", "Comment"),
    ],
)
def test_the_result_mail_of_an_automatic_review_says_so_in_its_language(
    language: str, said: str, english: str
) -> None:
    """The mail read '备注：applied automatically' in Chinese: the comment is empty now, the decision said."""
    context = {
        "customer_name": "Corner Retail GmbH",
        "reason": "scheduled",
        "old_limit": "900000.00",
        "new_limit": "60000.00",
        "currency": "EUR",
        "grade": "B",
        "score": 70,
        "next_review_date": "2027-03-03",
        "comment": "",
        "decision": "automatic",
    }
    mail = render_email("limit_review_result", context, language=language)
    assert said in mail.text, mail.text
    assert english not in mail.text.replace("Corner Retail GmbH", ""), mail.text
    assert said.split("：")[-1].split("     ")[-1] in mail.html
    # A context without the decision (a diagram deployed before it) renders as before.
    assert render_email("limit_review_result", {**context, "decision": "approve"}, language=language).text
    del context["decision"]
    assert render_email("limit_review_result", context, language=language).text
