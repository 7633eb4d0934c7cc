"""Prefect flows (marker `prefect`): the same outcome as `tick`, each notice once under concurrent runs.

Needs the `prefect` extra; CI installs it in its own step and runs `pytest -m prefect` against its
PostgreSQL. One `prefect_test_harness` (a throw-away Prefect API on SQLite, ~10 s to start) serves the
whole session.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from handlers.registry import build_operations
from tests.batch.test_job_days import job_day
from tests.batch.test_scale_guards import NOW, dunning_outcome, empty_database, run_in_threads, seed_book
from tests.pg_log import postgres_log
from tests.smtp import RecordingSink
from workflows.batch.jobs import tick
from workflows.batch.scheduler import EmbeddedScheduler
from workflows.credit.models import DunningCase
from workflows.engine.runner import Runtime
from workflows.mail.outbox import dispatch_due_emails
from workflows.mail.smtp import mailer_for
from workflows.settings import Settings
from workflows.store.db import make_engine
from workflows.store.models import JobRun, JobStatus, OutboxEmail, ProcessInstance

# Before Prefect is imported: its state in a throw-away home, no telemetry, quiet logs.
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="creditflow-prefect-"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "WARNING")

prefect = pytest.importorskip(
    "prefect", reason="the prefect extra is not installed (pip install -e '.[prefect]')"
)
from prefect.testing.utilities import prefect_test_harness  # noqa: E402

from workflows.batch import daily_starts as chunks  # noqa: E402
from workflows.batch import flows  # noqa: E402

pytestmark = pytest.mark.prefect


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture
def worker_env(
    prefect_api: None, settings: Settings, smtp_sink: RecordingSink, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """What a worker machine is configured with: the shared database and the SMTP relay."""
    monkeypatch.setenv("CREDITFLOW_DATABASE_URL", settings.database.url)
    monkeypatch.setenv("CREDITFLOW_SMTP_HOST", smtp_sink.host)
    monkeypatch.setenv("CREDITFLOW_SMTP_PORT", str(smtp_sink.port))
    yield
    flows.dispose_runtimes()


@pytest.fixture
def rt(settings: Settings, db_engine: Engine, session_factory: sessionmaker[Session]) -> Runtime:
    return Runtime(db_engine, settings, build_operations())


def sent(sink: RecordingSink) -> list[tuple[str, str]]:
    return sorted((str(m["To"]), str(m["Subject"])) for m in sink.messages)


def test_tick_flow_gives_the_same_cases_and_notices_as_tick(
    rt: Runtime, worker_env: None, smtp_sink: RecordingSink
) -> None:
    seed_book(rt.factory, NOW, customers=16)
    embedded = tick(rt, mailer_for(rt.settings.mail, smtp_sink.port), NOW).as_dict()
    expected, expected_mail = dunning_outcome(rt.factory), sent(smtp_sink)
    # The 12 dunning notices; the overdue customers' limit reviews wait for an analyst (no revenue on file:
    # missing data never decides), so they send no result.
    assert embedded["emails"] == len(expected_mail) >= 12

    empty_database(rt.factory)
    smtp_sink.messages.clear()
    seed_book(rt.factory, NOW, customers=16)
    result = flows.tick_flow(now=NOW, chunk_size=5)

    assert dunning_outcome(rt.factory) == expected
    assert sent(smtp_sink) == expected_mail
    assert result["emails"] == embedded["emails"]
    assert [job["job"] for job in result["jobs"]] == [job["job"] for job in embedded["jobs"]]
    assert [len(job.get("instances", job.get("by_reason", ()))) for job in result["jobs"]] == [
        len(job.get("instances", job.get("by_reason", ()))) for job in embedded["jobs"]
    ]
    # The day is recorded like tick's: a second tick (flow or embedded) runs no daily job again.
    assert tick(rt, None, NOW).jobs == []


def test_two_concurrent_flow_runs_of_one_day_send_each_notice_once(
    rt: Runtime, worker_env: None, smtp_sink: RecordingSink
) -> None:
    seed_book(rt.factory, NOW, customers=24)
    results = run_in_threads(
        lambda: flows.tick_flow(now=NOW, chunk_size=4), lambda: flows.tick_flow(now=NOW, chunk_size=3)
    )
    outcome = dunning_outcome(rt.factory)
    assert len(outcome["cases"]) == 18
    per_message = Counter(str(m["Message-ID"]) for m in smtp_sink.messages)
    assert set(per_message.values()) == {1}
    assert sum(r["emails"] for r in results) == len(smtp_sink.messages) == len(outcome["notices"])
    assert Counter(to for to, _subject in sent(smtp_sink))["ap0@c.example"] == 1
    # A run that worked on a day (claimed or joined it) reports the whole day; one that found it done
    # reports nothing.
    reported = [job for result in results for job in result["jobs"] if job["job"] == "dunning_run"]
    assert reported and all(job["cases_started"] == 18 for job in reported)
    assert job_day(rt, "dunning_run").instances_started == 18


def test_two_flow_runs_and_the_embedded_scheduler_run_one_day_and_record_it_whole(
    rt: Runtime,
    settings: Settings,
    worker_env: None,
    smtp_sink: RecordingSink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 21, must show 1: one day, three runners on one database, one true record, no ERROR logged."""
    pg_log = postgres_log(settings)
    seed_book(rt.factory, NOW, customers=60)
    # The scheduler is another process's: its own engine, its own mailer, the shipped daily jobs.
    engine = make_engine(settings.database)
    scheduler = EmbeddedScheduler(
        Runtime(engine, settings, build_operations()), mailer_for(settings.mail, smtp_sink.port), lambda: NOW
    )
    # So that the three really overlap (a flow run takes a second or two to start, the scheduler none),
    # the day's first chunks wait until all three runs have claimed or joined the day.
    real_run_chunk = chunks.run_chunk

    def once_all_three_joined(rt: Runtime, chunk: chunks.Chunk, now: datetime, **kw: Any) -> Any:
        deadline = time.monotonic() + 60
        while chunk.process_key == "dunning" and time.monotonic() < deadline:
            if sum(row.runs for row in job_days_rows(rt) if row.job_name == "dunning_run") >= 3:
                break
            time.sleep(0.02)
        return real_run_chunk(rt, chunk, now, **kw)

    monkeypatch.setattr(chunks, "run_chunk", once_all_three_joined)
    try:
        flow_a, flow_b, round_ = run_in_threads(
            lambda: flows.tick_flow(now=NOW, chunk_size=4),
            lambda: flows.tick_flow(now=NOW, chunk_size=3),
            lambda: scheduler.run_once(NOW),
        )
    finally:
        engine.dispose()

    with rt.factory() as session:
        cases = session.scalar(select(func.count()).select_from(DunningCase))
        reviews = session.scalar(
            select(func.count()).where(ProcessInstance.process_key == "credit_limit_review")
        )
    dunning_day, sweep_day = job_day(rt, "dunning_run"), job_day(rt, "limit_review_sweep")
    assert cases == 45
    assert (dunning_day.status, dunning_day.customers_planned, dunning_day.customers_handled) == (
        JobStatus.DONE,
        cases,
        cases,
    )
    assert dunning_day.instances_started == dunning_day.result["cases_started"] == cases
    assert dunning_day.customers_failed == 0 and dunning_day.runs == 3  # one claimed, two joined
    assert sweep_day.status == JobStatus.DONE and sweep_day.instances_started == reviews > 0
    # Every runner that worked on the day reports the whole day, not its share.
    for ran in (flow_a, flow_b, round_):
        for job in ran["jobs"]:
            assert job == {
                "job": job["job"],
                "as_of": NOW.date().isoformat(),
                **job_day(rt, job["job"]).result,
            }

    # Every notice is sent once (a later round finds nothing left to send).
    mailer = mailer_for(settings.mail, smtp_sink.port)
    assert dispatch_due_emails(rt.factory, mailer, settings.mail, NOW).sent == 0
    with rt.factory() as session:
        outbox = session.scalar(select(func.count()).select_from(OutboxEmail))
    per_message = Counter(str(m["Message-ID"]) for m in smtp_sink.messages)
    assert len(per_message) == outbox and set(per_message.values()) == {1}
    assert len(dunning_outcome(rt.factory)["notices"]) == outbox
    pg_log.assert_no_errors()


def job_days_rows(rt: Runtime) -> list[JobRun]:
    with rt.factory() as session:
        return list(session.scalars(select(JobRun)))


def test_a_failed_chunk_is_retried_alone(
    rt: Runtime, worker_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_book(rt.factory, NOW, customers=12)
    firsts = [c.customer_ids[0] for c in chunks.plan_dunning(rt, NOW.date(), 3)]
    monkeypatch.setattr(flows, "chunk_task", flows.chunk_task.with_options(retry_delay_seconds=0))
    real_run_chunk = chunks.run_chunk
    calls: list[int] = []

    def second_chunk_fails_once(rt: Runtime, chunk: chunks.Chunk, now: datetime, **kw: Any) -> Any:
        calls.append(chunk.customer_ids[0])
        if len(calls) == 2:
            raise ConnectionError("the database connection dropped")
        return real_run_chunk(rt, chunk, now, **kw)

    monkeypatch.setattr(chunks, "run_chunk", second_chunk_fails_once)
    result = flows.daily_job_flow("dunning_run", NOW.date(), NOW, chunk_size=3)

    assert result["cases_started"] == 9 and result["ran"] is True
    assert calls == [firsts[0], firsts[1], firsts[1], *firsts[2:]]  # only the failed chunk ran twice
    assert len(dunning_outcome(rt.factory)["cases"]) == 9


def test_prefect_deploy_registers_cron_deployments_in_a_process_pool(
    worker_env: None, settings: Settings
) -> None:
    from click.testing import CliRunner
    from prefect.client.orchestration import get_client

    from workflows.cli.commands import main

    result = CliRunner().invoke(main, ["prefect", "deploy", "--pool", "test-pool", "--copies", "2"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert [d["deployment"] for d in lines] == [
        "creditflow-tick/daily",
        "creditflow-tick/daily-2",
        "creditflow-timers-and-mail/frequent",
    ]
    with get_client(sync_client=True) as client:
        assert client.read_work_pool("test-pool").type == "process"
        for line in lines:
            deployment = client.read_deployment(line["id"])
            assert deployment.work_pool_name == "test-pool"
            assert [s.schedule.cron for s in deployment.schedules] == [line["cron"]]
    assert lines[0]["cron"] == f"0 {settings.scheduler.daily_hour} * * *"
