"""One claim protocol for a day of a daily job: claimed once, joined, taken over when stale, counted whole.

Runs on SQLite and (CI's second pass) on PostgreSQL, where the races are real and the server log is
checked for ERROR lines when CREDITFLOW_TEST_PG_LOG names it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from handlers.registry import build_operations
from tests.batch.test_scale_guards import NOW, ROOT, dunning_outcome, seed_book, wait_until_unlocked
from tests.fixtures.engine.cases import run_at_once
from tests.pg_log import postgres_log
from tests.smtp import RecordingSink
from workflows.batch import daily_starts as chunks
from workflows.batch import job_days
from workflows.batch.job_days import Claim, claim_job_day
from workflows.batch.jobs import run_daily_jobs
from workflows.clock import utcnow
from workflows.credit.models import DunningCase, Invoice, InvoiceStatus
from workflows.engine.runner import Runtime
from workflows.errors import Invalid
from workflows.mail.outbox import dispatch_due_emails
from workflows.mail.smtp import mailer_for
from workflows.settings import Settings
from workflows.store.models import BatchClaim, ClaimOutcome, JobRun, JobStatus

DAY = NOW.date()
STALE_S = 1  # the shortest stale time: runs beat every quarter second


@pytest.fixture
def rt(settings: Settings, db_engine: Engine, session_factory: sessionmaker[Session]) -> Runtime:
    return Runtime(db_engine, settings.replace("scheduler", job_stale_after_s=STALE_S), build_operations())


def job_day(rt: Runtime, job: str = "dunning_run", day: date = DAY) -> JobRun:
    """The day's `job_runs` row (fails the test when there is none)."""
    with rt.factory() as session:
        found = session.scalar(select(JobRun).where(JobRun.job_name == job, JobRun.run_date == day))
    assert found is not None, f"no job_runs row for {job} on {day}"
    return found


def later(seconds: float) -> job_days.Clock:
    """A wall clock `seconds` ahead of the real one: a day's heartbeat looks that much older."""
    return lambda: utcnow() + timedelta(seconds=seconds)


# --- the claim ----------------------------------------------------------------------------------------


def test_a_day_is_claimed_once_then_joined_taken_over_when_stale_and_retried_when_failed(rt: Runtime) -> None:
    first = claim_job_day(rt, "sweep", DAY, runner="a")
    assert first is not None and first.how == Claim.CLAIMED
    joined = claim_job_day(rt, "sweep", DAY, runner="b")
    assert joined == job_days.DayClaim(first.job_run_id, Claim.JOINED)
    assert (job_day(rt, "sweep").claimed_by, job_day(rt, "sweep").runs) == ("a", 2)

    taken = claim_job_day(rt, "sweep", DAY, runner="c", wall=later(STALE_S + 1))
    assert taken is not None and taken.how == Claim.TOOK_OVER
    row = job_day(rt, "sweep")
    assert (row.status, row.claimed_by, row.runs, row.takeovers) == (JobStatus.RUNNING, "c", 3, 1)

    job_days.fail_job_day(rt, first.job_run_id, ConnectionError("ledger unavailable"))
    assert job_day(rt, "sweep").error == "ConnectionError: ledger unavailable"
    retried = claim_job_day(rt, "sweep", DAY, runner="d")
    assert retried is not None and retried.how == Claim.RETRIED
    row = job_day(rt, "sweep")
    assert (row.status, row.claimed_by, row.error, row.takeovers) == (JobStatus.RUNNING, "d", "", 2)

    job_days.finish_job_day(rt, first.job_run_id, {"swept": 3})
    assert claim_job_day(rt, "sweep", DAY, runner="e") is None  # a done day is never run again
    row = job_day(rt, "sweep")
    assert (row.status, row.result, row.runs) == (JobStatus.DONE, {"swept": 3}, 4)
    assert row.finished_at is not None and row.finished_at >= row.started_at


def test_a_failure_recorded_after_another_run_finished_the_day_leaves_it_done(rt: Runtime) -> None:
    claim = claim_job_day(rt, "sweep", DAY, runner="a")
    assert claim is not None
    job_days.finish_job_day(rt, claim.job_run_id, {"swept": 1})
    job_days.fail_job_day(rt, claim.job_run_id, RuntimeError("late"))
    assert (job_day(rt, "sweep").status, job_day(rt, "sweep").error) == (JobStatus.DONE, "")


def test_many_runs_claiming_one_day_at_once_make_one_claimant_and_no_database_error(
    rt: Runtime, settings: Settings
) -> None:
    pg_log = postgres_log(settings)
    claims = run_at_once(*[lambda n=n: claim_job_day(rt, "sweep", DAY, runner=f"r{n}") for n in range(8)])
    assert not [c for c in claims if isinstance(c, Exception)]
    hows = Counter(c.how for c in claims if isinstance(c, job_days.DayClaim))
    assert hows == {Claim.CLAIMED: 1, Claim.JOINED: 7}
    assert job_day(rt, "sweep").runs == 8
    pg_log.assert_no_errors()


def test_of_two_runs_finding_a_stale_day_one_takes_it_over_and_the_other_joins(rt: Runtime) -> None:
    assert claim_job_day(rt, "sweep", DAY, runner="dead") is not None
    claims = run_at_once(
        *[
            lambda n=n: claim_job_day(rt, "sweep", DAY, runner=f"r{n}", wall=later(STALE_S + 1))
            for n in range(4)
        ]
    )
    hows = Counter(c.how for c in claims if isinstance(c, job_days.DayClaim))
    assert hows == {Claim.TOOK_OVER: 1, Claim.JOINED: 3}
    assert job_day(rt, "sweep").takeovers == 1


# --- the heartbeat and the day's counts -------------------------------------------------------------------


def test_a_running_day_is_beaten_and_shows_its_counts_so_far(rt: Runtime) -> None:
    seed_book(rt.factory, NOW, customers=8)
    seen: list[JobRun] = []

    def run_then_watch(chunk: chunks.Chunk, wait: bool) -> chunks.ChunkResult:
        done = chunks.run_chunk(rt, chunk, NOW, wait=wait)
        if not seen:
            # The first chunk is committed; the next beat (every quarter second) counts it.
            first = job_day(rt)
            deadline = time.monotonic() + 10
            while (row := job_day(rt)).heartbeat_at == first.heartbeat_at and time.monotonic() < deadline:
                time.sleep(0.05)
            seen.append(row)
        return done

    job = chunks.chunked_dunning_run
    summary = job_days.run_job_day(
        rt,
        "dunning_run",
        DAY,
        lambda: job(rt, DAY, NOW, 2, run_one=run_then_watch),
        runner="test",
        count=lambda session: job.day_counts(session, DAY),
    )

    [beaten] = seen
    assert beaten.status == JobStatus.RUNNING and beaten.heartbeat_at is not None
    assert beaten.heartbeat_at > beaten.started_at
    assert (beaten.customers_planned, beaten.customers_handled, beaten.instances_started) == (6, 2, 2)
    done = job_day(rt)
    assert (done.status, done.customers_planned, done.customers_handled, done.instances_started) == (
        JobStatus.DONE,
        6,
        6,
        6,
    )
    assert summary == done.result and summary is not None and summary["cases_started"] == 6


def test_the_days_counts_are_the_whole_day_whichever_run_did_the_work(rt: Runtime) -> None:
    seed_book(rt.factory, NOW, customers=12)
    # A run outside the day's protocol (the CLI's dunning-run) does part of the day first.
    [first] = chunks.plan_dunning(rt, DAY, size=4)[:1]
    assert len(chunks.run_chunk(rt, first, NOW).started) == 4
    ran = run_daily_jobs(rt, NOW, {"dunning_run": chunks.chunked_dunning_run})
    row = job_day(rt)
    assert (row.customers_planned, row.instances_started, row.customers_failed) == (9, 9, 0)
    assert ran[0]["cases_started"] == 9 and len(ran[0]["instances"]) == 9


def test_a_customer_no_longer_due_when_the_day_is_planned_again_is_dropped_not_dunned(rt: Runtime) -> None:
    ids = seed_book(rt.factory, NOW, customers=4)
    chunks.plan_dunning(rt, DAY)  # a run planned the day, then died before starting anyone
    paid = ids["C0000"]
    with rt.factory() as session, session.begin():
        for invoice in session.scalars(select(Invoice).where(Invoice.customer_id == paid)):
            invoice.status, invoice.open_amount = InvoiceStatus.PAID, Decimal("0.00")
    summary = chunks.chunked_dunning_run(rt, DAY, NOW)
    with rt.factory() as session:
        outcomes = dict(session.execute(select(BatchClaim.customer_id, BatchClaim.outcome)).all())
        dunned = set(session.scalars(select(DunningCase.customer_id)))
    assert outcomes[paid] == ClaimOutcome.DROPPED and paid not in dunned
    assert summary["customers"] == summary["cases_started"] == len(dunned) == 2


# --- kill -9 of the claimant ---------------------------------------------------------------------------

# The claimant: runs the day's dunning through the protocol; the fourth customer's start stops inside its
# transaction (the third's and its case rows written, not committed) and says so, then waits to be killed.
CLAIMANT = textwrap.dedent(
    """
    import sys, time
    from datetime import datetime
    from handlers.registry import build_operations
    from handlers.dunning import OpenCaseRequest
    from workflows.engine.service_tasks import Operation
    from workflows.batch import daily_starts as chunks
    from workflows.batch.jobs import run_daily_jobs
    from workflows.store.db import make_engine
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
            print("inside", req.customer_id, flush=True)
            time.sleep(60)
        return result

    # Two starts per transaction: the first two commit; the third is started (not committed) when the
    # fourth hangs, and dies uncommitted with it.
    chunks.STARTS_PER_TRANSACTION, chunks.TRANSACTION_SECONDS = 2, 600
    operations["dunning.open_case"] = Operation("dunning.open_case", open_then_hang, OpenCaseRequest)
    rt = Runtime(make_engine(settings.database), settings, operations)
    now = datetime.fromisoformat(sys.argv[1])
    run_daily_jobs(rt, now, {"dunning_run": chunks.chunked_dunning_run}, runner="claimant")
    print("finished", flush=True)
    """
)


@pytest.mark.slow
def test_claimant_killed_mid_day_is_taken_over_once_stale_and_the_day_ends_with_the_full_totals(
    rt: Runtime, settings: Settings, smtp_sink: RecordingSink, tmp_path: Path
) -> None:
    pg_log = postgres_log(settings)
    seed_book(rt.factory, NOW)
    with rt.factory() as session:
        due = chunks.dunning.customers_to_dun(session, DAY, rt.settings.dunning.minimum_amount)
    assert len(due) == 9  # what an uninterrupted day starts (test_scale_guards runs it whole)
    config = tmp_path / "claimant.toml"
    config.write_text(f"[scheduler]\njob_stale_after_s = {STALE_S}\n")
    env = {
        **os.environ,
        "CREDITFLOW_DATABASE_URL": settings.database.url,
        "CREDITFLOW_CONFIG": str(config),
        "PYTHONPATH": str(ROOT),
    }
    claimant = subprocess.Popen(
        [sys.executable, "-c", CLAIMANT, NOW.isoformat()],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert claimant.stdout is not None
        line = claimant.stdout.readline()
        assert line.startswith("inside"), f"the claimant did not reach its fourth customer: {line!r}"
        running = job_day(rt)
        assert running.status == JobStatus.RUNNING
        assert running.claimed_by.startswith("claimant@") and running.claimed_by.endswith(f":{claimant.pid}")
        claimant.send_signal(signal.SIGKILL)
        claimant.wait(timeout=10)
    finally:
        if claimant.poll() is None:
            claimant.kill()
            claimant.wait()
        if claimant.stdout is not None:
            claimant.stdout.close()
    assert claimant.returncode == -signal.SIGKILL
    wait_until_unlocked(rt)
    with rt.factory() as session:
        assert (
            session.scalar(select(func.count()).select_from(DunningCase)) == 2
        )  # the third and fourth died uncommitted
    assert job_day(rt).status == JobStatus.RUNNING  # nobody recorded the death: only the heartbeat stops

    deadline = time.monotonic() + 10
    while (beat := job_day(rt).heartbeat_at) is not None and beat > utcnow() - timedelta(seconds=STALE_S):
        assert time.monotonic() < deadline, "the dead claimant's heartbeat never went stale"
        time.sleep(0.1)
    ran = run_daily_jobs(rt, NOW, {"dunning_run": chunks.chunked_dunning_run}, runner="taker")

    row = job_day(rt)
    assert (row.status, row.takeovers, row.runs) == (JobStatus.DONE, 1, 2)
    assert row.claimed_by.startswith("taker@") and row.claimed_by.endswith(f":{os.getpid()}")
    with rt.factory() as session:
        cases = list(session.scalars(select(DunningCase.customer_id)))
    assert sorted(cases) == due and len(set(cases)) == 9
    assert (row.customers_planned, row.customers_handled, row.instances_started, row.customers_failed) == (
        9,
        9,
        9,
        0,
    )
    assert ran == [{"job": "dunning_run", "as_of": DAY.isoformat(), **row.result}]
    assert row.result["cases_started"] == 9 and len(row.result["instances"]) == 9
    mailer = mailer_for(rt.settings.mail, smtp_sink.port)
    assert dispatch_due_emails(rt.factory, mailer, rt.settings.mail, NOW).sent == 9
    messages = smtp_sink.wait_for(9)
    assert len({m["Message-ID"] for m in messages}) == 9
    assert sorted(str(m["To"]) for m in messages) == sorted(
        e for e, _s, _l in dunning_outcome(rt.factory)["cases"]
    )
    pg_log.assert_no_errors()


# --- attacks: a slow claimant taken over, two whole runs at once, refused customers ------------------


def test_a_claimant_that_was_only_slow_and_got_taken_over_does_no_work_twice(rt: Runtime) -> None:
    seed_book(rt.factory, NOW)
    job = chunks.chunked_dunning_run
    taker_done = threading.Event()
    plans: list[list[chunks.Chunk]] = []
    slow_ran: list[chunks.ChunkResult] = []

    def plan_then_stall() -> list[chunks.Chunk]:
        # The claimant plans its chunks, then stalls (a long pause, a hung socket) before it starts
        # anyone; afterwards it goes on with the chunks it planned.
        plans.append(job.planner(rt, DAY, 4))
        if len(plans) == 1:
            assert taker_done.wait(30), "the taker never finished"
        return plans[-1]

    def run_one(chunk: chunks.Chunk, wait: bool) -> chunks.ChunkResult:
        slow_ran.append(chunks.run_chunk(rt, chunk, NOW, wait=wait))
        return slow_ran[-1]

    def slow_claimant() -> dict[str, object] | None:
        return job_days.run_job_day(
            rt,
            "dunning_run",
            DAY,
            lambda: job(rt, DAY, NOW, plan=plan_then_stall, run_one=run_one),
            runner="slow",
            count=lambda session: job.day_counts(session, DAY),
        )

    claimant = threading.Thread(target=slow_claimant)
    claimant.start()
    try:
        deadline = time.monotonic() + 10
        while not plans and time.monotonic() < deadline:
            time.sleep(0.01)
        # To the taker the claimant's heartbeat looks stale (as it would after a long pause).
        taken = run_daily_jobs(rt, NOW, {"dunning_run": job}, runner="taker", wall=later(STALE_S + 1))
    finally:
        taker_done.set()
        claimant.join(30)
    assert [day["cases_started"] for day in taken] == [9]
    assert len(plans[0]) == 3 and plans[1:] == [[]]  # it had planned 9 customers; then none were left
    assert not any(r.started for r in slow_ran) and sum(len(r.already_done) for r in slow_ran) == 9
    row = job_day(rt)
    assert (row.status, row.takeovers, row.runs, row.instances_started) == (JobStatus.DONE, 1, 2, 9)
    assert row.claimed_by.startswith("taker@")
    with rt.factory() as session:
        cases = Counter(session.scalars(select(DunningCase.customer_id)))
    assert len(cases) == 9 and set(cases.values()) == {1}


def test_two_whole_runs_of_a_day_at_once_start_each_case_once_and_agree_on_the_day(
    rt: Runtime, settings: Settings
) -> None:
    pg_log = postgres_log(settings)
    seed_book(rt.factory, NOW, customers=24)
    jobs = {"dunning_run": chunks.chunked_dunning_run, "limit_review_sweep": chunks.chunked_review_sweep}
    first, second = run_at_once(
        lambda: run_daily_jobs(rt, NOW, jobs, runner="one"),
        lambda: run_daily_jobs(rt, NOW, jobs, runner="two"),
    )
    assert not isinstance(first, Exception) and not isinstance(second, Exception)
    reports = [day for day in [*first, *second] if day["job"] == "dunning_run"]
    assert reports and all(
        day == {"job": "dunning_run", "as_of": DAY.isoformat(), **job_day(rt).result} for day in reports
    )
    with rt.factory() as session:
        cases = Counter(session.scalars(select(DunningCase.customer_id)))
    assert len(cases) == 18 and set(cases.values()) == {1}
    row = job_day(rt)
    assert (row.status, row.customers_planned, row.customers_handled, row.instances_started) == (
        JobStatus.DONE,
        18,
        18,
        18,
    )
    assert row.runs == len(reports)
    pg_log.assert_no_errors()


def test_a_refused_start_is_counted_as_a_failure_of_the_day_and_not_retried_that_day(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seed_book(rt.factory, NOW)
    refused = ids["C0001"]
    real_start = chunks._start

    def refuse_one(*args: object) -> int:
        if args[3] == refused:  # (session, rt, chunk, customer_id, reason, now)
            raise Invalid("customer C0001 has no e-mail address for its notices")
        return real_start(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(chunks, "_start", refuse_one)
    jobs = {"dunning_run": chunks.chunked_dunning_run}
    [day] = run_daily_jobs(rt, NOW, jobs)
    assert day["failed_customers"] == [refused] and day["cases_started"] == 8
    row = job_day(rt)
    assert (row.status, row.customers_planned, row.customers_handled, row.customers_failed) == (
        JobStatus.DONE,
        9,
        9,
        1,
    )
    # Running the day's job again (the CLI, a retried chunk) does not retry the refused customer today.
    assert chunks.chunked_dunning_run(rt, DAY, NOW) == row.result


def test_the_cli_dunning_run_after_the_day_is_done_keeps_the_days_record_whole(
    rt: Runtime, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from workflows.cli.commands import main

    ids = seed_book(rt.factory, NOW)
    jobs = {"dunning_run": chunks.chunked_dunning_run}
    run_daily_jobs(rt, NOW, jobs)
    assert job_day(rt).instances_started == 9
    late = ids["C0003"]  # owed nothing overdue this morning; an invoice imported at noon is
    with rt.factory() as session, session.begin():
        session.add(
            Invoice(
                customer_id=late,
                number="INV-LATE",
                amount=Decimal("900.00"),
                open_amount=Decimal("900.00"),
                currency="EUR",
                issue_date=DAY - timedelta(days=60),
                due_date=DAY - timedelta(days=30),
                status=InvoiceStatus.OPEN,
                created_at=NOW,
            )
        )
    monkeypatch.setenv("CREDITFLOW_DATABASE_URL", settings.database.url)
    result = CliRunner().invoke(main, ["dunning-run", "--as-of", DAY.isoformat()])
    assert result.exit_code == 0, result.output
    assert '"cases_started": 1' in result.output  # what this command did
    row = job_day(rt)
    assert (row.status, row.customers_planned, row.instances_started) == (JobStatus.DONE, 10, 10)
    assert row.result["cases_started"] == 10 and run_daily_jobs(rt, NOW, jobs) == []


def test_a_day_whose_plan_never_runs_dry_fails_and_the_next_run_finishes_it(rt: Runtime) -> None:
    seed_book(rt.factory, NOW, customers=4)
    job = chunks.chunked_dunning_run
    stuck = job.planner(rt, DAY, 100)  # a planner that keeps answering the same chunk

    with pytest.raises(RuntimeError, match="still pending after"):
        job_days.run_job_day(
            rt, "dunning_run", DAY, lambda: job(rt, DAY, NOW, plan=lambda: stuck), runner="t"
        )
    failed = job_day(rt)
    assert failed.status == JobStatus.FAILED and "still pending" in failed.error
    [day] = run_daily_jobs(rt, NOW, {"dunning_run": job})
    assert day["cases_started"] == 3 and job_day(rt).status == JobStatus.DONE


def test_a_running_day_without_any_heartbeat_is_taken_over(rt: Runtime) -> None:
    claim = claim_job_day(rt, "sweep", DAY, runner="a")
    assert claim is not None
    with rt.factory() as session, session.begin():
        row = session.get(JobRun, claim.job_run_id)
        assert row is not None
        row.heartbeat_at = None
    taken = claim_job_day(rt, "sweep", DAY, runner="b")
    assert taken is not None and taken.how == Claim.TOOK_OVER
