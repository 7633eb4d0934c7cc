"""The top-N exposures are reviewed more often, by policy (issue 17: "The top-N exposure list and key
customers get ... a higher review frequency (policy)"): bpmn/exposure_review_policy.dmn names N and the
months, deployed with credit_limit_review (deploy refuses nonsense), the daily limit-review sweep starts a
review with reason top_exposure for each of the N largest exposures not reviewed that long, and the review
task says why (the rank). Exposures here are picked by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from handlers.registry import build_operations
from tests.bpmn.test_credit_limit_review import Desk
from tests.conftest import SteppingClock
from tests.credit.test_watchlist import NOW, Book, runtime
from tests.helpers import auth
from workflows.credit.exposure_policy import exposure_policy
from workflows.credit.key_customer_reviews import top_exposure_ranks
from workflows.credit.limit_review import review_triggers
from workflows.credit.models import Customer
from workflows.definitions.deploy import deploy_files, read_files
from workflows.definitions.shipped import shipped_bundles
from workflows.definitions.validation import InvalidBundle
from workflows.definitions.versions import latest_definition
from workflows.store.db import transaction
from workflows.store.models import InstanceStatus, ProcessInstance

pytestmark = pytest.mark.usefixtures("shipped")

AS_OF = date(2026, 3, 2)
SHIPPED_CELLS = ("<text>20</text>", "<text>3</text>")


def deploy_policy(app: Flask, top_n: str, months: str, deployed_by: str = "system") -> None:
    """The credit_limit_review bundle with exposure_review_policy.dmn's answers replaced, deployed (by the
    system: active at once, as `creditflow init` deploys)."""
    [bundle] = [b for b in shipped_bundles() if b[0].stem == "credit_limit_review"]
    files = read_files(bundle)
    text = files["exposure_review_policy.dmn"].decode()
    assert all(cell in text for cell in SHIPPED_CELLS)
    text = text.replace(SHIPPED_CELLS[0], f"<text>{top_n}</text>").replace(
        SHIPPED_CELLS[1], f"<text>{months}</text>"
    )
    files["exposure_review_policy.dmn"] = text.encode()
    with transaction(runtime(app).factory) as session:
        deploy_files(session, files, build_operations(), deployed_by=deployed_by, now=datetime.now(UTC))


def reviewed(session: Any, customer_id: int, started: date, status: str = InstanceStatus.COMPLETED) -> None:
    """A limit review of the customer started on `started` (as the sweep's history reads it)."""
    definition = latest_definition(session, "credit_limit_review")
    assert definition is not None
    at = datetime.combine(started, datetime.min.time(), tzinfo=UTC)
    session.add(
        ProcessInstance(
            definition_id=definition.id,
            process_key="credit_limit_review",
            version=definition.version,
            business_key=str(customer_id),
            status=status,
            state="{}",
            data={"customer_id": customer_id, "reason": "scheduled"},
            started_by="system",
            started_at=at,
            updated_at=at,
            completed_at=at if status == InstanceStatus.COMPLETED else None,
        )
    )


def test_the_shipped_policy_reviews_the_20_largest_exposures_every_3_months(app: Flask) -> None:
    with runtime(app).factory() as session:
        policy = exposure_policy(session)
    assert (policy.top_n, policy.review_months, policy.reason) == (20, 3, None)
    assert policy.source is not None and policy.source.startswith(
        "exposure_review_policy.dmn of credit_limit_review v"
    )


def test_the_sweep_names_the_top_n_exposures_not_reviewed_within_the_policys_months(app: Flask) -> None:
    deploy_policy(app, "4", "3")  # the 4 largest exposures, at least every 3 months
    rt = runtime(app)
    with transaction(rt.factory) as session:
        b = Book(session)
        ids = {}
        for name, amount in (
            ("largest", "50000.00"),
            ("second", "30000.00"),
            ("third", "20000.00"),
            ("fourth", "10000.00"),
            ("fifth", "500.00"),
        ):
            ids[name] = b.customer(name)  # created 900 days ago
            b.invoice(ids[name], amount)  # due 2026-12-31: nothing overdue, no limit to use up
        ids["newcomer"] = b.customer("newcomer")
        session.get(Customer, ids["newcomer"]).created_at = NOW - timedelta(days=10)  # onboarded lately
        b.invoice(ids["newcomer"], "40000.00")
        reviewed(session, ids["largest"], date(2026, 1, 5))  # within 3 months: not due
        reviewed(session, ids["second"], date(2025, 12, 2))  # 3 months ago to the day: due
        reviewed(session, ids["fourth"], date(2025, 1, 1))  # long ago, but 5th: not in the top 4
        # "third" was never reviewed: due
    with rt.factory() as session:
        ranks = top_exposure_ranks(session, AS_OF, "EUR")
        assert {c: (r.rank, r.in_base) for c, r in ranks.items()} == {
            ids["largest"]: (1, Decimal("50000.00")),
            ids["newcomer"]: (2, Decimal("40000.00")),  # looked at 10 days ago (created): not due
            ids["second"]: (3, Decimal("30000.00")),
            ids["third"]: (4, Decimal("20000.00")),
        }
        triggers = review_triggers(session, AS_OF, rt.settings.reviews, base="EUR")
        assert triggers == {ids["second"]: "top_exposure", ids["third"]: "top_exposure"}
        # Without the base currency (callers that rank nothing) no top_exposure review is named.
        assert review_triggers(session, AS_OF, rt.settings.reviews) == {}
    with transaction(rt.factory) as session:  # an open review of "third": none is started twice
        reviewed(session, ids["third"], AS_OF - timedelta(days=1), status=InstanceStatus.RUNNING)
    with rt.factory() as session:
        assert review_triggers(session, AS_OF, rt.settings.reviews, base="EUR") == {
            ids["second"]: "top_exposure"
        }
    deploy_policy(app, "0", "3")  # a process owner switches it off
    with rt.factory() as session:
        assert review_triggers(session, AS_OF, rt.settings.reviews, base="EUR") == {}


def test_the_daily_sweep_starts_the_review_and_its_task_says_why(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], app_clock: SteppingClock
) -> None:
    deploy_policy(app, "1", "6")  # only the largest exposure, every 6 months
    desk = Desk(app, client, demo_tokens, app_clock)
    with transaction(runtime(app).factory) as session:  # customers of long standing, limits of 100,000.00
        b = Book(session)
        big, small = (
            b.customer("Giant Buyer AG", limit="100000.00"),
            b.customer("Small Buyer AG", limit="100000.00"),
        )
        b.invoice(big, "40000.00")
        b.invoice(small, "4000.00")
    first = desk.tick()
    sweep = next(j for j in first["jobs"] if j["job"] == "limit_review_sweep")
    assert list(sweep["by_reason"]) == ["top_exposure"] and sweep["reviews_started"] == 1
    [review] = desk.reviews(big)
    assert desk.reviews(small) == []
    day = desk.clock.now.date().isoformat()
    why = (
        f"rank 1 of the 1 largest exposures (40000.00 EUR open on {day}); exposure_review_policy.dmn reviews "
        "them at least every 6 months"
    )
    with runtime(app).factory() as session:
        instance = session.get(ProcessInstance, review["id"])
        assert instance is not None
        assert (instance.data["reason"], instance.data["review_note"]) == ("top_exposure", why)
    [task] = [t for t in desk.client.get("/api/tasks", headers=auth(demo_tokens["analyst1"])).json["items"]]
    # The trigger by its English words (R21's F-11: the code "top_exposure" was shown).
    assert task["subject"] == "Giant Buyer AG, limit review (one of the largest exposures)"
    assert f"Trigger: one of the largest exposures: {why}" in task["context"]["instructions"]
    again = desk.tick()  # the review is open, and then reviewed within 6 months: not started again
    assert next(j for j in again["jobs"] if j["job"] == "limit_review_sweep")["reviews_started"] == 0


@pytest.mark.parametrize(
    ("top_n", "months", "said"),
    [
        ("-1", "3", "top_n must be a whole number from 0 to 1000, not -1"),
        ("1001", "3", "top_n must be a whole number from 0 to 1000, not 1001"),
        ('Decimal("2.5")', "3", "top_n must be a whole number from 0 to 1000"),
        ("True", "3", "top_n must be a whole number from 0 to 1000, not True"),
        ("20", "0", "review_months must be a whole number from 1 to 24, not 0"),
        ("20", "25", "review_months must be a whole number from 1 to 24, not 25"),
        ("20", '"quarterly"', "review_months must be a whole number from 1 to 24, not 'quarterly'"),
    ],
)
def test_a_policy_with_nonsense_values_is_refused_at_deploy(
    app: Flask, top_n: str, months: str, said: str
) -> None:
    with pytest.raises(InvalidBundle) as refused:
        deploy_policy(app, top_n, months, deployed_by="owner1")
    assert said in str(refused.value) and "exposure_review_policy.dmn" in str(refused.value)
    with runtime(app).factory() as session:
        assert exposure_policy(session).top_n == 20  # the shipped version still holds
