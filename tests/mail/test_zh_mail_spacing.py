"""A name set into a Chinese mail as Chinese typesetting sets it (R22 P-3): a Latin name stands apart from
the characters around it ("放行 Acme Machinery GmbH 的订单", not "放行Acme Machinery GmbH 的订单"), a
Chinese one does not ("放行上海精密零件有限公司的订单"). The order-release notice over a real SMTP server
(aiosmtpd) and the letters' salutations."""

from __future__ import annotations

import re

import pytest

from tests.collections_desk import Collections
from tests.mail.test_internal_mail_languages import (
    CHINESE_NAME,
    _decide_release,
    _held_order,
    bodies,
    languages,
    to,
)
from tests.mail.test_mail_languages import CONTEXT
from workflows.mail.templates import cjk_spaced, render_email

pytestmark = pytest.mark.usefixtures("shipped")


@pytest.mark.parametrize(
    ("name", "set_as"),
    [
        ("Acme Machinery GmbH", " Acme Machinery GmbH "),
        ("上海精密零件有限公司", "上海精密零件有限公司"),
        ("Acme Co.", " Acme Co. "),  # Western text at the edge, not only letters
        ("3M 中国有限公司", " 3M 中国有限公司"),
        ("客户 12", "客户 12 "),
        ("", ""),
    ],
)
def test_a_name_gets_a_space_only_where_it_meets_chinese_with_western_text(name: str, set_as: str) -> None:
    assert cjk_spaced(name) == set_as


def test_a_latin_customer_s_order_release_reads_apart_from_the_chinese_around_it(desk: Collections) -> None:
    languages(desk, "zh", ["sales1"])
    instance = _held_order(desk, "SO-7", "150000.00", "Acme Machinery GmbH")
    _decide_release(desk, instance, "approve", "同意。")
    [mail] = to(desk, "sales1@example.com")
    plain, html = bodies(mail)
    said = "manager1 已批准放行 Acme Machinery GmbH 的订单 SO-7（€150,000.00）。"
    assert said in plain, plain
    shown = " ".join(re.sub(r"<[^>]+>", "", html).split())
    assert said in shown, shown


def test_a_chinese_customer_s_order_release_is_set_close(desk: Collections) -> None:
    languages(desk, "zh", ["sales1"])
    instance = _held_order(desk, "SO-8", "150000.00", CHINESE_NAME)
    _decide_release(desk, instance, "reject", "额度不足。")
    [mail] = to(desk, "sales1@example.com")
    plain, _html = bodies(mail)
    assert f"manager1 未批准放行{CHINESE_NAME}的订单 SO-8（€150,000.00），该订单继续维持冻结。" in plain, (
        plain
    )


@pytest.mark.parametrize(
    "template", ["dunning_notice", "approval_letter", "countersign_request", "countersign_reminder"]
)
@pytest.mark.parametrize(
    ("contact", "salutation"),
    [("Eva Lind", "尊敬的 Eva Lind 先生/女士："), ("王建国", "尊敬的王建国先生/女士：")],
)
def test_a_letter_greets_a_latin_contact_apart_and_a_chinese_one_close(
    template: str, contact: str, salutation: str
) -> None:
    letter = render_email(template, {**CONTEXT, "contact_name": contact}, language="zh")
    assert salutation in letter.text, letter.text
    assert salutation in letter.html, letter.html
