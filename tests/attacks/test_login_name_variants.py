"""Spelling a locked user name differently gets no new tries (these held; kept as guards). User names are
compared exactly (case and Unicode form included), so a variant that would get its own count is another
name that logs no one in; the one normalisation, trimming white space, happens before the count too."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.webui.test_login_security import login_from


@pytest.mark.parametrize(
    ("variant", "status"),
    [
        ("Analyst1", 401),
        ("ANALYST1", 401),
        ("analyst1\u200b", 401),  # zero-width space
        ("\uff41nalyst1", 401),  # fullwidth a: NFKC would make it "analyst1"
        ("analyst\u0031\u20e3", 401),  # a keycap
        (" analyst1", 429),  # trimmed: the locked name itself
        ("analyst1\u3000", 429),  # ideographic space, trimmed too
        ("\tanalyst1\n", 429),
    ],
)
def test_a_variant_of_a_locked_name_is_locked_or_logs_no_one_in(
    app: Flask, demo_tokens: dict[str, str], variant: str, status: int
) -> None:
    browser = app.test_client()
    for n in range(5):
        assert login_from(browser, "analyst1", "wrong", f"10.0.2.{n}") == 401
    assert login_from(browser, variant, "demo", "10.0.2.99") == status
    assert browser.get("/inbox").status_code == 302  # not logged in either way
