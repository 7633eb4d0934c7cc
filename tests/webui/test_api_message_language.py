"""The JSON API's `message` fields in the caller's language (issue 20): a domain sentence made with
workflows.messages._ is said in Chinese when the request's Accept-Language asks for it, in English otherwise,
and the error's code and details stay the same in both (programs read those, people read the message)."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.attacks.test_foreign_records import one_task_diagram
from tests.helpers import auth
from workflows.credit import roles
from workflows.group_names import GROUP_NAMES
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


# --- a sample of the domain's and the web layer's errors, over the API, in both languages (issue 20) ---

ZH, EN = "zh-CN,zh;q=0.9", "en-GB,en;q=0.8"


@pytest.fixture
def customer(client: FlaskClient, demo_tokens: dict[str, str]) -> int:
    """A fresh customer, not blocked, kept in EUR."""
    response = client.post(
        "/api/customers",
        json={"name": "Lingua Trading Ltd", "currency": "EUR"},
        headers=auth(demo_tokens["sales1"]),
    )
    assert response.status_code == 201, response.json
    return int(response.json["id"])


# (what is provoked, user, method, path, body, status, code, Chinese message, English message, fields in
# Chinese, fields in English); {customer} is the fresh customer's id.
SAMPLES = [
    (
        "404: a missing task (workflows/inbox.py)",
        "analyst1",
        "GET",
        f"/api/tasks/{MISSING}",
        None,
        404,
        "not_found",
        f"任务 {MISSING} 不存在",
        f"task {MISSING} does not exist",
        None,
        None,
    ),
    (
        "409: a credit rule, lifting a block that is not there (workflows/credit/recoveries.py)",
        "manager1",
        "POST",
        "/api/customers/{customer}/unblock",
        {"reason": "paid in full"},
        409,
        "conflict",
        "客户 {customer} 未被冻结，无需解除",
        "customer {customer} is not blocked; nothing to lift",
        None,
        None,
    ),
    (
        "422: fields of a payment (workflows/credit/record_fields.py, workflows/money.py)",
        "finance1",
        "POST",
        "/api/payments",
        {"customer_id": "{customer}", "amount": "1.234", "currency": "EURO", "date": "2026-02-30"},
        422,
        "invalid",
        "付款有误：amount：最多两位小数。 currency：请使用三位 ISO 货币代码，如 EUR。 "
        "date：“2026-02-30”不是 ISO 日期（YYYY-MM-DD）。",
        "The payment has errors: amount: At most two decimal places.; currency: Use a three-letter ISO "
        "currency code such as EUR.; date: '2026-02-30' is not an ISO date (YYYY-MM-DD).",
        {
            "amount": "最多两位小数。",
            "currency": "请使用三位 ISO 货币代码，如 EUR。",
            "date": "“2026-02-30”不是 ISO 日期（YYYY-MM-DD）。",
        },
        {
            "amount": "At most two decimal places.",
            "currency": "Use a three-letter ISO currency code such as EUR.",
            "date": "'2026-02-30' is not an ISO date (YYYY-MM-DD).",
        },
    ),
    (
        "403: a role (webui/api/__init__.py)",
        "analyst1",
        "POST",
        "/api/admin/tick",
        {},
        403,
        "forbidden",
        "analyst1 无权触发调度器：仅限管理员",
        "analyst1 may not tick the scheduler: admin only",
        None,
        None,
    ),
    (
        "403: a group the caller is not in (webui/api/__init__.py require_groups, the action translated too)",
        "analyst1",
        "POST",
        "/api/customers/{customer}/unblock",
        {"reason": "paid in full"},
        403,
        "forbidden",
        "analyst1 无权解除信用冻结：仅信用经理或管理员可以操作",
        "analyst1 may not lift a credit block: only Credit manager or admin may",
        None,
        None,
    ),
    (
        "400: an input check before any view (webui/input_checks.py)",
        "analyst1",
        "GET",
        "/api/customers?q=a%00b",
        None,
        400,
        "bad_request",
        "查询参数“q”含有 NUL 字符（\\u0000）",
        "query parameter 'q' contains a NUL character (\\u0000)",
        None,
        None,
    ),
    (
        "404: a path no route takes (werkzeug's sentence, webui/errors.py)",
        "analyst1",
        "GET",
        "/api/no-such-thing",
        None,
        404,
        "not_found",
        "服务器上找不到所请求的网址。如果网址是手动输入的，请检查拼写后重试。",
        "The requested URL was not found on the server. If you entered the URL manually please check your "
        "spelling and try again.",
        None,
        None,
    ),
]


@pytest.mark.parametrize(
    ("user", "method", "path", "body", "status", "code", "zh", "en", "zh_fields", "en_fields"),
    [sample[1:] for sample in SAMPLES],
    ids=[sample[0].split(":")[0] + "-" + str(n) for n, sample in enumerate(SAMPLES)],
)
def test_an_error_says_its_message_and_field_messages_in_the_language_asked_for(
    client: FlaskClient,
    demo_tokens: dict[str, str],
    customer: int,
    user: str,
    method: str,
    path: str,
    body: dict[str, object] | None,
    status: int,
    code: str,
    zh: str,
    en: str,
    zh_fields: dict[str, str] | None,
    en_fields: dict[str, str] | None,
) -> None:
    def fill(value: object) -> object:
        if isinstance(value, str):
            filled = value.replace("{customer}", str(customer))
            return int(filled) if value == "{customer}" else filled
        if isinstance(value, dict):
            return {key: fill(item) for key, item in value.items()}
        return value

    said = {}
    for language in (ZH, EN):
        headers = {**auth(demo_tokens[user]), "Accept-Language": language}
        response = client.open(str(fill(path)), method=method, json=fill(body), headers=headers)
        assert response.status_code == status, response.get_data(as_text=True)
        said[language] = response.json["error"]
    assert said[ZH]["code"] == said[EN]["code"] == code
    assert said[ZH]["message"] == fill(zh)
    assert said[EN]["message"] == fill(en)
    if zh_fields is not None:
        assert said[ZH]["fields"] == fill(zh_fields)
        assert said[EN]["fields"] == fill(en_fields)
        assert set(said[ZH]["fields"]) == set(said[EN]["fields"])  # the ids stay: programs read them


def test_a_page_refused_for_its_csrf_token_says_so_in_the_visitors_language(client: FlaskClient) -> None:
    chinese = client.post("/language", data={"language": "en"}, headers={"Accept-Language": ZH})
    english = client.post("/language", data={"language": "zh"}, headers={"Accept-Language": EN})
    assert chinese.status_code == english.status_code == 400
    assert "表单已过期，或并非从本站提交；请刷新页面后重试。" in chinese.get_data(as_text=True)
    assert "The form expired or was not sent from this site; reload the page and try again." in (
        english.get_data(as_text=True)
    )


def test_a_handler_s_refusal_reaches_the_api_caller_in_their_language(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    """A service operation's HandlerInputError (handlers/, issue 20) goes through the engine into the start's
    422 (the handler's sentence, without the "<operation> failed:" the log keeps: R22 P-1): a process
    owner's one-man diagram reading a customer's file is refused, in Chinese for a Chinese caller — the nouns
    inside the sentence too."""
    created = client.post(
        "/api/customers",
        json={"name": "Yuyan Trading", "currency": "EUR"},
        headers=auth(demo_tokens["sales1"]),
    )
    assert created.status_code == 201, created.json
    key = one_task_diagram(app, client, demo_tokens, "credit.load_file", customer_id="customer_id")
    said = {}
    for language in (ZH, EN):
        headers = {**auth(demo_tokens["owner1"]), "Accept-Language": language}
        body = {"process_key": key, "data": {"customer_id": created.json["id"]}}
        refused = client.post("/api/process-instances", json=body, headers=headers)
        assert refused.status_code == 422, refused.get_data(as_text=True)
        said[language] = refused.json["error"]["message"]
    # The readers are named as people read groups, not by their ids (issue 20 leftover).
    readers = ", ".join(str(GROUP_NAMES[group]) for group in sorted(roles.CUSTOMER_READERS))
    zh_readers = re.search(
        r"流程：无法调取客户信用档案（实例 \d+）：只有有权查阅客户的人员"
        r"（(.+)）、管理员或系统发起的实例才能读取或评级，owner1 发起的实例无此权限",
        said[ZH],
    )
    assert zh_readers, said[ZH]
    assert "信用分析师" in zh_readers.group(1) and "、" in zh_readers.group(1), said[ZH]
    assert not re.search(r"[A-Za-z_]", zh_readers.group(1)), said[ZH]
    assert re.search(
        r"could not be started: The customer's credit file could not be loaded \(instance \d+\): "
        + re.escape("it is read or graded only in an instance started by someone who may read customers ")
        + re.escape(f"({readers}), an admin or the system, not by owner1"),
        said[EN],
    ), said[EN]
    # The file, not the operation that loads it, is named (the log line keeps the operation).
    assert "credit.load_file" not in said[ZH] + said[EN], said
    # Nothing English is left but names (process key, groups, the user).
    names_left = said[ZH].replace(key, "").replace("owner1", "")
    assert not re.search(r"[A-Za-z]{3,}", names_left), said[ZH]
