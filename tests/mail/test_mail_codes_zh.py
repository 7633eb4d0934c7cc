"""Chinese e-mails name groups, processes, triggers, watchlist actions and contract fields in Chinese, never
by the codes the steps pass (R20 finding 3); the English versions keep no Chinese."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.mail.test_mail_languages import CJK, CONTEXT
from workflows.mail.templates import render_email

CODES = {
    "limit_review_result": {"reason": "utilisation"},
    "task_overdue": {
        "group": "credit_analyst, collections",
        "groups": ["credit_analyst", "collections"],
        "process_key": "credit_limit_review",
        "task_title": "Review the limit",
        "task_title_zh": "复核信用额度",
        "subject": "Slowpay Trading, limit review (utilisation)",
        "subject_zh": "Slowpay Trading，额度复核（额度使用率过高）",
    },
    "watchlist_summary": {
        "by_action": {"credit_hold": 1, "review": 2},
        "entries": [
            {
                "customer_name": "上海精密零件有限公司",
                "customer_id": 3,
                "action": "credit_hold",
                "indicators": [{"indicator": "utilisation"}, {"indicator": "over_limit"}],
                "indicator_list": "utilisation, over_limit",
                "owner": "credit_manager",
                "opened_at": "2026-03-01T00:00:00",
            }
        ],
    },
    "countersign_request": {
        "changes": {"payment_terms_days": 60, "end_date": "2027-12-31"},
        "current": {"payment_terms_days": 30, "end_date": "2026-12-31"},
    },
    "decision": {"process_key": "write_off", "outcome": "expired"},
    "dispute_outcome": {"to_customer": False, "outcome": "rejected", "owner_group": "collections"},
}
# What each Chinese mail must say instead of the codes.
SAID = {
    "limit_review_result": ["额度使用率过高"],
    "task_overdue": ["信用分析师、催收专员", "信用额度复核", "复核信用额度", "额度复核（额度使用率过高）"],
    "watchlist_summary": ["信用冻结 1 项", "复核 2 项", "额度使用率、超额度", "信用经理"],
    "countersign_request": ["账期（天）", "30 → 60", "到期日期：2026年12月31日 → 2027年12月31日"],
    "decision": ["坏账核销申请", "已逾期失效"],
    "dispute_outcome": ["负责组 催收专员"],
}
CODE_WORDS = re.compile(
    r"utilisation|over_limit|credit_hold|credit_analyst|credit_manager|collections|credit[ _]limit[ _]review"
    r"|write[ _]off|payment[ _]terms[ _]days|end_date|\d{4}-\d\d-\d\d|expired|\breview\b|->"
)


@pytest.mark.parametrize("template", sorted(CODES))
def test_chinese_mails_name_codes_in_chinese(template: str) -> None:
    context: dict[str, Any] = {**CONTEXT, **CODES[template]}
    chinese = render_email(template, context, language="zh")
    assert chinese.language == "zh"
    for part in (chinese.subject, chinese.text, chinese.html):
        left = CODE_WORDS.findall(part.replace("Slowpay Trading, limit review", ""))
        assert not left, (template, left, part)
    said = chinese.subject + chinese.text
    for words in SAID[template]:
        assert words in said, (template, words, said)
    assert SAID[template][0] in chinese.html, template  # the HTML part (and its PDF) says it too
    english = render_email(template, context, language="en")
    assert not re.search(r"\d{4}-\d\d-\d\d", english.text.replace(context["as_of"], "")), english.text
    assert not CJK.search((english.subject + english.text + english.html).replace("上海精密零件有限公司", ""))


def test_an_overdue_reminder_queued_before_the_chinese_texts_still_renders() -> None:
    # A reminder queued by an older release has only `group` and the English title and subject.
    chinese = render_email("task_overdue", {**CONTEXT, "group": "credit_analyst"}, language="zh")
    assert "提醒用户组 信用分析师" in chinese.text and "任务：Review" in chinese.text


DAYS = {"dunning_notice": "27 Mar 2026", "task_overdue": "4 Mar 2026 09:00 UTC"}


@pytest.mark.parametrize(
    "template", ["dunning_notice", "approval_letter", "countersign_request", "task_overdue"]
)
def test_english_mails_write_days_as_english_readers_do(template: str) -> None:
    # R20 finding 9: "14 Jan 2027", not the ISO "2027-01-14" (the pages and PDF letters already did).
    english = render_email(template, CONTEXT, language="en")
    assert not re.search(r"\d{4}-\d\d-\d\d", english.subject + english.text + english.html), english.text
    said = DAYS.get(template, "14 Jan 2027")
    assert said in english.text, english.text
    chinese = render_email(template, CONTEXT, language="zh")
    assert not re.search(r"\d{4}-\d\d-\d\d", chinese.text + chinese.html), chinese.text


def test_the_chinese_notice_claims_interest_under_the_contract_not_a_statute() -> None:
    # R20 finding 11: the EU late-payment rule has no counterpart in PRC law; the contract is the basis.
    chinese = render_email("dunning_notice", CONTEXT, language="zh")
    for part in (chinese.text, chinese.html):
        assert "根据双方合同约定" in part and "按年利率 8.5%（基准利率 3.5% 加 5 个百分点）" in part
        assert "法定" not in part and "利息合计 ¥3.92" in part
