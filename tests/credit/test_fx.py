"""Exchange rates: the latest on or before a day, exact to ten places, never guessed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session, sessionmaker

from workflows.credit.fx import MissingRate, parse_rate, rate_on, rates_on, store_rate, to_base
from workflows.errors import Invalid

pytestmark = pytest.mark.db
NOW = datetime(2027, 1, 14, 9, 0, tzinfo=UTC)


def _post(session: Session, currency: str, day: str, rate: str) -> None:
    store_rate(
        session,
        parse_rate({"currency": currency, "date": day, "rate": rate}, "EUR"),
        actor="finance1",
        now=NOW,
    )


def test_the_rate_of_a_day_is_the_latest_posted_on_or_before_it(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session:
        _post(session, "GBP", "2027-01-01", "1.1500000001")
        _post(session, "GBP", "2027-01-10", "1.18")
        assert rate_on(session, "GBP", date(2027, 1, 9), "EUR") == Decimal("1.1500000001")
        assert rate_on(session, "GBP", date(2027, 1, 10), "EUR") == Decimal("1.18")
        assert rate_on(session, "GBP", date(2027, 3, 1), "EUR") == Decimal("1.18")
        assert rate_on(session, "EUR", date(2000, 1, 1), "EUR") == 1
        assert to_base(session, Decimal("25650.50"), "GBP", date(2027, 1, 12), "EUR") == Decimal("30267.59")


def test_no_rate_before_the_day_is_missing_not_guessed(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        _post(session, "CNY", "2027-01-10", "0.1283")
        with pytest.raises(MissingRate, match="CNY->EUR on or before 2027-01-09"):
            rate_on(session, "CNY", date(2027, 1, 9), "EUR")
        with pytest.raises(MissingRate):
            rates_on(session, ["CNY", "USD"], date(2027, 1, 10), "EUR")


def test_a_correction_replaces_the_days_rate(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        _post(session, "USD", "2027-01-10", "0.95")
        _post(session, "USD", "2027-01-10", "0.96")
        assert rate_on(session, "USD", date(2027, 1, 10), "EUR") == Decimal("0.96")


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"currency": "usd", "date": "2027-01-10", "rate": "1"}, "currency"),
        ({"currency": "EUR", "date": "2027-01-10", "rate": "1"}, "currency"),
        ({"currency": "USD", "date": "2027-02-30", "rate": "1"}, "date"),
        ({"currency": "USD", "date": "2027-01-10", "rate": 0.95}, "rate"),
        ({"currency": "USD", "date": "2027-01-10", "rate": "0"}, "rate"),
        ({"currency": "USD", "date": "2027-01-10", "rate": "-1"}, "rate"),
        ({"currency": "USD", "date": "2027-01-10", "rate": "NaN"}, "rate"),
        ({"currency": "USD", "date": "2027-01-10", "rate": "1e400"}, "rate"),
        ({"currency": "USD", "date": "2027-01-10", "rate": "0.00000000001"}, "rate"),
        ({"currency": "USD", "date": "2027-01-10", "rate": True}, "rate"),
        ({"currency": "USD", "date": "2027-01-10", "rate": "1", "source": "a\x00b"}, "source"),
    ],
)
def test_a_bad_rate_names_its_field(raw: dict[str, object], field: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_rate(raw, "EUR")
    assert field in caught.value.details["fields"]
