"""The dunning history of a legal case file in the reader's words: each event (DunningEvent.kind) by name and
its detail (the JSON the handlers stored: invoice lists, amounts, before/after of the case's fields) as short
labelled phrases, "发票 SH-1、SH-2；下一步日期 2026年3月16日", "level 1 → 2", never as codes or Python reprs.

The file goes to lawyers outside creditflow, so a key with no label here is still shown (by its name) rather
than dropped: the file must be complete.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from workflows.credit import roles
from workflows.credit.models import DunningStatus
from workflows.credit.promise_limits import limits_said
from workflows.languages import clauses_joined
from workflows.mail.templates import format_when_for

EVENTS: dict[str, dict[str, str]] = {
    "en": {
        "opened": "Case opened",
        "ladder_grade": "Dunning ladder chosen",
        "status_changed": "Case status changed",
        "notice_sent": "Dunning notice sent",
        "notice_undeliverable": "Notice not deliverable",
        "fee_added": "Dunning fee charged",
        "customer_blocked": "Customer credit blocked",
        "level_reached": "Next dunning level",
        "dispute_opened": "Dispute opened",
        "legal_handover": "Handed over to legal",
        "closed": "Case closed",
        "promise": "Promise to pay",
        # The promise events that are no promise status ("Promise to pay: to pay" said nothing).
        "promise_to_pay": "Promise to pay recorded",
        "promise_outside_policy": "Promise to pay outside the limits, for the credit manager",
        "promise_approved": "Promise to pay approved by the credit manager",
    },
    "zh": {
        "opened": "立案",
        "ladder_grade": "确定催收梯度",
        "status_changed": "案件状态变更",
        "notice_sent": "发出催款函",
        "notice_undeliverable": "催款函无法送达",
        "fee_added": "计收催收费用",
        "customer_blocked": "冻结客户信用",
        "level_reached": "升级催收",
        "dispute_opened": "客户提出争议",
        "legal_handover": "移交法务",
        "closed": "结案",
        "promise": "付款承诺",
        "promise_to_pay": "登记付款承诺",
        "promise_outside_policy": "付款承诺超出限制，提交信用经理审批",
        "promise_approved": "信用经理批准付款承诺",
    },
}
FIELDS: dict[str, dict[str, str]] = {
    "en": {
        "invoices": "invoices",
        "next_step_on": "next step on",
        "interest": "interest",
        "amount": "amount",
        "provision": "provision",
        "disputed": "disputed",
        "received": "received",
        "overdue": "overdue",
        "promised_amount": "promised amount",
        "promised_date": "promised date",
        "promise_id": "promise",
        "dispute_id": "dispute",
        "instance_id": "process",
        "owner_group": "handled by",
        "outcome": "outcome",
        "unblocked": "customer unblocked",
        "write_off_instance": "write-off process",
        "comment": "comment",
        "reason": "reason",
        "outside": "outside the policy",
        "grade": "ladder grade",
        "status": "status",
        "blocked": "credit blocked",
        "customer_blocked": "credit blocked",
        "fees": "dunning fees",
        "level": "level",
        "last_notice_at": "last notice",
        "promise_status": "promise",
        "held": "held",
    },
    "zh": {
        "invoices": "发票",
        "next_step_on": "下一步日期",
        "interest": "逾期利息",
        "amount": "金额",
        "provision": "坏账准备",
        "disputed": "争议金额",
        "received": "已收款",
        "overdue": "逾期金额",
        "promised_amount": "承诺付款金额",
        "promised_date": "承诺付款日期",
        "promise_id": "付款承诺编号",
        "dispute_id": "争议编号",
        "instance_id": "流程编号",
        "owner_group": "负责组",
        "outcome": "结案结果",
        "unblocked": "解除信用冻结",
        "write_off_instance": "坏账核销流程编号",
        "comment": "备注",
        "reason": "原因",
        "outside": "超出政策范围",
        "grade": "催收梯度",
        "status": "状态",
        "blocked": "信用冻结",
        "customer_blocked": "信用冻结",
        "fees": "催收费用",
        "level": "催收级别",
        "last_notice_at": "上次催款时间",
        "promise_status": "付款承诺",
        "held": "暂停金额",
    },
}
# Codes stored as values (case and promise statuses, outcomes, groups) and the handlers' English sentences.
VALUES: dict[str, dict[str, str]] = {
    "en": {"True": "yes", "False": "no"},
    "zh": {
        "True": "是",
        "False": "否",
        DunningStatus.OPEN: "催收中",
        DunningStatus.PAUSED: "暂停（付款承诺）",
        DunningStatus.DISPUTED: "争议中",
        DunningStatus.LEGAL: "法务处理",
        DunningStatus.CLOSED: "已结案",
        "pending_approval": "待审批",
        "kept": "已履行",
        "partly_kept": "部分履行",
        "broken": "未履行",
        "refused": "未获批准",
        "replaced": "已被新承诺取代",
        "lapsed": "已失效",
        "overtaken": "已无需付款",
        "paid": "已付清",
        "written_off": "已核销",
        "settled": "已和解",
        roles.COLLECTIONS: "催收专员",
        roles.COLLECTIONS_LEAD: "催收主管",
        roles.CREDIT_MANAGER: "信用经理",
        roles.SALES: "销售",
        "the customer has no e-mail address": "客户无电子邮箱",
    },
}
MONEY_KEYS = {"interest", "amount", "provision", "disputed", "received", "overdue", "promised_amount", "fees"}
DATE_KEYS = {"next_step_on", "promised_date", "last_notice_at"}
QUEUED = {
    "en": {True: "sent by e-mail", False: "not sent by e-mail"},
    "zh": {True: "已通过电子邮件发送", False: "未通过电子邮件发送"},
}
_SKIPPED = {"currency", "queued", "before", "after"}
# The time of the last notice is the notice event's own time (the first column): not said twice.
_UNSAID_CHANGES = {"last_notice_at"}


def event_name(kind: str, language: str) -> str:
    """An event's name in `language`; promise events ("promise_broken") as "Promise to pay: broken"."""
    names = EVENTS.get(language, EVENTS["en"])
    if kind in names:
        return names[kind]
    if kind.startswith("promise_"):
        status = kind.removeprefix("promise_")
        return f"{names['promise']}{'：' if language == 'zh' else ': '}{_value(status, language)}"
    return kind.replace("_", " ")


def event_detail(detail: Any, language: str, money: Callable[[Decimal], str]) -> str:
    """An event's stored detail as phrases in `language`; `money` writes an amount in the case's currency."""
    if not isinstance(detail, Mapping):
        return "" if detail is None else str(detail)
    zh = language == "zh"
    phrases = []
    if "queued" in detail:
        phrases.append(QUEUED["zh" if zh else "en"][bool(detail["queued"])])
    for key, value in detail.items():
        if key in _SKIPPED or value is None or value == "":
            continue
        phrases.append(f"{_field(key, language)}{'：' if zh else ': '}{_shown(key, value, language, money)}")
    before, after = detail.get("before"), detail.get("after")
    if isinstance(after, Mapping):
        old = before if isinstance(before, Mapping) else {}
        for key, value in after.items():
            if key in _UNSAID_CHANGES or old.get(key) in (None, "") and value in (None, ""):
                continue
            was = _shown(key, old.get(key), language, money)
            phrases.append(
                f"{_field(key, language)}{'：' if zh else ': '}{was} → {_shown(key, value, language, money)}"
            )
    return clauses_joined(phrases, "；" if zh else "; ")  # a typed note's closing 。 is not doubled


def _field(key: str, language: str) -> str:
    return FIELDS.get(language, FIELDS["en"]).get(key, key.replace("_", " "))


def _value(value: Any, language: str) -> str:
    text = str(value)
    return VALUES.get(language, VALUES["en"]).get(text, text.replace("_", " ") if language == "en" else text)


def _shown(key: str, value: Any, language: str, money: Callable[[Decimal], str]) -> str:
    if value is None or value == "":
        return "—"
    if key == "outside" and isinstance(value, list):  # a promise's broken limits: codes, or older sentences
        return limits_said(value, language)
    if isinstance(value, (list, tuple)):
        return ("、" if language == "zh" else ", ").join(_shown(key, v, language, money) for v in value)
    if key in MONEY_KEYS:
        try:
            return money(Decimal(str(value)))
        except InvalidOperation:
            return str(value)
    if key == "promise_status" and value == "open":
        return "待履行" if language == "zh" else "open"
    if key in DATE_KEYS:
        return format_when_for(str(value), language=language)
    return _value(value, language)
