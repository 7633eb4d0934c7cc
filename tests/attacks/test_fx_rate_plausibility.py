"""Hostile review of the credit policy (issue 15): a bogus exchange rate skipped approvers. The authority
thresholds weigh limits in the base currency, and the only check on a posted rate was 0 < rate <=
1,000,000: after a CHF rate of 0.95, a CHF rate of 0.0000000001 weighed a CHF 900,000 limit as EUR 0.00,
and the analyst signed alone. A rate that moves more than [credit] fx_max_move (0.25) from the nearest
stored rate of its currency is now refused with 422 naming that rate and the move, unless an admin posts
it with "force": true (audited as fx_rate_forced, naming the admin); the CSV import checks every line the
same way and imports nothing when one moves too far."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.bpmn.test_credit_application import (
    SOLID_CUSTOMER,
    apply,
    complete,
    create_customer,
    open_task,
    refresh,
)
from tests.cli.test_cli import Cli, cli, initialized_db  # noqa: F401 - the fixtures
from tests.helpers import auth
from workflows.settings import SettingsError, load_settings

pytestmark = pytest.mark.usefixtures("shipped")

BOGUS = "0.0000000001"


def post(client: FlaskClient, token: str, rate: str, day: date, **extra: Any) -> Any:
    body = {"currency": "CHF", "rate": rate, "date": day.isoformat(), **extra}
    return client.post("/api/fx-rates", json=body, headers=auth(token))


def chf_rates(client: FlaskClient, tokens: dict[str, str]) -> list[tuple[str, str]]:
    listed = client.get("/api/fx-rates?currency=CHF", headers=auth(tokens["finance1"])).json
    return [(item["date"], item["rate"]) for item in listed["items"]]


def test_a_bogus_rate_after_a_real_one_is_refused_and_the_limit_still_needs_the_manager(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    today = app.extensions["creditflow"].clock().date()
    first = post(client, demo_tokens["finance1"], "0.95", today - timedelta(days=1))
    assert first.status_code == 201, first.json  # a currency's first rate: only bounded
    for day in (today, today - timedelta(days=1)):  # a new day, or a correction of the only rate
        bogus = post(client, demo_tokens["finance1"], BOGUS, day)
        assert bogus.status_code == 422, bogus.json
        error = bogus.json["error"]
        assert error["previous"] == {"date": (today - timedelta(days=1)).isoformat(), "rate": "0.95"}
        assert error["move"] == "1" and "fx_max_move" in error["fields"]["rate"], error
        assert "0.95" in error["message"] and "100.0%" in error["message"], error["message"]
    assert chf_rates(client, demo_tokens) == [((today - timedelta(days=1)).isoformat(), "0.95")]

    # CHF 900,000 at 0.95 is EUR 855,000: the analyst and a credit manager must sign.
    customer = create_customer(client, demo_tokens["sales1"], {**SOLID_CUSTOMER, "currency": "CHF"})
    instance = apply(client, demo_tokens["sales1"], customer["id"], 900_000, currency="CHF")
    review = open_task(instance, "review_application")
    done = complete(
        client, demo_tokens["analyst1"], review["id"], decision="approve", recommended_limit=900_000
    )
    assert done.status_code == 200, done.json
    after = refresh(client, demo_tokens, instance["id"])
    assert [t["name"] for t in after["tasks"] if t["status"] == "open"] == ["manager_approval"]


def test_a_ten_percent_move_is_accepted_before_or_after_the_nearest_day(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    today = app.extensions["creditflow"].clock().date()
    token = demo_tokens["finance1"]
    assert post(client, token, "0.95", today - timedelta(days=10)).status_code == 201
    assert post(client, token, "1.045", today).status_code == 201  # +10 %
    # A back-dated rate is weighed against the nearest day (1.045, two days away), not the older 0.95.
    assert post(client, token, "0.9405", today - timedelta(days=2)).status_code == 201  # -10 % of 1.045
    nearer = post(client, token, "0.70", today - timedelta(days=9))  # -26 % of 0.95, the nearest
    assert nearer.status_code == 422 and nearer.json["error"]["previous"]["rate"] == "0.95", nearer.json


def test_only_an_admin_may_force_a_rate_and_the_force_is_audited(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    today = app.extensions["creditflow"].clock().date()
    assert post(client, demo_tokens["finance1"], "0.95", today - timedelta(days=1)).status_code == 201
    finance = post(client, demo_tokens["finance1"], BOGUS, today, force=True)
    assert finance.status_code == 403 and "only an admin" in finance.json["error"]["message"], finance.json
    for odd in ("true", 1, None):
        typed = post(client, demo_tokens["admin"], BOGUS, today, force=odd)
        assert typed.status_code == 422, (odd, typed.json)
    forced = post(client, demo_tokens["admin"], "1.50", today, force=True)  # +58 %: the franc was re-pegged
    assert forced.status_code == 201, forced.json
    assert forced.json["created_by"] == "admin"
    trail = client.get("/api/audit?kind=fx_rate_forced", headers=auth(demo_tokens["auditor1"])).json
    [event] = trail["items"]
    assert event["actor"] == "admin", event
    found = str(event)
    assert "0.95" in found and "1.5" in found and "0.5789" in found, event
    assert chf_rates(client, demo_tokens)[0] == (today.isoformat(), "1.5")


def test_the_csv_import_refuses_a_file_with_a_line_that_moves_too_far(
    cli: Cli,  # noqa: F811
    tmp_path: Path,
) -> None:
    before = cli.query("SELECT count(*) FROM fx_rates")
    path = tmp_path / "rates.csv"
    path.write_text(
        "currency,rate,date\nCHF,0.95,2026-01-01\nCHF,0.96,2026-01-02\nCHF,0.0000000001,2026-01-05\n",
        encoding="utf-8",
    )
    refused = cli.run("import", "fx-rates", str(path), "--user", "finance1", code=2)
    assert "line 4: rate" in refused.output and "0.96" in refused.output, refused.output
    assert "line 2" not in refused.output and "line 3" not in refused.output, refused.output
    assert cli.query("SELECT count(*) FROM fx_rates") == before  # all or nothing
    path.write_text("currency,rate,date\nCHF,0.95,2026-01-01\nCHF,1.02,2026-01-05\n", encoding="utf-8")
    assert '"imported": 2' in cli.run("import", "fx-rates", str(path), "--user", "finance1").output


@pytest.mark.parametrize("value", ["0", "1", "1.5", "-0.1", "NaN"])
def test_fx_max_move_is_a_share_between_0_and_1(value: str) -> None:
    with pytest.raises(SettingsError, match="fx_max_move"):
        load_settings({}, credit={"fx_max_move": value})
