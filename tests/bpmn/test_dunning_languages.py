"""Issue 20, must-show 2 and 3: dunning notices in the customer's language, through a real SMTP server.

A `zh` customer gets Chinese notices (Chinese subject, CJK body, from level 2 a PDF letter whose text names
the customer and the amount as Chinese readers write it); an `en` customer dunned in the same run gets
English notices and no Chinese at all.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta
from email.header import decode_header
from email.message import EmailMessage
from typing import Any

import pytest
from pypdf import PdfReader

from tests.collections_desk import DUE, Collections
from tests.helpers import auth
from workflows.money import format_money
from workflows.users import set_language

pytestmark = pytest.mark.usefixtures("shipped")

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
CHINESE_NAME = "上海精密零件有限公司"
ZH_SUBJECTS = ["付款提醒函", "第二次催款函", "最后催款函"]
EN_SUBJECTS = ["Payment reminder", "Second reminder", "Final demand"]


def post_invoice(desk: Collections, customer: int, number: str, amount: str, currency: str) -> None:
    body = {
        "customer_id": customer,
        "number": number,
        "amount": amount,
        "currency": currency,
        "issue_date": (DUE - timedelta(days=30)).isoformat(),
        "due_date": DUE.isoformat(),
    }
    response = desk.client.post("/api/invoices", json=body, headers=auth(desk.tokens["finance1"]))
    assert response.status_code == 201, response.json


def walk_to_the_final_demand(desk: Collections, addresses: list[str]) -> None:
    """Daily ticks, the collector never reaching anyone, until every address has its three notices."""
    for _day in range(40):
        desk.tick()
        for task in desk.open_tasks("collector1"):
            done = desk.complete("collector1", task["id"], outcome="unreachable", comment="voicemail")
            assert done.status_code == 200, done.json
        if all(len(desk.notices_to(a)) >= 3 for a in addresses):
            return
    raise AssertionError({a: [m["Subject"] for m in desk.notices_to(a)] for a in addresses})


def walk_to_legal(desk: Collections, cases: int) -> None:
    """On from the final demand: the credit manager approves every legal handover, until `cases` are."""
    handed_over = 0
    for _day in range(40):
        desk.tick()
        for task in desk.open_tasks("collector1"):
            done = desk.complete("collector1", task["id"], outcome="unreachable", comment="voicemail")
            assert done.status_code == 200, done.json
        for task in desk.open_tasks("manager1"):
            if task["name"] == "approve_legal_handover":
                assert desk.complete("manager1", task["id"], decision="approve").status_code == 200
                handed_over += 1
        if handed_over == cases:
            desk.tick(days=0)  # the scheduler's next round sends what the approvals queued
            return
    raise AssertionError(f"{handed_over} of {cases} cases reached the legal handover")


def pdfs(message: EmailMessage) -> list[tuple[str, bytes]]:
    return [
        (str(part.get_filename()), part.get_payload(decode=True))
        for part in message.walk()
        if part.get_content_type() == "application/pdf"
    ]


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def assert_named_for_every_client(part: EmailMessage, filename: str) -> None:
    """A Chinese file name travels as RFC 2231 (Content-Disposition filename*=utf-8''…, read by current
    clients) and as RFC 2047 encoded words in Content-Type's name (read by older Outlook and Foxmail)."""
    raw = {name.lower(): value for name, value in part.raw_items()}  # the headers as they came over SMTP
    assert re.search(r"filename\*=utf-8''[%0-9A-Za-z.-]+$", raw["content-disposition"]), raw
    quoted = re.search(r'name="(=\?utf-8\?b\?[^"]+)"', raw["content-type"])
    assert quoted is not None, raw
    decoded = "".join(
        word.decode(charset or "ascii") if isinstance(word, bytes) else word
        for word, charset in decode_header(quoted.group(1))
    )
    assert decoded == filename


def plain_text(message: EmailMessage) -> Any:
    return message.get_body(preferencelist=("plain",)).get_content()


def test_a_zh_customer_gets_chinese_notices_and_pdfs_and_an_en_customer_english_ones(
    desk: Collections,
) -> None:
    chinese = desk.customer(CHINESE_NAME, email="ar@sh-precision.example", currency="CNY", language="zh")
    english = desk.customer("Slowpay Trading", language="en")
    post_invoice(desk, chinese, "SH-1", "120000.00", "CNY")
    post_invoice(desk, chinese, "SH-2", "8000.50", "CNY")
    post_invoice(desk, english, "INV-1", "1200.00", "EUR")
    post_invoice(desk, english, "INV-2", "800.50", "EUR")

    walk_to_the_final_demand(desk, ["ar@sh-precision.example", "ap@slowpay.example"])

    zh_amount = format_money("128000.50", "CNY", locale="zh_Hans")
    assert zh_amount == "¥128,000.50"
    zh_notices = desk.notices_to("ar@sh-precision.example")
    assert [str(m["Subject"]).split("：")[0] for m in zh_notices] == ZH_SUBJECTS
    sizes = []
    for level, message in enumerate(zh_notices, start=1):
        # The Subject header arrives RFC 2047 encoded (7-bit on the wire) and decodes to the Chinese text.
        assert str(message["Subject"]) == f"{ZH_SUBJECTS[level - 1]}：逾期款项{zh_amount}（{CHINESE_NAME}）"
        assert not message["Subject"].defects
        body = plain_text(message)
        assert CHINESE_NAME in body and zh_amount in body and "您好" in body
        assert "2026年3月2日" in body  # the invoices' due date as Chinese readers write it
        letters = pdfs(message)
        if level == 1:
            assert letters == []  # the friendly first reminder is an e-mail only
            continue
        [(filename, data)] = letters
        # The file is named in Chinese as the letter is (it was dunning-notice-N-level-L.pdf before).
        assert filename == f"{ZH_SUBJECTS[level - 1]}-催收案件{desk.case(chinese)['id']}.pdf"
        part = next(p for p in message.walk() if p.get_content_type() == "application/pdf")
        assert part.get_content_disposition() == "attachment"
        assert_named_for_every_client(part, filename)
        text = pdf_text(data)
        assert CHINESE_NAME in text and zh_amount in text and ZH_SUBJECTS[level - 1] in text
        assert "SH-1" in text and "SH-2" in text
        sizes.append(len(data))
    # The CJK font is embedded subset to the letter's characters: tens of kilobytes, not the font's 10 MB.
    assert all(size < 80_000 for size in sizes), sizes

    en_notices = desk.notices_to("ap@slowpay.example")
    assert [str(m["Subject"]).split(":")[0] for m in en_notices] == EN_SUBJECTS
    for level, message in enumerate(en_notices, start=1):
        body = plain_text(message)
        assert "Dear Slowpay Trading" in body and "€2,000.50" in body
        assert not CJK.search(str(message["Subject"])) and not CJK.search(body), body
        letters = pdfs(message)
        assert len(letters) == (0 if level == 1 else 1)
        for name, data in letters:
            assert name == f"dunning-notice-{desk.case(english)['id']}-level-{level}.pdf"
            text = pdf_text(data)
            assert "Slowpay Trading" in text and "€2,000.50" in text and "INV-2" in text
            assert not CJK.search(text), text


def test_the_legal_case_file_is_a_pdf_in_the_legal_users_language(desk: Collections) -> None:
    # Internal mail is in the user's language: legal1 reads Chinese.
    with desk.client.application.extensions["creditflow"].rt.factory() as session, session.begin():
        set_language(session, "legal1", "zh", desk.clock.now)
    chinese = desk.customer(CHINESE_NAME, email="ar@sh-precision.example", currency="CNY", language="zh")
    post_invoice(desk, chinese, "SH-1", "120000.00", "CNY")
    post_invoice(desk, chinese, "SH-2", "8000.50", "CNY")
    walk_to_the_final_demand(desk, ["ar@sh-precision.example"])
    walk_to_legal(desk, 1)
    case_id = desk.case(chinese)["id"]
    [mail] = desk.notices_to("legal1@example.com")
    assert str(mail["Subject"]) == f"移交法务：{CHINESE_NAME}，¥128,000.50（催收案件 {case_id}）"
    assert "信用经理已批准" in plain_text(mail)
    [(filename, data)] = pdfs(mail)
    assert filename == f"移交法务案卷-催收案件{case_id}.pdf"
    assert_named_for_every_client(
        next(p for p in mail.walk() if p.get_content_type() == "application/pdf"), filename
    )
    text = " ".join(pdf_text(data).split())
    assert f"催收案件 {case_id}：{CHINESE_NAME}" in text
    assert "主张金额（未付且无争议）¥128,000.50" in text and "SH-1" in text and "SH-2" in text
    # The history in a credit professional's words: events by name, details as labelled phrases (R20).
    assert "发出催款函" in text and "发票：SH-1、SH-2" in text and "冻结客户信用 信用冻结：否 → 是" in text
    assert "移交法务 坏账准备：¥128,000.50" in text and "状态：催收中 → 法务处理" in text
    assert not re.search(r"[a-z]+_[a-z_]+|True|False|None|[{}\[\]']", text), text
    # Amounts and days whole in the invoice table (no break inside "¥120,000.00" or a day), days written as
    # everywhere else in Chinese (R21 F-13: not "2026/1/31"); a value the record lacks is 无, not "-".
    assert "SH-1 2026年1月31日 2026年3月2日 ¥120,000.00 ¥120,000.00 ¥0.00 ¥120,000.00 30" in text, text
    assert "（ERP 编号：无）" in text and "统一社会信用代码/注册号：无" in text and " - " not in text
    assert len(data) < 120_000, len(data)
