"""Hostile review of the segregation-of-duties report (issue 14, "An auditor's view"): the report and the
approval checks compare user names exactly, and user administration accepted a second account whose name
differs from an existing one only in case ("Manager1" beside "manager1") or in a look-alike letter
("mаnager1" with a Cyrillic а, "ｍanager1" fullwidth). One person with two such accounts requests with one
and approves with the other: the handlers count two people, the report shows no flag, and an auditor
reading "manager1" twice cannot tell the accounts apart."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import auth, migrated_customer
from workflows.credit.models import LimitChange
from workflows.errors import BadRequest
from workflows.store.db import transaction
from workflows.users import add_user


@pytest.mark.parametrize(
    "variant",
    ["Manager1", "MANAGER1", "m\u0430nager1", "\uff4danager1", "manager\u0661", "manager1\u0307"],
)
def test_a_user_name_that_reads_as_an_existing_one_is_refused(
    app: Flask, demo_tokens: dict[str, str], clock: datetime, variant: str
) -> None:
    factory = app.extensions["creditflow"].rt.factory
    with pytest.raises(BadRequest), transaction(factory) as session:
        add_user(session, variant, groups=["credit_analyst"], now=clock)


def test_existing_users_are_still_changed_and_distinct_names_still_added(
    app: Flask, demo_tokens: dict[str, str], clock: datetime
) -> None:
    factory = app.extensions["creditflow"].rt.factory
    with transaction(factory) as session:
        assert add_user(session, "manager1", groups=["cfo"], now=clock).group_names == {
            "cfo",
            "credit_manager",
        }
        assert add_user(session, "manager2", groups=["credit_manager"], now=clock).username == "manager2"
        assert add_user(session, "Jan.Berg-2_x", groups=["sales"], now=clock).username == "Jan.Berg-2_x"


def test_the_report_flags_names_that_differ_only_in_case(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime
) -> None:
    # Accounts made before names were checked: "Manager1" asked, "manager1" approved.
    customer_id = migrated_customer(
        app, {"name": "Twin GmbH", "currency": "EUR", "credit_limit": "1000.00", "external_id": "twin"}
    )
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        session.add(
            LimitChange(
                customer_id=customer_id,
                old_limit=Decimal("1000.00"),
                new_limit=Decimal("900000.00"),
                currency="EUR",
                reason="review",
                approvers=["manager1"],
                instance_id=None,
                changed_by="Manager1",
                changed_at=clock,
            )
        )
    report = client.get("/api/audit/sod", headers=auth(demo_tokens["auditor1"])).json
    [row] = [r for r in report["items"] if r["approvers"] == ["manager1"]]
    assert row["flagged"] and row["repeated"] == ["manager1"], row
