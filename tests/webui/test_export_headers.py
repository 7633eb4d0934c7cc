"""The pages' downloads name their columns in the reader's language (issue 20, webui/export_headers.py): a
zh user's /portfolio.csv, /portfolio.xlsx, /audit.csv and /audit/sod.csv have a Chinese header row over the
same values as the English file, whose header keeps the column ids; the API's exports keep the ids whatever
Accept-Language says, since programs read them."""

from __future__ import annotations

import csv
import io

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from tests.helpers import auth
from tests.webui.test_language import as_user
from workflows.audit_trail import CSV_COLUMNS
from workflows.credit.portfolio_export import COLUMNS
from workflows.sod_report import SOD_CSV_COLUMNS

pytestmark = pytest.mark.usefixtures("shipped")


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_the_portfolio_download_names_its_columns_in_the_readers_language(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    client.post(
        "/api/customers",
        json={"name": "上海精密零件有限公司", "currency": "CNY", "email": "a@b.example"},
        headers=auth(demo_tokens["sales1"]),
    )
    english = rows_of(as_user(app, "analyst1", "en").get("/portfolio.csv").get_data(as_text=True))
    chinese = rows_of(as_user(app, "manager1", "zh").get("/portfolio.csv").get_data(as_text=True))
    assert english[0] == list(COLUMNS)
    assert chinese[0][:4] == ["客户编号", "外部编号", "名称", "信用等级"]
    assert chinese[0][COLUMNS.index("days_1_30")] == "逾期1–30天"
    assert len(chinese[0]) == len(COLUMNS) and len(set(chinese[0])) == len(COLUMNS)
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in name) for name in chinese[0]), chinese[0]
    # The values do not depend on the language; the file's own words (key customer, totals label) do.
    assert chinese[-1][2].startswith("合计（") and english[-1][2].startswith("Total (")
    words = {"是": "yes", "否": "no", chinese[-1][2]: english[-1][2]}
    assert [[words.get(v, v) for v in row] for row in chinese[1:]] == english[1:]

    xlsx = as_user(app, "manager1", "zh").get("/portfolio.xlsx").data
    book = load_workbook(io.BytesIO(xlsx), read_only=True)
    header = next(book["Portfolio"].iter_rows(max_row=1, values_only=True))
    assert list(header) == chinese[0]
    book.close()


def test_the_audit_downloads_name_their_columns_for_the_reader_and_the_api_keeps_the_ids(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    auditor_zh = as_user(app, "auditor1", "zh")
    audit = rows_of(auditor_zh.get("/audit.csv").get_data(as_text=True))
    assert audit[0] == [
        *("编号", "时间", "操作人", "类别", "对象"),
        *("流程实例编号", "任务编号", "变更前", "变更后", "详情"),
    ]
    sod = rows_of(auditor_zh.get("/audit/sod.csv").get_data(as_text=True))
    assert sod[0][:3] == ["类别", "编号", "时间"] and len(sod[0]) == len(SOD_CSV_COLUMNS)
    assert sod[0][SOD_CSV_COLUMNS.index("flagged")] == "违反职责分离"

    english = rows_of(as_user(app, "auditor1", "en").get("/audit.csv").get_data(as_text=True))
    assert english[0] == list(CSV_COLUMNS)

    headers = {**auth(demo_tokens["auditor1"]), "Accept-Language": "zh-CN,zh;q=0.9"}
    api = rows_of(client.get("/api/audit?format=csv", headers=headers).get_data(as_text=True))
    assert api[0] == list(CSV_COLUMNS)
    api_sod = rows_of(client.get("/api/audit/sod?format=csv", headers=headers).get_data(as_text=True))
    assert api_sod[0] == list(SOD_CSV_COLUMNS)
