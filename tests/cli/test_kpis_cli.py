"""`creditflow kpis [--post]` (issue 17) against the test app's database: the must-show book's March, and
posting a missed month end's snapshot once, by a poster only."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

from tests.cli.test_provisions_cli import cli as cli  # noqa: PLC0414 - the fixture, re-exported
from tests.cli.test_provisions_cli import run
from tests.credit.kpi_book_fixture import build_book
from workflows.credit.kpi_snapshots import KpiSnapshot
from workflows.store.db import transaction

pytestmark = pytest.mark.usefixtures("shipped")


def test_kpis_prints_march_and_posts_its_snapshot_once(
    app: Flask, cli: CliRunner, demo_tokens: dict[str, str]
) -> None:
    build_book(app)
    shown = json.loads(run(cli, "kpis", "--as-of", "2026-04-15").output)
    assert (
        shown["period"] == {"start": "2026-03-01", "end": "2026-03-31"}
        and shown["kpis"]["dso"]["value"] == "68.2"
    )
    quarter = json.loads(run(cli, "kpis", "--as-of", "2026-03-31", "--period", "quarter").output)
    assert quarter["period"]["start"] == "2026-01-01" and quarter["kpis"]["bad_debt_ratio"]["value"] == "3.84"
    refused = run(cli, "kpis", "--as-of", "2026-04-15", "--post", "--user", "sales1", code=1)
    assert "sales1 may not post KPI snapshots" in refused.output
    posted = json.loads(run(cli, "kpis", "--as-of", "2026-04-15", "--post", "--user", "manager1").output)
    assert posted == {"posted": "month", "period_end": "2026-03-31", "posted_by": "manager1"}
    again = run(cli, "kpis", "--as-of", "2026-04-02", "--post", "--user", "finance1", code=1)
    assert "has a snapshot already" in again.output
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        (snapshot,) = session.scalars(select(KpiSnapshot)).all()
        assert (snapshot.posted_by, snapshot.kpis["dso"]["value"]) == ("manager1", "68.2")
    assert json.loads(run(cli, "kpis", "--as-of", "2026-04-15").output)["source"] == "snapshot"


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("--as-of", "2026-02-30"), 2),
        (("--as-of", "9999-12-31"), 2),  # the period has not ended
        (("--period", "week"), 2),
        (("--as-of", "1800-01-01"), 2),  # before 1901: refused by the domain, named
    ],
)
def test_kpis_refuses_bad_days_and_periods(cli: CliRunner, args: tuple[str, ...], code: int) -> None:
    result = run(cli, "kpis", *args, code=code)
    assert "Traceback" not in result.output


def test_backfill_stores_every_missing_period_with_the_live_answers_values(
    app: Flask, cli: CliRunner, demo_tokens: dict[str, str]
) -> None:
    """A new installation with an imported history (no snapshots): `kpis --backfill` stores each finished
    month and quarter from the first invoice's on, oldest first, and the answer is then read from them,
    with the values the live computation gave."""
    build_book(app)  # the first invoice is of 1 October 2025
    refused = run(cli, "kpis", "--backfill", "--user", "sales1", code=1)
    assert "sales1 may not post KPI snapshots" in refused.output
    before = {p: json.loads(run(cli, "kpis", "--period", p).stdout) for p in ("month", "quarter")}
    assert before["month"]["kpis"]["dso"]["trend"][-1]["source"] == "live"
    done = run(cli, "kpis", "--backfill", "--user", "finance1")
    lines = [line for line in done.stderr.splitlines() if line.endswith(": posted")]
    summary = json.loads(done.stdout)
    stored = summary["snapshots"]
    assert len(stored["month"]) == 12 and stored["month"] == sorted(stored["month"])
    assert stored["quarter"][0] == "2025-12-31" and len(stored["quarter"]) >= 4  # nothing before October
    assert len(lines) == len(stored["month"]) + len(stored["quarter"])
    assert lines[0] == f"month {stored['month'][0]}: posted"  # oldest first
    for period in ("month", "quarter"):
        after = json.loads(run(cli, "kpis", "--period", period).stdout)
        assert after["source"] == "snapshot"
        for name, entry in after["kpis"].items():
            points = [(p["period_end"], p["value"]) for p in entry["trend"]]
            assert points == [(p["period_end"], p["value"]) for p in before[period]["kpis"][name]["trend"]]
            assert {p["source"] for p in entry["trend"] if p["period_end"] >= "2025-10-31"} == {"snapshot"}
    again = json.loads(run(cli, "kpis", "--backfill", "--user", "finance1").stdout)
    assert again == summary  # the day's state: nothing more to store
