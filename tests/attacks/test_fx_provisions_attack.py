"""Attacks on exchange rates and the monthly provision run (issue 15) as a hostile user and an auditor
would make them: rates that blow the money bound, text the API's schema refuses smuggled in through the
CSV, a month end posted late after a write-off, a write-off of a matrix-provided receivable, broken
matrices, a deactivated poster, concurrent and interrupted runs, back-dated rates and month-end edges."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from tests.cli.test_provisions_cli import cli as cli  # noqa: PLC0414 - the fixture, re-exported
from tests.fixtures.engine.cases import run_at_once
from tests.helpers import auth, migrated_customer, upload
from workflows.batch.month_end import month_end_provision_run
from workflows.cli.commands import main
from workflows.credit.fx import BeyondMoneyBound, FxRate, import_fx_rates
from workflows.credit.provision_snapshots import is_month_end, post_run
from workflows.credit.provision_tables import ProvisionRun, ProvisionRunLine
from workflows.credit.provisions import MissingRates
from workflows.credit.write_off_posting import post_request
from workflows.credit.write_offs import UNCOLLECTABLE, Proposal, open_request
from workflows.definitions.shipped import shipped_bundles
from workflows.errors import Conflict
from workflows.store.db import transaction
from workflows.store.models import AuditEvent, User

pytestmark = pytest.mark.usefixtures("shipped")

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # the app clock (tests/conftest.py)


def customer(app: Flask, name: str, currency: str) -> int:
    return migrated_customer(
        app, {"external_id": name, "name": name, "currency": currency, "email": f"ap@{name}.example"}
    )


def invoice(client: FlaskClient, token: str, customer_id: int, number: str, amount: str, **kw: str) -> None:
    body = {
        "customer_id": customer_id,
        "number": number,
        "amount": amount,
        "currency": kw.get("currency", "EUR"),
        "issue_date": kw.get("issue", "2024-01-01"),
        "due_date": kw["due"],
    }
    response = client.post("/api/invoices", json=body, headers=auth(token))
    assert response.status_code == 201, response.json


def rate(client: FlaskClient, token: str, currency: str, value: Any, day: str = "2026-01-01") -> Any:
    body = {"currency": currency, "rate": value, "date": day}
    return client.post("/api/fx-rates", json=body, headers=auth(token))


def write_off(app: Flask, customer_id: int, now: datetime) -> None:
    """Legal's uncollectable outcome for every open invoice of the customer, approved by manager1."""
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        proposal = Proposal(customer_id, UNCOLLECTABLE, Decimal("0"), Decimal("0"))
        request = open_request(session, proposal, requested_by="legal1", instance_id=None, now=now)
        post_request(session, request, approvers=["manager1"], actor="manager1", now=now)


def post(app: Flask, as_of: date, now: datetime, actor: str = "finance1") -> ProvisionRun:
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        return post_run(session, as_of, base="EUR", actor=actor, now=now)


def runs(app: Flask) -> list[ProvisionRun]:
    with app.extensions["creditflow"].rt.factory() as session:
        return list(session.scalars(select(ProvisionRun).order_by(ProvisionRun.as_of)))


# --- broke: a rate of a million turned a trillion of receivables into a 19-digit "total" and a 500 -----


def test_a_rate_that_blows_the_money_bound_is_refused_naming_the_currency_never_summed_or_posted(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    finance = demo_tokens["finance1"]
    big = customer(app, "bigco", "USD")
    for n in range(3):
        invoice(client, finance, big, f"B-{n}", "999999999999.99", currency="USD", due="2026-02-20")
    assert rate(client, finance, "USD", "1000000").status_code == 201  # the largest rate a person may post
    aging = client.get("/api/aging?as_of=2026-03-02", headers=auth(finance))
    preview = client.get("/api/provisions/preview?as_of=2026-03-02", headers=auth(finance))
    for response in (aging, preview):  # was: 200 with "2999999999999970000.00" in the total
        assert response.status_code == 409, response.get_data(as_text=True)
        assert "USD" in response.json["error"]["message"]
    with pytest.raises(BeyondMoneyBound):  # was: OverflowError from the BigInteger column
        post(app, date(2026, 2, 28), NOW)
    # The daily job on the month end records the refusal and tells the posters instead of crashing.
    summary = month_end_provision_run(app.extensions["creditflow"].rt, date(2026, 2, 28), NOW)
    assert summary["posted"] is None and "USD" in summary["reason"]
    assert runs(app) == []
    with app.extensions["creditflow"].rt.factory() as session:
        refused = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "provision_run_refused")
        ).one()
        assert "USD" in refused.detail["reason"]


# --- broke: the CSV import took what the API's schema refuses -------------------------------------------


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("G1P,1.10,2026-01-01", "currency"),  # str.isupper() is True for "G1P"
        ("GB-,1.10,2026-01-01", "currency"),
        ("USD,1.10,20260101", "date"),  # date.fromisoformat takes the basic format
        ("USD,1.10,2026-W01-1", "date"),  # and week dates
        ("USD,1_000,2026-01-01", "rate"),  # Decimal takes underscores
        ("USD,\u0661.\u0662,2026-01-01", "rate"),  # and Arabic-Indic digits
        ("USD,1e2,2026-01-01", "rate"),
    ],
)
def test_a_rate_file_with_text_the_api_refuses_imports_nothing(
    app: Flask, tmp_path: Path, row: str, field: str
) -> None:
    path = tmp_path / "rates.csv"
    path.write_text(f"currency,rate,date\nGBP,1.17,2026-01-01\n{row}\n", encoding="utf-8")
    svc = app.extensions["creditflow"]
    with pytest.raises(Exception) as refused, transaction(svc.rt.factory) as session:
        import_fx_rates(session, path, base="EUR", actor="finance1", now=NOW)
    assert f"line 3: {field}" in str(getattr(refused.value, "report", refused.value).errors), refused.value
    with svc.rt.factory() as session:
        assert session.scalar(select(func.count()).select_from(FxRate)) == 0


@pytest.mark.parametrize("value", ["1_000", "\u0661", " 1.17", "1e2", "+1.17", "0x10"])
def test_a_rate_string_the_schema_refuses_is_a_422_naming_rate(
    client: FlaskClient, demo_tokens: dict[str, str], value: str
) -> None:
    response = rate(client, demo_tokens["finance1"], "GBP", value)
    assert response.status_code == 422 and "rate" in response.json["error"]["fields"], response.json


# --- broke: a month end posted late forgot what was written off after it ------------------------------


def test_a_run_posted_late_sees_the_book_as_it_stood_on_the_month_end(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    """The documented way to post a refused month end is `--post --as-of` days later; a write-off posted
    in between must not vanish from that month end (was: February closing 0.00 instead of 1000.00)."""
    debtor = customer(app, "goneco", "EUR")
    invoice(client, demo_tokens["finance1"], debtor, "W-1", "1000.00", due="2025-01-01")  # 423 days late
    before = client.get("/api/provisions/preview?as_of=2026-02-28", headers=auth(demo_tokens["cfo1"])).json
    write_off(app, debtor, NOW)  # 2 March
    after = client.get("/api/provisions/preview?as_of=2026-02-28", headers=auth(demo_tokens["cfo1"])).json
    assert before["total"] == after["total"] == "1000.00" and after["balance"] == "1000.00"
    february = post(app, date(2026, 2, 28), NOW)
    assert (february.balance, february.closing) == (Decimal("1000.00"), Decimal("1000.00"))


# --- broke: the write-off of a matrix-provided receivable showed as a release (income) ----------------


def test_a_write_off_uses_the_matrix_allowance_it_carried_instead_of_releasing_it(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    debtor = customer(app, "oldco", "GBP")
    assert rate(client, demo_tokens["finance1"], "GBP", "1.17").status_code == 201
    invoice(client, demo_tokens["finance1"], debtor, "G-1", "1000.00", currency="GBP", due="2025-06-30")
    february = post(app, date(2026, 2, 28), NOW)  # 243 days late: 60 % of 1170.00
    assert february.closing == Decimal("702.00")
    write_off(app, debtor, NOW)
    march = post(app, date(2026, 3, 31), datetime(2026, 4, 1, 6, 0, tzinfo=UTC))
    movement = (march.opening, march.charge, march.release, march.used, march.closing)
    # Was (702.00, 0.00, 702.00, 0.00, 0.00): a 702.00 release to income beside a 1170.00 write-off loss.
    assert movement == (Decimal("702.00"), Decimal("0.00"), Decimal("0.00"), Decimal("702.00"), Decimal("0"))


# --- broke: a matrix no run can use was deployable (a second owner approved it; every month end failed)


def matrix_bundle(tmp_path: Path, *edits: tuple[str, str]) -> list[Path]:
    (dunning,) = [b for b in shipped_bundles() if b[0].name == "dunning.bpmn"]
    directory = tmp_path / "bundle"
    directory.mkdir()
    for path in dunning:
        text = path.read_text(encoding="utf-8")
        if path.name == "provision_matrix.dmn":
            for old, new in edits:
                assert old in text, old
                text = text.replace(old, new)
        (directory / path.name).write_text(text, encoding="utf-8")
    return sorted(directory.iterdir())


@pytest.mark.parametrize(
    ("edits", "problem"),
    [
        ((('Decimal("1.00")', 'Decimal("1.5")'),), "from 0 to 1"),
        ((('Decimal("0.60")', 'Decimal("-0.6")'),), "from 0 to 1"),
        ((('Decimal("0.60")', "0.6"),), "from 0 to 1"),  # a float: not an exact rate
        ((("&gt; 365", "&gt; 400"),), "gives bucket None for 366"),  # a gap: 366-400 days match no row
        ((('Decimal("0.60")', 'Decimal("0.10")'),), "the rate falls"),  # older at a lower rate
        ((("&lt;= 30<", "&lt;= 60<"),), "no day past due reaches days_31_60"),  # overlapping rows
        ((('"days_31_60"', '"days_1_30"'),), "more than one row"),
    ],
)
def test_a_provision_matrix_no_run_could_use_is_refused_at_deploy(
    client: FlaskClient, demo_tokens: dict[str, str], tmp_path: Path, edits: Any, problem: str
) -> None:
    response = upload(client, demo_tokens["owner1"], matrix_bundle(tmp_path, *edits))
    assert response.status_code == 422, response.json
    assert "provision_matrix.dmn" in response.json["error"]["message"]
    assert problem in response.json["error"]["message"], response.json["error"]["message"]
    latest = client.get("/api/provisions/preview", headers=auth(demo_tokens["cfo1"])).json
    assert latest["matrix"] == "provision_matrix.dmn of dunning v1"


def test_a_sound_matrix_change_still_deploys_and_waits_for_a_second_owner(
    client: FlaskClient, demo_tokens: dict[str, str], tmp_path: Path
) -> None:
    bundle = matrix_bundle(tmp_path, ('Decimal("0.60")', 'Decimal("0.65")'))
    response = upload(client, demo_tokens["owner1"], bundle)
    assert response.status_code == 201 and response.json["status"] == "pending", response.json


# --- broke: a deactivated user could still post the run (and act) from the shell ----------------------


def test_a_deactivated_credit_manager_cannot_post_the_run_from_the_shell(
    app: Flask, cli: CliRunner, demo_tokens: dict[str, str]
) -> None:
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        session.execute(update(User).where(User.username == "manager1").values(active=False))
    result = cli.invoke(main, ["provisions", "--post", "--as-of", "2026-02-28", "--user", "manager1"])
    assert result.exit_code == 1 and "deactivated" in result.output, result.output
    assert runs(app) == []
    # The active colleague may.
    result = cli.invoke(main, ["provisions", "--post", "--as-of", "2026-02-28", "--user", "finance1"])
    assert result.exit_code == 0, result.output
    assert [r.posted_by for r in runs(app)] == ["finance1"]


# --- held: who may post, and names that are no person --------------------------------------------------


@pytest.mark.parametrize(
    ("user", "says"),
    [
        ("sales1", "may not post"),
        ("collector1", "may not post"),
        ("auditor1", "may not post"),
        ("cfo1", "may not post"),
        ("system", "does not exist"),
        ("cli:root", "does not exist"),
        ("nobody", "does not exist"),
    ],
)
def test_only_finance_and_credit_managers_post_the_run_from_the_shell(
    app: Flask, cli: CliRunner, demo_tokens: dict[str, str], user: str, says: str
) -> None:
    result = cli.invoke(main, ["provisions", "--post", "--as-of", "2026-02-28", "--user", user])
    assert result.exit_code == 1 and says in result.output, result.output
    assert runs(app) == []


@pytest.mark.parametrize(
    ("as_of", "says"),
    [("2026-02-27", "not a month end"), ("2099-12-31", "has not ended yet"), ("2026-02-29", "")],
)
def test_a_day_that_is_no_past_month_end_posts_nothing(
    app: Flask, cli: CliRunner, demo_tokens: dict[str, str], as_of: str, says: str
) -> None:
    result = cli.invoke(main, ["provisions", "--post", "--as-of", as_of, "--user", "finance1"])
    assert result.exit_code != 0 and says in result.output, result.output
    assert runs(app) == []


def test_month_ends_are_calendar_month_ends() -> None:
    assert is_month_end(date(2028, 2, 29)) and not is_month_end(date(2028, 2, 28))
    assert is_month_end(date(2026, 2, 28)) and is_month_end(date(2026, 12, 31))
    assert not is_month_end(date(2027, 1, 1))


# --- held: a snapshot is history ----------------------------------------------------------------------


def test_a_rate_posted_back_dated_after_a_snapshot_leaves_the_snapshot_as_posted(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    finance = demo_tokens["finance1"]
    debtor = customer(app, "gbpco", "GBP")
    invoice(client, finance, debtor, "G-1", "1000.00", currency="GBP", due="2026-02-20")
    assert rate(client, finance, "GBP", "1.17", "2026-02-01").status_code == 201
    post(app, date(2026, 2, 28), NOW)
    snapshot = client.get("/api/provisions?as_of=2026-02-28", headers=auth(demo_tokens["auditor1"])).json
    # Someone "corrects" February's rate, and adds one for 28 February itself, after the run.
    assert rate(client, demo_tokens["finance1"], "GBP", "1.20", "2026-02-01").status_code == 201
    assert rate(client, demo_tokens["finance1"], "GBP", "1.25", "2026-02-28").status_code == 201
    again = client.get("/api/provisions?as_of=2026-02-28", headers=auth(demo_tokens["auditor1"])).json
    assert again == snapshot
    assert [line["fx_rate"] for line in again["lines"]] == ["1.17"] and again["balance"] == "1170.00"


def test_a_currency_whose_first_rate_comes_after_the_month_end_refuses_the_run(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    debtor = customer(app, "cnyco", "CNY")
    invoice(client, demo_tokens["finance1"], debtor, "C-1", "1000.00", currency="CNY", due="2026-02-20")
    assert rate(client, demo_tokens["finance1"], "CNY", "0.1283", "2026-03-01").status_code == 201
    with pytest.raises(MissingRates) as refused:
        post(app, date(2026, 2, 28), NOW)
    assert refused.value.currencies == ["CNY"] and runs(app) == []


def test_a_crash_in_the_middle_of_a_post_writes_nothing_and_the_next_run_posts_once(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What kill -9 between the lines and the audit event leaves: one transaction, so nothing."""
    debtor = customer(app, "eurco", "EUR")
    invoice(client, demo_tokens["finance1"], debtor, "E-1", "1000.00", due="2026-02-20")

    def killed(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr("workflows.credit.provision_snapshots.record_event", killed)
    with pytest.raises(KeyboardInterrupt):
        post(app, date(2026, 2, 28), NOW)
    with app.extensions["creditflow"].rt.factory() as session:
        assert session.scalar(select(func.count()).select_from(ProvisionRunLine)) == 0
    assert runs(app) == []
    monkeypatch.undo()
    rt = app.extensions["creditflow"].rt
    first = month_end_provision_run(rt, date(2026, 2, 28), NOW)
    second = month_end_provision_run(rt, date(2026, 2, 28), NOW)
    assert first["posted"] == "2026-02-28" and second["reason"] == "posted already"
    assert [r.closing for r in runs(app)] == [Decimal("20.00")]  # 2 % of 1000.00, 8 days late


def test_two_runs_of_one_month_end_at_once_post_one_snapshot(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    debtor = customer(app, "eurco", "EUR")
    invoice(client, demo_tokens["finance1"], debtor, "E-1", "1000.00", due="2026-02-20")
    rt = app.extensions["creditflow"].rt
    job = month_end_provision_run
    outcomes = run_at_once(
        lambda: job(rt, date(2026, 2, 28), NOW),
        lambda: post(app, date(2026, 2, 28), NOW, actor="manager1"),
        lambda: job(rt, date(2026, 2, 28), NOW),
    )
    assert len(runs(app)) == 1, outcomes
    for outcome in outcomes:  # the losers are told, never a crash
        assert isinstance(outcome, (dict, ProvisionRun, Conflict)), outcome


# --- held: reconciliation ------------------------------------------------------------------------------


def test_every_snapshot_reconciles_and_its_totals_are_the_sum_of_its_lines(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    finance = demo_tokens["finance1"]
    for currency, value in (("GBP", "1.1700"), ("CNY", "0.1283")):
        assert rate(client, finance, currency, value).status_code == 201
    ids = {c: customer(app, f"{c.lower()}co", c) for c in ("EUR", "GBP", "CNY")}
    for n, (currency, due) in enumerate(
        [("EUR", "2024-12-01"), ("GBP", "2025-10-15"), ("CNY", "2026-01-10"), ("EUR", "2026-03-15")]
    ):
        invoice(client, finance, ids[currency], f"R-{n}", "1234.57", currency=currency, due=due)
    post(app, date(2026, 1, 31), datetime(2026, 2, 1, tzinfo=UTC))
    post(app, date(2026, 2, 28), NOW)
    paid = {"customer_id": ids["GBP"], "amount": "1234.57", "currency": "GBP", "date": "2026-03-02"}
    assert client.post("/api/payments", json=paid, headers=auth(finance)).status_code == 201
    write_off(app, ids["EUR"], NOW)
    post(app, date(2026, 3, 31), datetime(2026, 4, 1, tzinfo=UTC))
    previous = Decimal("0.00")
    for as_of in ("2026-01-31", "2026-02-28", "2026-03-31"):
        body = client.get(f"/api/provisions?as_of={as_of}", headers=auth(demo_tokens["auditor1"])).json
        m = {k: Decimal(v) for k, v in body["movement"].items()}
        assert m["opening"] == previous and m["closing"] == Decimal(body["total"])
        assert m["opening"] + m["charge"] - m["release"] - m["used"] == m["closing"], (as_of, m)
        assert min(m["charge"], m["release"]) == 0
        lines = body["lines"]
        assert sum(Decimal(x["provision"]) for x in lines) == Decimal(body["total"])
        assert sum(Decimal(x["balance_base"]) for x in lines) == Decimal(body["balance"])
        matrix = sum(Decimal(b["provision"]) for b in body["by_bucket"].values())
        assert matrix == Decimal(body["matrix_total"])
        for x in lines:
            assert Decimal(x["balance_base"]) == (Decimal(x["balance"]) * Decimal(x["fx_rate"])).quantize(
                Decimal("0.01")
            )
        previous = m["closing"]
    march = client.get("/api/provisions?as_of=2026-03-31", headers=auth(demo_tokens["auditor1"])).json
    assert march["movement"]["used"] != "0.00"  # the EUR write-off used its 100 % allowance


# --- broke: the aging of a past day showed today's balances (a payment since then was missing) -------


def test_the_aging_of_a_past_day_shows_that_days_balances_as_the_provisions_do(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    finance = demo_tokens["finance1"]
    debtor = customer(app, "eurco", "EUR")
    invoice(client, finance, debtor, "E-1", "1000.00", due="2026-01-31")
    invoice(client, finance, debtor, "E-2", "500.00", due="2026-02-20")
    paid = {"customer_id": debtor, "amount": "1000.00", "currency": "EUR", "date": "2026-03-01"}
    assert client.post("/api/payments", json=paid, headers=auth(finance)).status_code == 201
    aging = client.get("/api/aging?as_of=2026-02-28", headers=auth(finance)).json
    # Was days_1_30 "500.00": the 1 March payment taken off the February book.
    assert (aging["total"]["days_1_30"], aging["customers"][0]["days_1_30"]) == ("1500.00", "1500.00")
    preview = client.get("/api/provisions/preview?as_of=2026-02-28", headers=auth(finance)).json
    assert preview["balance"] == "1500.00"
    today = client.get("/api/aging?as_of=2026-03-02", headers=auth(finance)).json
    assert today["total"]["days_1_30"] == "500.00"  # E-2, 10 days late; E-1 is paid


# --- held (the chain): two posters of different month ends at once never fork the snapshots ----------


def test_two_month_ends_posted_at_once_chain_one_after_the_other(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    debtor = customer(app, "eurco", "EUR")
    invoice(client, demo_tokens["finance1"], debtor, "E-1", "1000.00", due="2025-12-20")
    outcomes = run_at_once(
        lambda: post(app, date(2026, 1, 31), NOW, actor="manager1"),
        lambda: post(app, date(2026, 2, 28), NOW, actor="finance1"),
    )
    posted = runs(app)
    assert posted, outcomes
    # Either both, January first and February after it, or February alone (January refused: in order).
    assert [r.previous_id for r in posted] == [None, *(r.id for r in posted[:-1])], outcomes
    for run, before in zip(posted[1:], posted, strict=False):
        assert run.opening == before.closing
    for outcome in outcomes:
        assert isinstance(outcome, (ProvisionRun, Conflict)), outcome


# --- broke: a month end the daily job missed (scheduler down, or refused and never posted) was lost ----


def test_the_daily_job_posts_a_missed_month_end_before_the_next_instead_of_skipping_it(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    debtor = customer(app, "eurco", "EUR")
    invoice(client, demo_tokens["finance1"], debtor, "E-1", "1000.00", due="2025-12-20")
    rt = app.extensions["creditflow"].rt
    post(app, date(2025, 12, 31), datetime(2026, 1, 1, tzinfo=UTC))
    # No run on 31 January (the scheduler was down). Was: February chained onto December, and January
    # could never be posted afterwards (snapshots go in order).
    summary = month_end_provision_run(rt, date(2026, 2, 28), datetime(2026, 2, 28, 23, 0, tzinfo=UTC))
    assert summary["posted"] == "2026-02-28" and summary["caught_up"] == ["2026-01-31"], summary
    chain = runs(app)
    assert [r.as_of for r in chain] == [date(2025, 12, 31), date(2026, 1, 31), date(2026, 2, 28)]
    assert [r.previous_id for r in chain] == [None, chain[0].id, chain[1].id]
    assert [r.closing for r in chain] == [Decimal("20.00"), Decimal("50.00"), Decimal("100.00")]
    assert {r.posted_by for r in chain[1:]} == {"system"}


def test_a_refused_month_end_refuses_the_next_too_until_a_person_posts_the_rate(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    finance = demo_tokens["finance1"]
    debtor = customer(app, "cnyco", "CNY")
    invoice(client, finance, debtor, "C-1", "1000.00", currency="CNY", due="2025-12-20")
    assert rate(client, finance, "CNY", "0.1283", "2025-12-01").status_code == 201
    rt = app.extensions["creditflow"].rt
    post(app, date(2025, 12, 31), datetime(2026, 1, 1, tzinfo=UTC))
    # January's run was refused (a rate problem then), and nobody posted it; February must not skip it.
    with transaction(rt.factory) as session:
        session.execute(update(FxRate).values(day=date(2026, 2, 1)))  # the only rate now starts in February
    summary = month_end_provision_run(rt, date(2026, 2, 28), datetime(2026, 2, 28, 23, 0, tzinfo=UTC))
    assert summary["posted"] is None and "2026-01-31" in summary["reason"], summary
    assert [r.as_of for r in runs(app)] == [date(2025, 12, 31)]


# --- broke: an approver could set the exchange rate their authority threshold is compared at ----------


def test_a_credit_manager_cannot_post_the_rate_that_picks_who_approves(
    client: FlaskClient, demo_tokens: dict[str, str], tmp_path: Path, cli: CliRunner
) -> None:
    """The limit, write-off and dispute authority tables compare base-currency amounts at the stored
    rates, and credit managers approve there: a manager posting GBP at 0.0000000001 would make any GBP
    limit or write-off theirs alone. Rates are finance's (was: finance and credit managers)."""
    response = rate(client, demo_tokens["manager1"], "GBP", "0.0000000001")
    assert response.status_code == 403, response.json
    rates = tmp_path / "gbp.csv"
    rates.write_text("currency,rate,date\nGBP,0.0000000001,2026-03-01\n", encoding="utf-8")
    result = cli.invoke(main, ["import", "fx-rates", str(rates), "--user", "manager1"])
    assert result.exit_code != 0, result.output
    listed = client.get("/api/fx-rates", headers=auth(demo_tokens["finance1"])).json
    assert listed["total"] == 0
    assert rate(client, demo_tokens["finance1"], "GBP", "1.17").status_code == 201


def test_a_person_cannot_skip_a_month_end_by_posting_a_later_one(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    """Was: finance posted February on top of December, and January could never be posted after it."""
    post(app, date(2025, 12, 31), datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(Conflict, match="2026-01-31 has no snapshot yet"):
        post(app, date(2026, 2, 28), NOW)
    post(app, date(2026, 1, 31), NOW)
    post(app, date(2026, 2, 28), NOW)
    assert [r.as_of.month for r in runs(app)] == [12, 1, 2]


def test_a_first_snapshot_far_in_the_past_is_caught_up_a_year_per_month_end_never_skipped(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    """A first snapshot posted for 2023 (history, or a mistake) leaves 25 month ends to post: the daily
    job posts a year of them per month end, in order, instead of refusing for ever or skipping."""
    post(app, date(2023, 12, 31), NOW)
    rt = app.extensions["creditflow"].rt
    summary = month_end_provision_run(rt, date(2026, 2, 28), NOW)
    assert summary["posted"] is None and len(summary["caught_up"]) == 12, summary
    assert runs(app)[-1].as_of == date(2024, 12, 31)
    month_end_provision_run(rt, date(2026, 2, 28), NOW)  # the next run (here: the same day, run again)
    done = month_end_provision_run(rt, date(2026, 2, 28), NOW)
    assert done["posted"] == "2026-02-28", done
    chain = runs(app)
    assert len(chain) == 27 and [r.previous_id for r in chain[1:]] == [r.id for r in chain[:-1]]


# --- broke: a key given twice stored the last value (what a proxy or log reading the first saw differs) --


@pytest.mark.parametrize(
    "raw",
    [
        b'{"currency": "GBP", "rate": "1.17", "date": "2026-03-01", "currency": "USD"}',
        b'{"currency": "GBP", "rate": "1.17", "rate": "117", "date": "2026-03-01"}',
    ],
)
def test_a_key_given_twice_is_a_400_and_stores_nothing(
    client: FlaskClient, demo_tokens: dict[str, str], raw: bytes
) -> None:
    headers = {**auth(demo_tokens["finance1"]), "Content-Type": "application/json"}
    response = client.post("/api/fx-rates", data=raw, headers=headers)
    assert response.status_code == 400 and "twice" in response.json["error"]["message"], response.json
    assert client.get("/api/fx-rates", headers=auth(demo_tokens["finance1"])).json["total"] == 0


def test_keys_named_like_internals_are_ignored_and_far_days_are_answered(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    body = {"currency": "GBP", "rate": "1.17", "date": "2026-03-01", "typename": "x", "__class__": "y"}
    stored = client.post("/api/fx-rates", json=body, headers=auth(demo_tokens["finance1"]))
    assert stored.status_code == 201 and set(stored.json) == {
        "currency",
        "date",
        "rate",
        "source",
        "created_by",
        "created_at",
    }
    for query in ("?as_of=9999-12-31", "?as_of=0001-01-01"):
        for path in ("/api/provisions/preview", "/api/aging"):
            assert client.get(path + query, headers=auth(demo_tokens["cfo1"])).status_code == 200
        assert client.get("/api/provisions" + query, headers=auth(demo_tokens["cfo1"])).status_code == 404


# --- broke: a recovery dated before a month end but entered after it stayed provided in that month end --


def test_a_recovery_dated_before_the_month_end_releases_the_provision_in_that_month_end(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    """The bank line of 27 February is entered on 2 March, and February is posted late: the balance of
    that month end is 0.00 (the payment's date counts), and so must its specific provision be (was:
    1000.00 provided against a 0.00 balance, the release dated when it was entered)."""
    from workflows.credit.models import Provision

    debtor = customer(app, "legalco", "EUR")
    invoice(client, demo_tokens["finance1"], debtor, "L-1", "1000.00", due="2025-10-01")
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        session.add(
            Provision(
                customer_id=debtor,
                amount=Decimal("1000.00"),
                currency="EUR",
                rate=Decimal("1.00"),
                reason="legal handover",
                created_by="manager1",
                created_at=datetime(2026, 2, 10, 9, 0, tzinfo=UTC),
            )
        )
    paid = {"customer_id": debtor, "amount": "1000.00", "currency": "EUR", "date": "2026-02-27"}
    assert client.post("/api/payments", json=paid, headers=auth(demo_tokens["finance1"])).status_code == 201
    february = post(app, date(2026, 2, 28), NOW)
    assert (february.balance, february.specific_provision, february.closing) == (Decimal("0"),) * 3
    # Before the payment's day, the provision stands.
    before = client.get("/api/provisions/preview?as_of=2026-02-26", headers=auth(demo_tokens["cfo1"])).json
    assert (before["balance"], before["specific_total"]) == ("1000.00", "1000.00")


# --- broke: the first snapshot counted every earlier write-off as used in its (non-existent) period ----


def test_the_first_snapshot_opens_the_allowance_with_nothing_used(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    """Was: a write-off of January, before any snapshot, showed in the first one (February) as 1000.00
    used and a 1000.00 charge: an expense of a month that never provided for it."""
    from workflows.credit.models import Provision

    debtor = customer(app, "goneco", "EUR")
    invoice(client, demo_tokens["finance1"], debtor, "W-1", "1000.00", due="2025-06-01")
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        session.add(
            Provision(
                customer_id=debtor,
                amount=Decimal("1000.00"),
                currency="EUR",
                rate=Decimal("1.00"),
                reason="legal handover",
                created_by="manager1",
                created_at=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
            )
        )
    write_off(app, debtor, datetime(2026, 1, 15, 9, 0, tzinfo=UTC))
    first = post(app, date(2026, 2, 28), NOW)
    movement = (first.opening, first.charge, first.release, first.used, first.closing)
    assert movement == (Decimal("0.00"),) * 5


# --- broke: a month end posted late forgot an invoice a credit note lowered after it -------------------


def test_a_run_posted_late_counts_what_a_later_credit_note_took_off(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    """An invoice of 1000.00, 423 days late on 28 February, credited in full on 2 March (a dispute): the
    late-posted February still holds it at 100 % (was: 0.00, the invoice credited and gone)."""
    from workflows.credit.credit_notes import post_credit
    from workflows.credit.disputes import Dispute, DisputeLine
    from workflows.credit.models import Invoice

    debtor = customer(app, "dispco", "EUR")
    invoice(client, demo_tokens["finance1"], debtor, "D-1", "1000.00", due="2025-01-01")
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        (inv,) = session.scalars(select(Invoice).where(Invoice.customer_id == debtor)).all()
        dispute = Dispute(
            customer_id=debtor,
            owner_group="collections",
            currency="EUR",
            disputed_amount=Decimal("1000.00"),
            status="proposed",
            proposal="accept",
            proposed_credit=Decimal("1000.00"),
            proposed_by="lead1",
            proposed_at=NOW,
            raised_by="collector1",
            opened_at=NOW,
        )
        session.add(dispute)
        session.flush()
        session.add(
            DisputeLine(
                dispute_id=dispute.id,
                invoice_id=inv.id,
                invoice_number="D-1",
                amount=inv.amount,
                reason="price",
            )
        )
        session.flush()
        (note,) = post_credit(session, dispute, approved_by=["manager1"], now=NOW)
        assert (inv.status, inv.open_amount) == ("credited", Decimal("0.00"))
    february = post(app, date(2026, 2, 28), NOW)
    assert (february.balance, february.closing) == (Decimal("1000.00"), Decimal("1000.00"))
    today = client.get("/api/provisions/preview?as_of=2026-03-02", headers=auth(demo_tokens["cfo1"])).json
    assert today["balance"] == "0.00"


# --- broke: a month end posted late used rates approved after it -----------------------------------


def test_a_month_end_posted_late_keeps_the_matrix_in_force_that_day(
    app: Flask,
    client: FlaskClient,
    demo_tokens: dict[str, str],
    tmp_path: Path,
    app_clock: Any,
) -> None:
    """Every rate set to 0, approved by a second owner on 2 March: February, posted on 2 March, is still
    provided at February's rates (was: 0.00 under the table approved after the month end)."""
    from tests.definitions.test_definition_approval import approval_task, decide, tick
    from workflows.users import add_user, issue_token

    debtor = customer(app, "oldco", "EUR")
    invoice(client, demo_tokens["finance1"], debtor, "O-1", "1000.00", due="2024-06-30")
    zero = [(f'Decimal("{r}")', 'Decimal("0")') for r in ("0.005", "0.02", "0.05", "0.10", "0.20", "0.35")]
    zero += [('Decimal("0.60")', 'Decimal("0")'), ('Decimal("1.00")', 'Decimal("0")')]
    assert upload(client, demo_tokens["owner1"], matrix_bundle(tmp_path, *zero)).status_code == 201
    svc = app.extensions["creditflow"]
    with transaction(svc.rt.factory) as session:
        add_user(session, "owner2", groups=["process_owner"], now=svc.clock())
        owner2 = issue_token(session, "owner2", svc.clock())
    tick(client, demo_tokens, app_clock)
    task = approval_task(client, owner2, "dunning", 2)
    assert decide(client, owner2, task["id"], "approve").status_code == 200
    today = client.get("/api/provisions/preview?as_of=2026-03-02", headers=auth(demo_tokens["cfo1"])).json
    assert (today["matrix"], today["total"]) == ("provision_matrix.dmn of dunning v2", "0.00")
    february = post(app, date(2026, 2, 28), app_clock.now)
    assert (february.matrix, february.closing) == ("provision_matrix.dmn of dunning v1", Decimal("1000.00"))
