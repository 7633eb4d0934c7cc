"""`creditflow import fx-rates` and `creditflow provisions [--post]` against the test app's database."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.cli.test_cli import use_database
from tests.helpers import auth, migrated_customer
from workflows.cli.commands import main
from workflows.credit.fx import FxRate
from workflows.settings import Settings
from workflows.store.models import AuditEvent

pytestmark = pytest.mark.usefixtures("shipped")


@pytest.fixture
def cli(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    url = settings.database.url
    if not url.startswith("sqlite:///"):
        pytest.skip("the CLI tests read the SQLite file")
    use_database(monkeypatch, tmp_path, Path(url.removeprefix("sqlite:///")))
    return CliRunner()


def run(cli: CliRunner, *args: str, code: int = 0) -> Result:
    result = cli.invoke(main, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == code, (args, result.output)
    return result


def test_a_rate_file_with_bad_lines_imports_nothing_and_names_every_one(
    app: Flask, cli: CliRunner, demo_tokens: dict[str, str], tmp_path: Path
) -> None:
    bad = tmp_path / "rates.csv"
    bad.write_text(
        "currency,rate,date,source\n"
        "GBP,1.17,2026-02-27,ECB\n"
        "CNY,-0.1283,2026-02-27,ECB\n"  # line 3: negative
        "EUR,1,2026-02-27,\n"  # line 4: the base currency
        "GBP,1.18,2026-02-27,ECB\n"  # line 5: GBP on that day twice
        "USD,0.92,2026-02-31,\n",  # line 6: no such day
        encoding="utf-8",
    )
    result = run(cli, "import", "fx-rates", str(bad), code=2)
    for line in (
        "line 3: rate",
        "line 4: currency",
        "line 5: GBP on 2026-02-27 is on line 2",
        "line 6: date",
    ):
        assert line in result.output, result.output
    with app.extensions["creditflow"].rt.factory() as session:
        assert session.scalars(select(FxRate)).all() == []
    refused = run(cli, "import", "fx-rates", str(bad), "--user", "sales1", code=1)
    assert "may not import fx-rates" in refused.output
    good = tmp_path / "good.csv"
    good.write_text("currency,rate,date\nGBP,1.17,2026-02-27\nCNY,0.1283,2026-02-27\n", encoding="utf-8")
    assert json.loads(run(cli, "import", "fx-rates", str(good), "--user", "finance1").stdout)["imported"] == 2
    with app.extensions["creditflow"].rt.factory() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "fx_rate_set")).all()
        assert sorted((e.actor, e.detail["currency"]) for e in events) == [
            ("finance1", "CNY"),
            ("finance1", "GBP"),
        ]


def test_the_provision_run_refuses_a_missing_rate_then_posts_once_by_the_person(
    app: Flask, client: FlaskClient, cli: CliRunner, demo_tokens: dict[str, str], tmp_path: Path
) -> None:
    debtor = migrated_customer(app, {"external_id": "Y-1", "name": "Yuan Debtor", "currency": "CNY"})
    invoice = {"customer_id": debtor, "number": "Y-1", "amount": "10000.00", "currency": "CNY"}
    dates = {"issue_date": "2026-01-01", "due_date": "2026-01-31"}
    assert (
        client.post("/api/invoices", json=invoice | dates, headers=auth(demo_tokens["finance1"])).status_code
        == 201
    )
    # Printed without --post: the refusal names the currency; --post refuses the same way.
    printed = run(cli, "provisions", "--as-of", "2026-02-28", code=2)
    assert "CNY" in printed.output and "fx-rates" in printed.output
    run(cli, "provisions", "--post", "--as-of", "2026-02-28", "--user", "finance1", code=2)
    rates = tmp_path / "cny.csv"
    rates.write_text("currency,rate,date\nCNY,0.1283,2026-02-01\n", encoding="utf-8")
    run(cli, "import", "fx-rates", str(rates), "--user", "finance1")
    preview = json.loads(run(cli, "provisions", "--as-of", "2026-02-28").stdout)
    assert preview["balance"] == "1283.00" and preview["total"] == "25.66"  # 28 days past due: 2 %
    run(cli, "provisions", "--post", "--as-of", "2026-02-27", "--user", "finance1", code=2)  # not a month end
    assert (
        "may not post"
        in run(cli, "provisions", "--post", "--as-of", "2026-02-28", "--user", "sales1", code=1).output
    )
    posted = json.loads(
        run(cli, "provisions", "--post", "--as-of", "2026-02-28", "--user", "finance1").stdout
    )
    assert posted["posted_by"] == "finance1" and posted["movement"]["charge"] == "25.66"
    again = run(cli, "provisions", "--post", "--as-of", "2026-02-28", code=2)
    assert "posted by finance1" in again.output
    read = client.get("/api/provisions?as_of=2026-03-01", headers=auth(demo_tokens["collector1"]))
    assert read.status_code == 200 and read.json["total"] == "25.66"


def test_the_demo_posts_last_months_snapshot_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "demo.db"
    use_database(monkeypatch, tmp_path, db)
    runner = CliRunner()
    first = run(runner, "init", "--demo")
    assert "demo provisions: snapshot of " in first.stdout, first.stdout
    assert "demo provisions:" not in run(runner, "init", "--demo").stdout  # one snapshot per month end
    with closing(sqlite3.connect(db)) as conn:
        rows = conn.execute("SELECT posted_by, base_currency, closing > 0 FROM provision_runs").fetchall()
        currencies = {r[0] for r in conn.execute("SELECT currency FROM provision_run_lines")}
    assert rows == [("system", "EUR", 1)]
    assert {"GBP", "CNY"} <= currencies  # the demo book converts at the seeded rates
