"""Issue 19: the dispatcher writes messages out with mail.header_fold.QuickCompat32, which skips compat32's
folding algorithm for plain one-line headers. What is sent must not change by a byte: compared with compat32
on random header values and on whole messages (ASCII and Chinese, attachments, several recipients)."""

from __future__ import annotations

import dataclasses
import itertools
import random
import secrets
import string
from datetime import UTC, datetime
from email.policy import compat32

import pytest

from workflows.mail import smtp
from workflows.mail.header_fold import QUICK_COMPAT32
from workflows.mail.smtp import Attachment, YagmailMailer
from workflows.settings import load_settings
from workflows.store.models import OutboxEmail

EDGES = [
    "",
    " ",
    "x",
    " leading",
    "trailing ",
    "two  spaces",
    "tab\there",
    "line\nbreak",
    "crlf\r\n continued",
    "=?utf-8?b?5LiK5rW357K+5a+G6Zu25Lu25pyJ6ZmQ5YWs5Y+4?=\n =?utf-8?b?5Lq65rCR5biB?=",
    "Zahlungserinnerung für Müller",
    "付款提醒函",
    'multipart/mixed; boundary="===============0123456789abcdef0123456789abcdef=="',
    "creditflow <creditflow@example.com>",
    "a" * 77,
    "a" * 78,
    "b " * 600,
    "del\x7f",
    "nul\x00",
    "form\x0cfeed",
    "nbsp\xa0",
    "line\u2028sep",
]


def _random_values(count: int) -> list[str]:
    rnd = random.Random(19)
    alphabet = string.ascii_letters + string.digits + string.punctuation + "    \t"
    lengths = itertools.cycle([0, 1, 2, 5, 20, 70, 76, 77, 78, 79, 80, 150, 1000])
    return ["".join(rnd.choice(alphabet) for _ in range(next(lengths))) for _ in range(count)]


@pytest.mark.parametrize("max_line_length", [0, None, 78])
def test_every_header_is_folded_as_compat32_folds_it(max_line_length: int | None) -> None:
    quick = QUICK_COMPAT32.clone(max_line_length=max_line_length)
    standard = compat32.clone(max_line_length=max_line_length)
    for name in ("Subject", "Content-Type", "X"):
        for value in EDGES + _random_values(3000):
            assert quick.fold(name, value) == standard.fold(name, value), (name, value)


def _row(n: int, **overrides: object) -> OutboxEmail:
    values: dict[str, object] = {
        "id": n,
        "attempts": 1,
        "message_id": f"<{n:032x}@creditflow>",
        "to": "sales1@example.com",
        "subject": "Your payment terms exception B0x1x was approved",
        "body_html": "<!DOCTYPE html>\n<html><body><p>Hello,</p>\n<p>it was <strong>approved</strong>.</p>"
        "</body></html>\n",
        "body_text": "Hello,\n\nit was approved.\n",
        "attachments": [],
        **overrides,
    }
    return OutboxEmail(**values)


PDF = dataclasses.asdict(
    Attachment.of_bytes("催款函-上海精密零件有限公司.pdf", "application/pdf", b"%PDF-1.4\n" * 50)
)
TEXT = dataclasses.asdict(Attachment("notes\r\nfile.txt", "text/plain", "a line\nanother line\n"))

ROWS = [
    _row(1),
    _row(2, to="anna@example.com, bob@example.com,carol@example.com", subject="A" * 200),
    _row(
        3,
        subject="付款提醒函：上海精密零件有限公司 发票 INV-2026-0001 已逾期 45 天，请尽快付款",
        body_html="<p>尊敬的客户：</p>\n<p>贵公司发票已逾期。</p>\n",
        body_text="尊敬的客户：\n\n贵公司发票已逾期。\n",
        attachments=[PDF],
    ),
    _row(4, subject="Zahlung  für  Müller ", attachments=[TEXT, PDF], body_text=""),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda row: str(row.id))
def test_a_whole_message_is_written_as_compat32_writes_it(
    row: OutboxEmail, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailer = YagmailMailer(
        load_settings().mail,
        "127.0.0.1",
        25,
        {"X-Creditflow-Sink-Token": "t" * 43},
        clock=lambda: datetime(2026, 12, 7, 3, 0, tzinfo=UTC),
    )
    client = mailer._client()
    written = {}
    for name, policy in (("quick", QUICK_COMPAT32), ("compat32", compat32)):
        boundaries = itertools.count()  # the same boundaries in both messages
        monkeypatch.setattr(secrets, "token_hex", lambda _n, b=boundaries: f"{next(b):032x}")
        monkeypatch.setattr(smtp, "QUICK_COMPAT32", policy)
        written[name] = mailer._message(client, row)
    assert written["quick"] == written["compat32"]
    recipients, message = written["quick"]
    assert recipients == [a.strip() for a in row.to.split(",")]
    assert f"Message-ID: {row.message_id}" in message
