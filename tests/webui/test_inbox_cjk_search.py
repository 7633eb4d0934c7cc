"""The inbox's search in Chinese (issue 20): a task is found by its Chinese name (the diagram's name_zh)
and by a Chinese customer name in its subject, by any part of them; a Latin search still reads only the
English title and subject, so it cannot match the keys of the stored translations. On SQLite and, with
-m db, PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.helpers import auth
from tests.webui.test_customer_pages import apply_for_credit, make_customer, open_task

pytestmark = pytest.mark.usefixtures("shipped")

SHANGHAI = "上海精密零件有限公司"


@pytest.fixture
def reviews(client: FlaskClient, demo_tokens: dict[str, str]) -> dict[str, int]:
    """Two applications in review: a Chinese customer's and a German one's."""
    found = {}
    for name in (SHANGHAI, "Kessler Maschinenbau GmbH"):
        customer_id = make_customer(client, demo_tokens, name)
        found[name] = open_task(apply_for_credit(client, demo_tokens, customer_id), "review_application")
    return found


def search(client: FlaskClient, token: str, q: str) -> list[int]:
    response = client.get("/api/tasks", query_string={"q": q, "per_page": 100}, headers=auth(token))
    assert response.status_code == 200, response.json
    return sorted(int(item["id"]) for item in response.json["items"])


def test_a_task_is_found_by_its_chinese_name_and_a_chinese_customer_name(
    client: FlaskClient, demo_tokens: dict[str, str], reviews: dict[str, int]
) -> None:
    analyst = demo_tokens["analyst1"]
    both = sorted(reviews.values())
    # name_zh of review_application is 审核信用申请: by the whole and by a part.
    assert search(client, analyst, "审核信用申请") == both
    assert search(client, analyst, "信用申请") == both
    # The subject names the customer; by any part of the Chinese name.
    assert search(client, analyst, "精密零件") == [reviews[SHANGHAI]]
    assert search(client, analyst, SHANGHAI) == [reviews[SHANGHAI]]
    assert search(client, analyst, "审批付款") == []  # another task's kind of name
    assert search(client, analyst, "Kessler") == [reviews["Kessler Maschinenbau GmbH"]]


def test_a_latin_search_does_not_match_the_stored_translations_keys(
    client: FlaskClient, demo_tokens: dict[str, str], reviews: dict[str, Any]
) -> None:
    analyst = demo_tokens["analyst1"]
    for key in ("title", "zh", "instructions", "u5ba1"):  # u5ba1: 审 as json.dumps escapes it
        assert search(client, analyst, key) == [], key
    # the English name still finds both
    assert search(client, analyst, "review credit") == sorted(reviews.values())


def test_the_inbox_page_searches_in_chinese_too(
    client: FlaskClient, demo_tokens: dict[str, str], reviews: dict[str, int]
) -> None:
    from tests.webui.test_language import as_user

    app = client.application
    analyst = as_user(app, "analyst1", "zh")  # type: ignore[arg-type]
    page = analyst.get("/inbox", query_string={"q": "信用申请"}).get_data(as_text=True)
    assert f'data-task-id="{reviews[SHANGHAI]}"' in page or f"/tasks/{reviews[SHANGHAI]}" in page
