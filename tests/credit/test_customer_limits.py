"""No one grants a credit limit by creating a customer: limits come from approved applications or reviews,
the ERP migration import (admins only) aside, and review dates stay within the policy's review cycle."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.conftest import SteppingClock
from tests.helpers import auth
from workflows.cli.commands import main
from workflows.credit.customers import add_months, longest_review_cycle
from workflows.credit.models import Customer, LimitChange
from workflows.settings import Settings

pytestmark = pytest.mark.usefixtures("shipped")

SELF_GRANTED = {
    "name": "Friendly Buyer Ltd",
    "email": "ap@friendly.example",
    "currency": "EUR",
    "credit_limit": "5000000.00",
    "next_review_date": "2099-01-01",
}


def customer_count(app: Flask) -> int:
    with app.extensions["creditflow"].rt.factory() as session:
        return session.scalar(select(func.count()).select_from(Customer)) or 0


def post_customer(client: FlaskClient, token: str, body: dict[str, Any]) -> Any:
    return client.post("/api/customers", json=body, headers=auth(token))


def test_a_sales_user_cannot_grant_a_limit_or_a_far_review_date_by_creating_a_customer(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    for user in ("sales1", "analyst1", "manager1", "admin"):
        refused = post_customer(client, demo_tokens[user], SELF_GRANTED)
        assert refused.status_code == 422, (user, refused.json)
        fields = refused.json["error"]["fields"]
        assert "approved credit application" in fields["credit_limit"], fields
        far = post_customer(client, demo_tokens[user], {**SELF_GRANTED, "credit_limit": None})
        assert far.status_code == 422 and list(far.json["error"]["fields"]) == ["next_review_date"], far.json
    assert customer_count(app) == 0

    # A limit of zero, an empty value or a smuggled number are refused alike; nothing is half-written.
    for limit in ("0.01", 5000000, "1e6"):
        body = {**SELF_GRANTED, "credit_limit": limit, "next_review_date": None}
        refused = post_customer(client, demo_tokens["sales1"], body)
        assert refused.status_code == 422 and "credit_limit" in refused.json["error"]["fields"], limit
    assert customer_count(app) == 0

    created = post_customer(
        client, demo_tokens["sales1"], {**SELF_GRANTED, "credit_limit": "", "next_review_date": ""}
    )
    assert created.status_code == 201, created.json
    credit_file = client.get(f"/api/customers/{created.json['id']}", headers=auth(demo_tokens["sales1"])).json
    assert (credit_file["credit_limit"], credit_file["limit_history"]) == ("0.00", [])


def test_the_review_date_stays_within_the_policys_longest_review_cycle(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], app_clock: SteppingClock
) -> None:
    with app.extensions["creditflow"].rt.factory() as session:
        # limit_policy.dmn reviews grades A and B every 12 months, C every 6, D and E every 3.
        assert longest_review_cycle(session) == 12
    today = app_clock.now.date()
    latest = add_months(today, 12)
    body = {k: v for k, v in SELF_GRANTED.items() if k != "credit_limit"}
    too_late = post_customer(
        client, demo_tokens["sales1"], {**body, "next_review_date": str(latest + timedelta(days=1))}
    )
    assert too_late.status_code == 422
    assert too_late.json["error"]["fields"]["next_review_date"].startswith(f"At most {latest.isoformat()}")
    assert customer_count(app) == 0
    ok = post_customer(client, demo_tokens["sales1"], {**body, "next_review_date": latest.isoformat()})
    assert ok.status_code == 201, ok.json
    assert ok.json["next_review_date"] == latest.isoformat()


# --- the ERP migration import --------------------------------------------------------------------------

HEADER = (
    "external_id,name,email,industry,founded_year,annual_revenue,currency,credit_limit,next_review_date\n"
)


@pytest.fixture
def cli_env(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the `creditflow` command at the test's database."""
    for name in [n for n in __import__("os").environ if n.startswith("CREDITFLOW_")]:
        monkeypatch.delenv(name)
    config = tmp_path / "creditflow.toml"
    config.write_text(f'[mail]\nsink_port = 0\n[scheduler]\nlock_file = "{tmp_path / "lock"}"\n')
    monkeypatch.setenv("CREDITFLOW_CONFIG", str(config))
    monkeypatch.setenv("CREDITFLOW_DATABASE_URL", settings.database.url)
    monkeypatch.setenv("CREDITFLOW_SECRET_KEY", "test-secret")


@pytest.mark.usefixtures("cli_env", "demo_tokens")
def test_only_admins_migrate_limits_and_the_history_names_them_and_the_file(
    app: Flask, tmp_path: Path, app_clock: SteppingClock
) -> None:
    review = add_months(app_clock.now.date(), 6).isoformat()
    path = tmp_path / "erp_customers_2026.csv"
    path.write_text(HEADER + f"E-1,Alpha AG,ap@alpha.example,retail,1999,2000000.00,EUR,900000,{review}\n")
    for user in ("sales1", "owner1", "auditor1", "manager1"):
        refused = CliRunner().invoke(main, ["import", "customers", str(path), "--user", user])
        assert refused.exit_code == 1 and "admins only" in refused.output, (user, refused.output)
    assert customer_count(app) == 0

    far = tmp_path / "far.csv"
    far.write_text(HEADER + "E-2,Beta AG,,retail,1999,1.00,EUR,5000000,2099-01-01\n")
    refused = CliRunner().invoke(main, ["import", "customers", str(far), "--user", "admin"])
    assert refused.exit_code == 2 and "line 2: next_review_date: At most" in refused.output, refused.output
    assert customer_count(app) == 0

    done = CliRunner().invoke(main, ["import", "customers", str(path), "--user", "admin"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == {"kind": "customers", "imported": 1}
    with app.extensions["creditflow"].rt.factory() as session:
        [change] = session.scalars(select(LimitChange))
        assert (change.reason, change.changed_by, str(change.new_limit)) == (
            "migrated from ERP: erp_customers_2026.csv",
            "admin",
            "900000.00",
        )
