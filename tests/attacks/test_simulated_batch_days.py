"""Attack: in a training environment (simulated clock), run the dunning run for a later day directly.

`creditflow dunning-run --as-of D` acts at noon of D when D lies after "now", and that "now" was the
simulated clock's time without moving the clock: the case opened, its reminder went out and its timers
were set in the future of the one clock, while every later payment, message and tick happened before
it. The clock that "every action sees" was not the time of these actions. In simulated mode a later day
is refused with a pointer to `tick --now`, which moves the one clock and runs the day's jobs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.helpers import auth
from webui import create_app
from workflows.cli.commands import main
from workflows.credit.models import DunningCase
from workflows.settings import Settings

pytestmark = pytest.mark.usefixtures("shipped")

START = datetime(2031, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def simulated(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    for name in [n for n in os.environ if n.startswith("CREDITFLOW_")]:
        monkeypatch.delenv(name)
    config = tmp_path / "creditflow.toml"
    config.write_text(
        f'[mail]\nsink_port = 0\n[scheduler]\nlock_file = "{tmp_path / "cli.lock"}"\n'
        f'[clock]\nmode = "simulated"\nstart = "{START.isoformat()}"\n'
    )
    monkeypatch.setenv("CREDITFLOW_CONFIG", str(config))
    monkeypatch.setenv("CREDITFLOW_DATABASE_URL", settings.database.url)
    monkeypatch.setenv("CREDITFLOW_SECRET_KEY", "test-secret")
    app = create_app(settings.replace("clock", mode="simulated", start=START.isoformat()))
    app.config["TESTING"] = True
    yield app
    app.extensions["creditflow"].engine.dispose()


@pytest.mark.parametrize("command", ["dunning-run", "limit-review-sweep"])
def test_a_batch_run_for_a_day_after_the_simulated_clock_is_refused(
    simulated: Flask, demo_tokens: dict[str, str], session_factory: sessionmaker[Session], command: str
) -> None:
    client = simulated.test_client()
    body = {"name": "Ahead Ltd", "email": "ap@ahead.example", "currency": "EUR"}
    customer = client.post("/api/customers", json=body, headers=auth(demo_tokens["sales1"])).json
    due = START.date() - timedelta(days=1)
    invoice = {
        "customer_id": customer["id"],
        "number": "INV-A1",
        "amount": "500.00",
        "currency": "EUR",
        "issue_date": (due - timedelta(days=30)).isoformat(),
        "due_date": due.isoformat(),
    }
    posted = client.post("/api/invoices", json=invoice, headers=auth(demo_tokens["finance1"]))
    assert posted.status_code == 201, posted.json
    later = START.date() + timedelta(days=60)

    result = CliRunner().invoke(main, [command, "--as-of", later.isoformat()])

    assert result.exit_code == 2, result.output
    assert "tick --now" in result.output
    with session_factory() as session:
        assert session.scalars(select(DunningCase.opened_at)).all() == []
    assert client.get("/api/health").json["clock"]["now"] == START.isoformat()


def test_a_batch_run_for_the_simulated_day_still_runs(simulated: Flask) -> None:
    result = CliRunner().invoke(main, ["dunning-run", "--as-of", START.date().isoformat()])
    assert result.exit_code == 0, result.output
