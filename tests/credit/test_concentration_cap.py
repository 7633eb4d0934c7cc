"""The concentration cap is policy in bpmn/concentration_cap.dmn (issue 17, "the largest single exposure
against the policy's cap"): GET /api/kpis and /dashboard show the largest exposure against it, the
watchlist's concentration indicator fires above the same cap, and a process owner changes it by deploying."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from handlers.registry import build_operations
from tests.conftest import SteppingClock
from tests.credit.kpi_book_fixture import build_book as kpi_book
from tests.credit.test_watchlist import NOW, TODAY, fired, runtime
from tests.credit.test_watchlist import build_book as watchlist_book
from tests.helpers import auth
from tests.webui.test_pages import logged_in
from workflows.batch.watchlist_run import watchlist_run
from workflows.credit.concentration_cap import concentration_cap
from workflows.credit.kpis import compute_kpis
from workflows.definitions.deploy import deploy_files, read_files
from workflows.definitions.shipped import shipped_bundles
from workflows.definitions.validation import InvalidBundle
from workflows.store.db import transaction

pytestmark = pytest.mark.usefixtures("shipped")

SHIPPED_CAP = '<text>Decimal("10")</text>'


def deploy_cap(app: Flask, cap_cell: str, deployed_by: str = "system") -> None:
    """The credit_limit_review bundle with concentration_cap.dmn's answer replaced, deployed (by the
    system: active at once, as `creditflow init` deploys)."""
    [bundle] = [b for b in shipped_bundles() if b[0].stem == "credit_limit_review"]
    files = read_files(bundle)
    text = files["concentration_cap.dmn"].decode()
    assert SHIPPED_CAP in text
    files["concentration_cap.dmn"] = text.replace(SHIPPED_CAP, f"<text>{cap_cell}</text>").encode()
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        deploy_files(session, files, build_operations(), deployed_by=deployed_by, now=NOW)


def march(app: Flask) -> dict[str, Any]:
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        kpi = compute_kpis(session, date(2026, 4, 15), "month", "EUR")["kpis"]["top10_concentration"]
    return dict(kpi)


def test_the_largest_exposure_is_shown_against_the_deployed_cap_and_a_new_cap_changes_it(app: Flask) -> None:
    kpi_book(app)
    # 31 March 2026: AR 32,450.00 EUR; the largest exposure is customer C's 90,000.00 CNY (C1's 40,000.00
    # left + C2 50,000.00) at 0.125 = 11,250.00, 34.67 % of it. The shipped cap is 10 %: 3,245.00.
    kpi = march(app)
    assert kpi["cap"]["percent"] == "10" and kpi["cap"]["reason"] is None
    assert kpi["cap"]["source"].startswith("concentration_cap.dmn of credit_limit_review v")
    largest = kpi["largest_exposure"]
    assert (largest["amount"], largest["share_percent"]) == ("11250.00", "34.67")
    assert (largest["cap_percent"], largest["cap_amount"], largest["headroom"], largest["over_cap"]) == (
        "10",
        "3245.00",
        "-8005.00",  # 3,245.00 - 11,250.00
        True,
    )
    # A process owner raises the cap to 40 %: 12,980.00, 1,730.00 of headroom, under it. The trend points
    # are not compared (the cap is today's policy), and the other figures do not move.
    deploy_cap(app, 'Decimal("40")')
    raised = march(app)
    assert raised["cap"]["percent"] == "40" and raised["value"] == kpi["value"]
    assert (raised["largest_exposure"]["cap_amount"], raised["largest_exposure"]["headroom"]) == (
        "12980.00",
        "1730.00",
    )
    assert raised["largest_exposure"]["over_cap"] is False
    # The share is 34.6687...%: over_cap compares it rounded down to 0.01 (34.66), as the watchlist's
    # ar_share_percent is, so a cap of 34.66 is not exceeded and one of 34.65 is (shown: 34.67, half up).
    deploy_cap(app, 'Decimal("34.66")')
    assert march(app)["largest_exposure"]["over_cap"] is False
    deploy_cap(app, 'Decimal("34.65")')
    assert march(app)["largest_exposure"]["over_cap"] is True


def test_get_api_kpis_and_the_dashboard_show_the_largest_exposure_against_the_cap(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], app_clock: SteppingClock
) -> None:
    kpi_book(app)
    app_clock.advance(days=44)  # 15 April 2026
    body = client.get("/api/kpis?as_of=2026-04-15", headers=auth(demo_tokens["manager1"])).json
    largest = body["kpis"]["top10_concentration"]["largest_exposure"]
    assert (largest["cap_amount"], largest["headroom"], largest["over_cap"]) == ("3245.00", "-8005.00", True)
    spec = client.get("/api/openapi.json").json
    assert "over_cap" in str(spec["components"]["schemas"])
    page = logged_in(app, "manager1").get("/dashboard?as_of=2026-04-15").get_data(as_text=True)
    # The tile and the top exposures: C's 34.67 % of AR against the 10 % cap, over it by 8,005.00.
    assert "Largest exposure 34.67 % of AR against a cap of 10 %" in page and "by 8,005.00" in page
    assert (
        'data-cap="10" data-over-cap="true"' in page
        and "concentration_cap.dmn of credit_limit_review" in page
    )


def test_the_watchlist_concentration_indicator_fires_above_the_same_cap(app: Flask) -> None:
    ids = watchlist_book(app)  # "big" owes 20,000.00 of about 142,000.00: 14 %
    watchlist_run(runtime(app), TODAY, NOW)
    assert "concentration" in fired(app)[ids["concentration"]]
    deploy_cap(app, 'Decimal("15")')  # raised above 14 %: the entry clears on the next run
    with runtime(app).factory() as session:
        assert concentration_cap(session).percent == Decimal("15")
    watchlist_run(runtime(app), TODAY + timedelta(days=1), NOW + timedelta(days=1))
    assert ids["concentration"] not in fired(app)
    deploy_cap(app, 'Decimal("13.5")')
    watchlist_run(runtime(app), TODAY + timedelta(days=2), NOW + timedelta(days=2))
    assert fired(app)[ids["concentration"]] == {"concentration"}


@pytest.mark.parametrize(
    ("cell", "said"),
    [
        ('Decimal("0")', "above 0 and at most 100"),
        ('Decimal("150")', "above 0 and at most 100"),
        ('"ten"', "a number such as"),
        ("1.5", "a number such as"),  # a float: caps are exact
    ],
)
def test_a_cap_that_is_not_a_percentage_is_refused_at_deploy(app: Flask, cell: str, said: str) -> None:
    with pytest.raises(InvalidBundle) as refused:
        deploy_cap(app, cell, deployed_by="owner1")
    assert said in str(refused.value) and "concentration_cap.dmn" in str(refused.value)
