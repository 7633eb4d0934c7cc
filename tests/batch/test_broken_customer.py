"""One customer whose case the database refuses never stops the dunning day for the others (issue 13)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from handlers.registry import build_operations
from tests.batch.test_scale_guards import NOW, seed_book
from tests.smtp import RecordingSink
from workflows.batch.jobs import DAILY_JOBS, tick
from workflows.engine.runner import Runtime
from workflows.mail.smtp import mailer_for
from workflows.settings import Settings
from workflows.store.models import MailStatus, OutboxEmail

REFUSE_START = {
    "sqlite": [
        "CREATE TRIGGER refuse_start BEFORE INSERT ON process_instances WHEN NEW.business_key = '{key}' "
        "BEGIN SELECT RAISE(ABORT, 'this customer''s case cannot be saved'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_start() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION 'this customer''s case cannot be saved' USING ERRCODE = 'check_violation'; END $$",
        "CREATE TRIGGER refuse_start BEFORE INSERT ON process_instances FOR EACH ROW "
        "WHEN (NEW.business_key = '{key}') EXECUTE FUNCTION refuse_start()",
    ],
}
ALLOW_START = {
    "sqlite": ["DROP TRIGGER IF EXISTS refuse_start"],
    "postgresql": [
        "DROP TRIGGER IF EXISTS refuse_start ON process_instances",
        "DROP FUNCTION IF EXISTS refuse_start()",
    ],
}


@pytest.fixture
def rt(settings: Settings, db_engine: Engine) -> Iterator[Runtime]:
    yield Runtime(db_engine, settings, build_operations())
    with db_engine.begin() as conn:  # the PostgreSQL test database outlives the test
        for statement in ALLOW_START[db_engine.dialect.name]:
            conn.execute(text(statement))


def refuse_start(engine: Engine, business_key: str) -> None:
    with engine.begin() as conn:
        for statement in REFUSE_START[engine.dialect.name]:
            conn.execute(text(statement.replace("{key}", business_key)))


def notices(factory: sessionmaker[Session]) -> list[str]:
    with factory() as session:
        sent = select(OutboxEmail.to).where(
            OutboxEmail.status == MailStatus.SENT, OutboxEmail.template == "dunning_notice"
        )
        return list(session.scalars(sent))


def test_a_customer_the_database_refuses_leaves_the_rest_of_the_dunning_day_to_run(
    rt: Runtime, smtp_sink: RecordingSink
) -> None:
    customers = seed_book(rt.factory, NOW)  # 9 of 12 customers are due, C0000 first
    refuse_start(rt.engine, str(customers["C0000"]))

    result = tick(rt, mailer_for(rt.settings.mail, smtp_sink.port), NOW, jobs=DAILY_JOBS)

    assert result.errors == []
    (dunning,) = [job for job in result.jobs if job["job"] == "dunning_run"]
    assert dunning["failed_customers"] == [customers["C0000"]]
    assert dunning["cases_started"] == 8
    sent = notices(rt.factory)
    assert len(sent) == 8 and "ap0@c.example" not in sent
    assert result.emails == len(smtp_sink.wait_for(result.emails)) >= 8
