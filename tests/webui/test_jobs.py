"""GET /api/jobs and the admin jobs panel: each day of each daily job with its true, whole-day counts."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.batch.test_scale_guards import seed_book
from tests.conftest import SteppingClock
from tests.helpers import auth
from tests.webui.test_pages import logged_in
from workflows.batch.job_days import claim_job_day
from workflows.credit.models import DunningCase
from workflows.store.models import JobRun, ProcessInstance


@pytest.fixture
def ticked(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], app_clock: SteppingClock
) -> datetime:
    """A book of receivables, and one tick of the day (as the scheduler would): the day's jobs ran."""
    rt = app.extensions["creditflow"].rt
    seed_book(rt.factory, app_clock.now, customers=12)
    response = client.post(
        "/api/admin/tick", json={"now": app_clock.now.isoformat()}, headers=auth(demo_tokens["admin"])
    )
    assert response.status_code == 200, response.json
    return app_clock.now


def get_jobs(client: FlaskClient, token: str, query: str = "") -> Any:
    return client.get(f"/api/jobs{query}", headers=auth(token))


def test_api_lists_the_days_jobs_with_their_true_counts(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], ticked: datetime
) -> None:
    with app.extensions["creditflow"].rt.factory() as session:
        cases = session.scalar(select(func.count()).select_from(DunningCase))
        reviews = session.scalar(
            select(func.count()).where(ProcessInstance.process_key == "credit_limit_review")
        )
    response = get_jobs(client, demo_tokens["admin"])
    assert response.status_code == 200, response.json
    body = response.json
    # The dunning run, the limit-review sweep, the provision run (which posts only on a month end), the KPI
    # snapshot (only the day after one), the watchlist run and the portfolio's balances roll.
    assert (body["total"], body["page"], body["per_page"]) == (6, 1, 50)
    days = {item["job"]: item for item in body["items"]}
    dunning, sweep = days["dunning_run"], days["limit_review_sweep"]
    assert cases == 9
    assert dunning["day"] == ticked.date().isoformat() and dunning["status"] == "done"
    assert dunning["counts"] == {
        "customers_planned": cases,
        "customers_handled": cases,
        "instances_started": cases,
        "customers_failed": 0,
    }
    assert sweep["counts"]["instances_started"] == reviews > 0
    assert dunning["failed_customers"] == [] and dunning["error"] == ""
    assert dunning["runs"] == 1 and dunning["takeovers"] == 0 and dunning["claimed_by"].startswith("tick@")
    assert dunning["duration_s"] >= 0 and dunning["finished_at"] >= dunning["started_at"]


def test_auditors_read_the_jobs_and_other_staff_may_not(
    client: FlaskClient, demo_tokens: dict[str, str], ticked: datetime
) -> None:
    assert get_jobs(client, demo_tokens["auditor1"]).json["total"] == 6
    refused = get_jobs(client, demo_tokens["sales1"])
    assert refused.status_code == 403 and refused.json["error"]["code"]
    assert client.get("/api/jobs").status_code == 401


def test_api_filters_jobs_by_job_and_days_and_pages_them(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], ticked: datetime, app_clock: SteppingClock
) -> None:
    rt = app.extensions["creditflow"].rt
    day = ticked.date()
    for back in (1, 2):  # two earlier days, still running (claimed, never finished)
        assert claim_job_day(rt, "dunning_run", day - timedelta(days=back), runner="test") is not None
    token = demo_tokens["admin"]
    only_dunning = get_jobs(client, token, "?job=dunning_run").json
    assert only_dunning["total"] == 3 and [i["day"] for i in only_dunning["items"]] == [
        (day - timedelta(days=n)).isoformat() for n in range(3)
    ]
    window = get_jobs(client, token, f"?from={day - timedelta(days=1)}&to={day - timedelta(days=1)}").json
    assert [(i["job"], i["status"]) for i in window["items"]] == [("dunning_run", "running")]
    paged = get_jobs(client, token, "?per_page=2&page=2").json
    # Six job days today and two earlier dunning days.
    assert paged["total"] == 8 and len(paged["items"]) == 2 and paged["page"] == 2
    assert get_jobs(client, token, "?job=no_such_job").json["total"] == 0


def test_a_running_day_whose_heartbeat_went_stale_shows_as_stalled(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], ticked: datetime
) -> None:
    rt = app.extensions["creditflow"].rt
    day = ticked.date() - timedelta(days=1)
    claim_job_day(rt, "dunning_run", day, runner="dead")
    with rt.factory() as session, session.begin():
        row = session.scalar(select(JobRun).where(JobRun.run_date == day))
        assert row is not None
        row.heartbeat_at = row.started_at - timedelta(seconds=rt.settings.scheduler.job_stale_after_s + 1)
    [item] = get_jobs(client, demo_tokens["admin"], f"?from={day}&to={day}").json["items"]
    assert item["status"] == "stalled" and item["finished_at"] is None


@pytest.mark.parametrize(
    "query",
    [
        "?from=2026-13-01",
        "?from=yesterday",
        "?to=2026-02-30",
        "?from=99999-01-01",
        "?from=2026-03-02T00:00:00",
        "?from=2026-03-05&to=2026-03-01",
        "?from=" + "9" * 400,
        "?job=" + "x" * 81,
        "?page=0",
        "?page=-1",
        "?page=" + "9" * 40,
        "?per_page=" + "9" * 40,
        "?page=1e3",
        "?from=2026-03-01%00",
    ],
)
def test_bad_query_parameters_are_a_400_naming_the_parameter_never_a_500(
    client: FlaskClient, demo_tokens: dict[str, str], query: str
) -> None:
    response = get_jobs(client, demo_tokens["admin"], query)
    assert response.status_code == 400, (query, response.status_code, response.get_data(as_text=True)[:300])
    assert response.json["error"]["code"] and response.json["error"]["message"]


def test_admin_panel_shows_each_day_with_its_true_counts(
    app: Flask, demo_tokens: dict[str, str], ticked: datetime
) -> None:
    admin = logged_in(app, "admin")
    page = admin.get("/jobs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    row = html[html.index('data-job="dunning_run"') :].split("</tr>")[0]
    assert f'data-day="{ticked.date().isoformat()}"' in row and ">done<" in row
    counts = dict(re.findall(r'data-count="(\w+)">\s*(\d+)', row))
    assert counts == {
        "customers_planned": "9",
        "customers_handled": "9",
        "instances_started": "9",
        "customers_failed": "0",
    }
    assert "Jobs" in admin.get("/inbox").get_data(as_text=True)  # the navigation links to it
    # The day as the page writes it and the job by its name, the id beside it (the filter takes the id).
    assert f"<td>{ticked.day} {ticked:%b %Y}</td>" in row and "Dunning run<br><small><code>dunning_run" in row
    zh = admin.get("/jobs", headers={"Accept-Language": "zh"}).get_data(as_text=True)  # admin sets none
    zh_row = zh[zh.index('data-job="dunning_run"') :].split("</tr>")[0]
    assert f"<td>{ticked.year}年{ticked.month}月{ticked.day}日</td>" in zh_row, zh_row
    assert "每日催收" in zh_row, zh_row


def test_the_jobs_panel_is_for_admins_and_auditors_and_refuses_bad_days(app: Flask, ticked: datetime) -> None:
    assert logged_in(app, "auditor1").get("/jobs").status_code == 200
    assert logged_in(app, "sales1").get("/jobs").status_code == 403
    admin = logged_in(app, "admin")
    assert admin.get("/jobs?from=2026-02-31").status_code == 400
    assert admin.get("/jobs?to=garbage").status_code == 400
    assert admin.get(f"/jobs?job=dunning_run&from={ticked.date()}&to={ticked.date()}").status_code == 200
