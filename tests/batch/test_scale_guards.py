"""Several workers on one database: chunked batch starts are claim-safe, crash-safe and never doubled.

Runs on SQLite and (in CI's second pass) on PostgreSQL, where the claims are row locks (SKIP LOCKED) and real
concurrency happens. The Prefect flows that drive these chunks are tested in tests/batch/test_flows.py.
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from handlers.registry import build_operations
from tests.smtp import RecordingSink
from workflows.batch import claims
from workflows.batch import daily_starts as chunks
from workflows.cli.demo import seed_demo_users
from workflows.credit import dunning, limit_review
from workflows.credit.customers import create_customer
from workflows.credit.models import DunningCase, DunningStatus, Invoice, InvoiceStatus
from workflows.definitions.deploy import deploy_files, read_files
from workflows.definitions.shipped import shipped_bundles
from workflows.engine.runner import Runtime
from workflows.errors import DomainError
from workflows.mail.outbox import dispatch_due_emails
from workflows.mail.smtp import mailer_for
from workflows.settings import Settings
from workflows.store.db import transaction
from workflows.store.models import Base, ClaimOutcome, OutboxEmail, ProcessInstance

ROOT = Path(__file__).resolve().parents[2]


# --- a small book of receivables ------------------------------------------------------------------------


def seed_book(factory: sessionmaker[Session], now: datetime, customers: int = 12) -> dict[str, int]:
    """Deploy the shipped diagrams and add customers with invoices: most due for dunning, some not.

    Every fourth customer owes nothing overdue; the others are 10 to 50 days late, so their cases catch
    up to level 1 (a notice) at once. Returns external id -> customer id.
    """
    today = now.date()
    ids = {}
    with transaction(factory) as session:
        seed_demo_users(session, now)  # the groups the diagrams notify and hand work to
        for bundle in shipped_bundles():
            deploy_files(session, read_files(bundle), build_operations(), deployed_by="system", now=now)
        for n in range(customers):
            external = f"C{n:04d}"
            customer = create_customer(
                session,
                {
                    "external_id": external,
                    "name": f"Customer {n}",
                    "email": f"ap{n}@c.example",
                    "currency": "EUR",
                },
                actor="test",
                now=now,
            )
            ids[external] = customer.id
            late = 0 if n % 4 == 3 else 10 + (n * 7) % 40
            for k in range(2):
                due = today - timedelta(days=late) if late else today + timedelta(days=20)
                session.add(
                    Invoice(
                        customer_id=customer.id,
                        number=f"INV-{n}-{k}",
                        amount=Decimal("500.00"),
                        open_amount=Decimal("500.00"),
                        currency="EUR",
                        issue_date=due - timedelta(days=30),
                        due_date=due,
                        status=InvoiceStatus.OPEN,
                        created_at=now,
                    )
                )
    return ids


def dunning_outcome(factory: sessionmaker[Session]) -> dict[str, Any]:
    """What a dunning day left behind, by customer e-mail (ids differ between databases and runs)."""
    with factory() as session:
        cases = session.execute(
            text(
                "SELECT c.email, d.status, d.level FROM dunning_cases d "
                "JOIN customers c ON c.id = d.customer_id"
            )
        ).all()
        mails = session.execute(select(OutboxEmail.to, OutboxEmail.template, OutboxEmail.subject)).all()
    return {
        "cases": sorted((email, status, level) for email, status, level in cases),
        "notices": sorted((to, template, subject) for to, template, subject in mails),
    }


@pytest.fixture
def rt(settings: Settings, db_engine: Engine, session_factory: sessionmaker[Session]) -> Runtime:
    return Runtime(db_engine, settings, build_operations())


NOW = datetime.fromisoformat("2026-03-02T09:00:00+00:00")


# --- the database guard ----------------------------------------------------------------------------------


def test_a_second_active_dunning_case_for_a_customer_is_refused_by_the_database(rt: Runtime) -> None:
    ids = seed_book(rt.factory, NOW, customers=1)
    customer_id = ids["C0000"]

    def add_case(status: str) -> None:
        with transaction(rt.factory) as session:
            session.add(DunningCase(customer_id=customer_id, status=status, currency="EUR", opened_at=NOW))

    add_case(DunningStatus.CLOSED)
    add_case(DunningStatus.CLOSED)  # closed cases are history: any number of them
    add_case(DunningStatus.OPEN)
    for status in DunningStatus.ACTIVE:
        with pytest.raises(IntegrityError):
            add_case(status)


def test_the_index_lists_exactly_the_active_statuses() -> None:
    index = next(i for i in DunningCase.__table__.indexes if i.name == "ux_dunning_cases_one_active")
    where = str(index.dialect_options["postgresql"]["where"])
    assert where == "status IN (" + ", ".join(f"'{s}'" for s in DunningStatus.ACTIVE) + ")"
    assert str(index.dialect_options["sqlite"]["where"]) == where


# --- chunked starts -----------------------------------------------------------------------------------------


def empty_database(factory: sessionmaker[Session]) -> None:
    """Delete every row, so a test can seed the same book again and compare two runs."""
    with transaction(factory) as session:
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(table.delete())


def test_the_dunning_run_opens_one_case_per_customer_due_whatever_the_chunk_size(rt: Runtime) -> None:
    seed_book(rt.factory, NOW)
    policy = rt.settings.dunning
    with rt.factory() as session:
        due = dunning.customers_to_dun(session, NOW.date(), policy.minimum_amount)
    whole = chunks.chunked_dunning_run(rt, NOW.date(), NOW, size=100)
    assert whole["cases_started"] == 9 and whole["failed_customers"] == []
    in_one_chunk = dunning_outcome(rt.factory)
    with rt.factory() as session:
        opened = sorted(session.scalars(select(DunningCase.customer_id)))
    assert opened == due  # every fourth customer owes nothing overdue: 9 of 12
    empty_database(rt.factory)
    seed_book(rt.factory, NOW)
    summary = chunks.chunked_dunning_run(rt, NOW.date(), NOW, size=4)
    assert summary["cases_started"] == 9 and summary["failed_customers"] == []
    chunked = dunning_outcome(rt.factory)
    assert chunked == in_one_chunk
    assert len(chunked["cases"]) == 9 and len(chunked["notices"]) == 9
    # A rerun of the same day (a retried chunk, a second worker) starts nothing more: the day's summary,
    # read from the claims, names the same instances.
    assert chunks.chunked_dunning_run(rt, NOW.date(), NOW, size=3) == summary
    assert dunning_outcome(rt.factory) == chunked


def test_reviews_swept_twice_in_chunks_start_one_review_per_customer(rt: Runtime) -> None:
    seed_book(rt.factory, NOW)
    with rt.factory() as session:
        # As the sweep asks: with the base currency, the top-N exposures of exposure_review_policy.dmn too.
        base = rt.settings.credit.base_currency
        due = limit_review.review_triggers(session, NOW.date(), rt.settings.reviews, base=base)
    first = chunks.chunked_review_sweep(rt, NOW.date(), NOW, size=3)
    again = chunks.chunked_review_sweep(rt, NOW.date(), NOW, size=2)
    assert first["reviews_started"] == len(due) >= 4 and again == first  # the same day, nothing new
    with rt.factory() as session:
        keys = session.scalars(
            select(ProcessInstance.business_key).where(ProcessInstance.process_key == "credit_limit_review")
        ).all()
    assert sorted(keys) == sorted(str(c) for c in due)


def test_two_runs_of_one_day_at_once_start_each_customer_once(rt: Runtime) -> None:
    seed_book(rt.factory, NOW, customers=24)
    plan = chunks.plan_dunning(rt, NOW.date(), size=5)
    results = run_in_threads(
        lambda: chunks.run_chunks(rt, plan, NOW), lambda: chunks.run_chunks(rt, list(reversed(plan)), NOW)
    )
    started = [i for r in results for i in r.started]
    assert len(started) == len(set(started)) == 18
    with rt.factory() as session:
        per_customer = Counter(session.scalars(select(DunningCase.customer_id)))
        instances = session.scalar(text("SELECT count(*) FROM process_instances WHERE status = 'error'"))
    assert len(per_customer) == 18 and set(per_customer.values()) == {1}
    assert instances == 0


def test_a_chunk_retried_after_a_failure_starts_only_what_is_missing(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_book(rt.factory, NOW)
    [chunk] = chunks.plan_dunning(rt, NOW.date(), size=100)
    real_start = chunks._start
    calls = []

    def failing_third(*args: Any) -> int:
        calls.append(args[3])  # (session, rt, chunk, customer_id, reason, now)
        if len(calls) == 3:
            raise ConnectionError("database went away")  # a technical failure: the task is retried
        return real_start(*args)

    monkeypatch.setattr(chunks, "_start", failing_third)
    # Two starts per transaction: the first two customers' transaction commits, the third's fails whole.
    monkeypatch.setattr(chunks, "STARTS_PER_TRANSACTION", 2)
    monkeypatch.setattr(chunks, "TRANSACTION_SECONDS", 600)  # a loaded machine does not cut it shorter
    with pytest.raises(ConnectionError):
        chunks.run_chunk(rt, chunk, NOW)
    retried = chunks.run_chunk(rt, chunk, NOW)
    assert len(retried.already_done) == 2 and len(retried.started) == 7
    assert calls[:3] == list(chunk.customer_ids[:3]) and calls[3:] == list(chunk.customer_ids[2:])


def test_a_technical_failure_rolls_back_the_starts_before_it_in_its_transaction(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The starts that share a transaction (and their claims) roll back together; the retry starts them."""
    seed_book(rt.factory, NOW)
    [chunk] = chunks.plan_dunning(rt, NOW.date(), size=100)
    real_start = chunks._start
    calls = []

    def failing_third(*args: Any) -> int:
        calls.append(args[3])
        if len(calls) == 3:
            raise ConnectionError("database went away")
        return real_start(*args)

    monkeypatch.setattr(chunks, "_start", failing_third)
    monkeypatch.setattr(chunks, "TRANSACTION_SECONDS", 600)  # one transaction for the chunk's nine
    with pytest.raises(ConnectionError):
        chunks.run_chunk(rt, chunk, NOW)
    with rt.factory() as session:
        assert session.scalar(select(func.count()).select_from(DunningCase)) == 0
        assert session.scalar(text("SELECT count(*) FROM outbox_emails")) == 0
    retried = chunks.run_chunk(rt, chunk, NOW)
    assert retried.already_done == [] and len(retried.started) == 9
    assert calls[3:] == list(chunk.customer_ids)


def test_a_refused_start_rolls_back_alone_and_its_neighbours_in_the_transaction_start(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_book(rt.factory, NOW)
    [chunk] = chunks.plan_dunning(rt, NOW.date(), size=100)
    refused = chunk.customer_ids[4]
    real_start = chunks._start

    def refusing_fifth(*args: Any) -> int:
        started = real_start(*args)  # its case and notice are written, then refused: all of it goes
        if args[3] == refused:
            raise DomainError("refused by a rule")
        return started

    monkeypatch.setattr(chunks, "_start", refusing_fifth)
    result = chunks.run_chunk(rt, chunk, NOW)
    assert result.failed == [refused] and len(result.started) == 8
    with rt.factory() as session:
        dunned = set(session.scalars(select(DunningCase.customer_id)))
        instances = session.scalar(select(func.count()).select_from(ProcessInstance))
    assert dunned == set(chunk.customer_ids) - {refused} and instances == 8
    assert chunks.DailyStart(dunning.PROCESS_KEY, chunks.plan_dunning).day_summary(rt, NOW.date())[
        "failed_customers"
    ] == [refused]


def test_a_group_leaves_the_outcome_of_a_customer_another_run_handled_meanwhile(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A customer pending when the chunk looked, started by another run before the group claims it, is
    skipped, and that run's record (started, with its instance) stays as it is."""
    monkeypatch.setattr(chunks, "TRANSACTION_SECONDS", 600)  # the group does all nine
    seed_book(rt.factory, NOW)
    [chunk] = chunks.plan_dunning(rt, NOW.date(), size=100)
    first = chunk.customer_ids[0]
    [elsewhere] = chunks.run_chunk(rt, chunks.Chunk(chunk.process_key, chunk.as_of, (first,)), NOW).started
    with transaction(rt.factory) as session:
        outcomes = chunks._start_group(session, rt, chunk, chunk.customer_ids, {}, NOW)
    assert outcomes[0] == (first, ClaimOutcome.ALREADY_HANDLED, None)
    with rt.factory() as session:
        counts = claims.day_counts(session, chunk.process_key, chunk.as_of)
        outcome = claims.day_outcomes(session, chunk.process_key, chunk.as_of)
    assert (counts.planned, counts.started) == (9, 9)
    assert elsewhere in [instance for instance, _reason in outcome.started]


def run_in_threads(*calls: Any) -> list[Any]:
    from tests.fixtures.engine.cases import run_at_once

    results = run_at_once(*calls)
    for result in results:
        if isinstance(result, Exception):
            raise result
    return results


# --- kill -9 in the middle of a chunk --------------------------------------------------------------------

# The worker: runs one chunk; the third customer's start stops inside its transaction (case row written,
# not committed) and says so, then waits to be killed.
WORKER = textwrap.dedent(
    """
    import sys, time
    from datetime import date, datetime
    from handlers.registry import build_operations
    from handlers.dunning import OpenCaseRequest
    from workflows.engine.service_tasks import Operation
    from workflows.batch import claims
    from workflows.batch import daily_starts as chunks
    from workflows.credit import dunning
    from workflows.credit import limit_review
    from workflows.store.db import make_engine, make_session_factory
    from workflows.engine.runner import Runtime
    from workflows.settings import load_settings

    settings = load_settings()
    operations = build_operations()
    real, opened = operations["dunning.open_case"].func, []

    def open_then_hang(ctx, req):
        result = real(ctx, req)
        ctx.session.flush()
        opened.append(req.customer_id)
        if len(opened) == 4:
            print("inside", *opened[2:], flush=True)
            time.sleep(60)
        return result

    # Two starts per transaction: the first two commit; the third is started (not committed) when the
    # fourth hangs, so the kill takes a finished start of an open transaction with it too.
    chunks.STARTS_PER_TRANSACTION, chunks.TRANSACTION_SECONDS = 2, 600

    operations["dunning.open_case"] = Operation("dunning.open_case", open_then_hang, OpenCaseRequest)
    rt = Runtime(make_engine(settings.database), settings, operations)
    now = datetime.fromisoformat(sys.argv[1])
    chunks.run_chunk(rt, chunks.plan_dunning(rt, now.date(), size=100)[0], now)
    print("finished", flush=True)
    """
)


@pytest.mark.slow
def test_worker_killed_mid_chunk_then_rerun_loses_nothing_and_sends_nothing_twice(
    rt: Runtime, settings: Settings, smtp_sink: RecordingSink
) -> None:
    seed_book(rt.factory, NOW)
    env = {**os.environ, "CREDITFLOW_DATABASE_URL": settings.database.url, "PYTHONPATH": str(ROOT)}
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, NOW.isoformat()], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert worker.stdout is not None
        line = worker.stdout.readline()
        assert line.startswith("inside"), f"the worker did not reach its fourth customer: {line!r}"
        uncommitted = {int(c) for c in line.split()[1:]}
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        if worker.stdout is not None:
            worker.stdout.close()
    assert worker.returncode == -signal.SIGKILL

    with rt.factory() as session:
        cases = set(session.scalars(select(DunningCase.customer_id)))
    assert len(cases) == 2 and not uncommitted & cases  # the open transaction died with the worker
    wait_until_unlocked(rt)

    rerun = chunks.run_chunk(rt, chunks.plan_dunning(rt, NOW.date(), size=100)[0], NOW)
    assert len(rerun.started) == 7 and rerun.failed == []
    mailer = mailer_for(rt.settings.mail, smtp_sink.port)
    assert dispatch_due_emails(rt.factory, mailer, rt.settings.mail, NOW).sent == 9
    outcome = dunning_outcome(rt.factory)
    assert len(outcome["cases"]) == 9
    assert {level for _email, _status, level in outcome["cases"]} == {1}
    messages = smtp_sink.wait_for(9)
    assert len(messages) == 9
    assert len({m["Message-ID"] for m in messages}) == 9
    assert sorted(str(m["To"]) for m in messages) == sorted(email for email, _s, _l in outcome["cases"])
    # Nothing more goes out on later rounds: every notice was queued once and is sent.
    assert (
        dispatch_due_emails(
            rt.factory, mailer_for(rt.settings.mail, smtp_sink.port), rt.settings.mail, NOW
        ).sent
        == 0
    )


def wait_until_unlocked(rt: Runtime) -> None:
    """Every instance row can be locked at once, and (PostgreSQL) no claim is still held.

    PostgreSQL: SKIP LOCKED returns every row once nobody holds one (NOWAIT would log an ERROR line
    each time it finds one held, and tests check the server log has none).
    """
    deadline = time.monotonic() + 10
    engine = rt.engine
    while True:
        try:
            if engine.dialect.name == "postgresql":
                with engine.begin() as conn:
                    for table in ("process_instances", "batch_claims"):
                        rows = conn.scalar(text(f"SELECT count(*) FROM {table}"))
                        free = conn.execute(text(f"SELECT 1 FROM {table} FOR UPDATE SKIP LOCKED")).all()
                        assert len(free) == rows, f"{rows - len(free)} row(s) of {table} still locked"
            with transaction(rt.factory) as session:  # SQLite: BEGIN IMMEDIATE takes the dead worker's lock
                session.execute(select(ProcessInstance.id).limit(1))
            return
        except Exception:
            # The server notices the dead client's socket a moment later; poll, then fail with the cause.
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


# --- serve --workers: one scheduler among the gunicorn workers -------------------------------------------


@pytest.mark.slow
def test_gunicorn_workers_run_one_scheduler_and_another_takes_over_when_it_dies(
    settings: Settings, tmp_path: Path
) -> None:
    config = tmp_path / "creditflow.toml"
    config.write_text(
        f'[scheduler]\nmax_sleep_s = 1\nlock_file = "{tmp_path / "scheduler.lock"}"\n[mail]\nsink_port = 0\n'
    )
    port = free_port()
    env = {
        **os.environ,
        "CREDITFLOW_DATABASE_URL": settings.database.url,
        "CREDITFLOW_CONFIG": str(config),
        "CREDITFLOW_SECRET_KEY": "test",
    }
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/creditflow"), "serve", "--workers", "3", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    stream = server.stderr
    assert stream is not None
    threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True).start()
    try:
        first = scheduler_pid(lines)
        assert urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=5).status == 200
        time.sleep(2)  # two more standby rounds of the other workers: none of them may start a scheduler
        assert all("scheduler runs" not in line for line in drain(lines))
        os.kill(first, signal.SIGKILL)
        second = scheduler_pid(lines)
        assert second != first
        assert urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=5).status == 200
    finally:
        server.terminate()
        server.wait(timeout=90)
        assert server.stderr is not None
        server.stderr.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def drain(lines: queue.Queue[str]) -> list[str]:
    found = []
    while not lines.empty():
        found.append(lines.get_nowait())
    return found


def scheduler_pid(lines: queue.Queue[str], timeout: float = 90) -> int:
    """The pid of the worker that reports it took the scheduler (fails after `timeout` seconds: three gunicorn
    workers booting on a loaded CI machine took more than 30 s)."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            continue
        seen.append(line)
        if "the scheduler runs in worker" in line:
            return int(line.split()[-1])
    raise AssertionError("no worker took the scheduler; server output:\n" + "".join(seen))
