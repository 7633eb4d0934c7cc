"""The JSON API's `message` fields in the caller's language (issue 20): a domain sentence made with
workflows.messages._ is said in Chinese when the request's Accept-Language asks for it, in English otherwise,
and the error's code and details stay the same in both (programs read those, people read the message)."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.helpers import auth
from workflows.messages import Text, _, translated

pytestmark = pytest.mark.usefixtures("shipped")
MISSING = 987654


def test_a_missing_customer_is_named_in_the_language_the_client_asks_for(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    headers = auth(demo_tokens["analyst1"])
    chinese = client.get(
        f"/api/customers/{MISSING}", headers={**headers, "Accept-Language": "zh-CN,zh;q=0.9"}
    )
    english = client.get(f"/api/customers/{MISSING}", headers={**headers, "Accept-Language": "en-GB"})
    unsaid = client.get(f"/api/customers/{MISSING}", headers=headers)
    assert chinese.status_code == english.status_code == unsaid.status_code == 404
    assert chinese.json["error"]["message"] == f"客户 {MISSING} 不存在"
    assert (
        english.json["error"]["message"]
        == unsaid.json["error"]["message"]
        == f"customer {MISSING} does not exist"
    )
    assert chinese.json["error"]["code"] == english.json["error"]["code"] == "not_found"


def test_a_text_is_its_english_sentence_and_keeps_what_it_was_made_from() -> None:
    said = _("customer %(id)s does not exist", id=7)
    assert isinstance(said, Text) and said == "customer 7 does not exist"
    assert (said.msgid, said.params) == ("customer %(id)s does not exist", {"id": 7})
    assert translated(said, {"customer %(id)s does not exist": "客户 %(id)s 不存在"}.get) == "客户 7 不存在"


def test_a_translation_with_wrong_placeholders_falls_back_to_english_and_a_plain_str_passes_through() -> None:
    said = _("customer %(id)s does not exist", id=7)
    assert translated(said, lambda _msgid: "客户 %(number)s 不存在") == "customer 7 does not exist"
    assert translated("a plain sentence", lambda _msgid: "never asked") == "a plain sentence"
