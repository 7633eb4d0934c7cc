"""Words that read differently by context (issue 20): "From"/"To" are a mail's sender and recipient on the
mail page, but the start and end of a date range on the audit trail, the SoD report and the jobs page, and
two versions on a definition's policy-change comparison. A zh reader must never see 发件人 (sender) above a
date field: the catalogue keeps a msgctxt for each meaning, and every page asks for the right one."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from tests.webui.test_language import switch
from tests.webui.test_pages import logged_in

pytestmark = pytest.mark.usefixtures("shipped")

SENDER_RECIPIENT = ("发件人", "收件人")


def labels(page: str) -> list[str]:
    """The text before each <input>/<select> inside a <label>: what names a filter field."""
    return [text.strip() for text in re.findall(r"<label>\s*([^<]*?)\s*<(?:input|select)", page)]


@pytest.mark.parametrize(
    ("username", "path", "words"),
    [
        ("auditor1", "/audit", ("起始日期", "截止日期")),
        ("auditor1", "/audit/sod", ("起始日期", "截止日期")),
        ("admin", "/jobs", ("起始日期", "截止日期")),
        ("owner1", "/definitions/credit_application/compare?from=1&to=1", ("起始版本", "对比版本")),
    ],
)
def test_range_fields_say_from_and_to_as_a_range_not_as_a_mails_sender_and_recipient(
    app: Flask, demo_tokens: dict[str, str], username: str, path: str, words: tuple[str, str]
) -> None:
    client = logged_in(app, username)
    switch(client, "zh", "/inbox")
    response = client.get(path)
    page = response.get_data(as_text=True)
    assert response.status_code == 200, path
    shown = labels(page)
    assert all(word in shown for word in words), (path, shown)
    assert not set(SENDER_RECIPIENT) & set(shown), (path, shown)
    switch(client, "en", "/inbox")
    english = labels(client.get(path).get_data(as_text=True))
    assert "From" in english and "To" in english, (path, english)
