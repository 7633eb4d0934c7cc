"""The runner on a real database: concurrent steps, failures and retry, loop guard, exact values,
the runtime script sandbox, messages, claims, and timers that fire once."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from handlers.registry import build_operations
from tests.fixtures.engine.cases import (
    ENGINE_FIXTURES,
    People,
    add_people,
    deploy,
    open_task,
    reload_instance,
    review_runtime,
    rows,
    run_at_once,
    start_review,
    tasks_of,
)
from workflows.audit_trail import before_after
from workflows.batch.sweeps import fire_due_timers
from workflows.definitions import compile
from workflows.definitions.deploy import deploy_files
from workflows.definitions.validation import ValidatedBundle, make_parser
from workflows.engine import runner, script_pool
from workflows.engine import spiff as engine
from workflows.engine.runner import Runtime
from workflows.engine.service_tasks import Operation, TaskContext
from workflows.errors import Conflict, Forbidden
from workflows.mail.outbox import queue_email
from workflows.settings import Settings
from workflows.store.db import transaction
from workflows.store.models import (
    AuditEvent,
    Deployment,
    InboxItem,
    Incident,
    InstanceStatus,
    OutboxEmail,
    ProcessDefinition,
    ProcessInstance,
    TaskStatus,
    Timer,
)
from workflows.users import SYSTEM, Actor

REVIEWED = {"approved_amount": Decimal("1000.01"), "note": "documents pending"}
TIMER_DUE = timedelta(days=2)  # the `review_deadline` boundary timer of review.bpmn


# --- a service whose handler fails until the test repairs it --------------------------------------


@dataclass(frozen=True)
class FragileRequest:
    case_ref: str


@dataclass
class FragileService:
    """The downstream system behind `test.fragile_service`; each test starts with it down."""

    down: bool = True


FRAGILE = FragileService()


def call_fragile_service(ctx: TaskContext, request: FragileRequest) -> dict[str, Any]:
    # Written before failing, so the test can check that the savepoint rolls it back.
    queue_email(
        ctx.session,
        to=["ops@example.com"],
        template="generic",
        context={"subject": f"Case {request.case_ref} handed over", "message": "Sent to the service."},
        dedupe_key=f"fragile:{ctx.task_key}",
        now=ctx.now,
        instance_id=ctx.instance_id,
    )
    if FRAGILE.down:
        raise ConnectionError(f"fragile service is down; case {request.case_ref} not accepted")
    return {"accepted": True, "case_ref": request.case_ref}


# This test file's own operation table: the shipped operations plus the fragile service. Deploy and the
# runtime get it passed in, so no other test ever sees `test.fragile_service`.
OPERATIONS = {
    **build_operations(),
    "test.fragile_service": Operation("test.fragile_service", call_fragile_service, FragileRequest),
}


# --- fixtures and helpers -------------------------------------------------------------------------


@pytest.fixture
def rt(settings: Settings, db_engine: Engine, clock: datetime) -> Runtime:
    return review_runtime(settings, db_engine, clock)


@pytest.fixture
def people(session_factory: sessionmaker[Session], clock: datetime) -> People:
    return add_people(session_factory, clock)


def actions_of(factory: sessionmaker[Session], instance_id: int) -> list[str]:
    return rows(
        factory,
        select(AuditEvent.action).where(AuditEvent.instance_id == instance_id).order_by(AuditEvent.id),
    )


def incidents_of(factory: sessionmaker[Session], instance_id: int) -> list[Incident]:
    return rows(factory, select(Incident).where(Incident.instance_id == instance_id).order_by(Incident.id))


def complete(rt: Runtime, item: InboxItem, actor: Actor, now: datetime, **data: Any) -> InboxItem:
    return runner.complete_task(rt, item.id, data, actor=actor, now=now)


def reviewed_case(rt: Runtime, people: People, now: datetime, business_key: str | None = None) -> int:
    """A `review` case whose review is done, so it waits for the `documents_received` message."""
    instance = start_review(rt, now, business_key=business_key)
    complete(rt, open_task(rt.factory, instance.id, "review_case"), people.ann, now, **REVIEWED)
    return instance.id


def send_documents(rt: Runtime, key: str, now: datetime, **payload: Any) -> list[int]:
    return runner.deliver_message(rt, "documents_received", key, payload, actor=SYSTEM, now=now)


# --- 1. concurrency --------------------------------------------------------------------------------


def test_two_analysts_completing_one_task_at_once_get_one_success_and_one_conflict(
    rt: Runtime, people: People, clock: datetime
) -> None:
    for round_no in range(10):
        instance = start_review(rt, clock, business_key=f"RACE-{round_no}")
        item = open_task(rt.factory, instance.id, "review_case")
        outcomes = run_at_once(
            partial(complete, rt, item, people.ann, clock, **REVIEWED),
            partial(complete, rt, item, people.bob, clock, **REVIEWED),
        )
        winners = [o for o in outcomes if isinstance(o, InboxItem)]
        losers = [o for o in outcomes if isinstance(o, Exception)]
        assert len(winners) == 1 and len(losers) == 1, (round_no, outcomes)
        assert isinstance(losers[0], Conflict), (round_no, losers[0])
        (stored,) = tasks_of(rt.factory, instance.id, "review_case")
        assert stored.status == TaskStatus.COMPLETED and stored.completed_by == winners[0].completed_by
        assert actions_of(rt.factory, instance.id).count("task_completed") == 1
        assert reload_instance(rt.factory, instance.id).waits == [
            ["message", "wait_for_documents", "documents_received"]
        ]


def test_forty_cases_started_from_eight_threads_are_distinct_with_their_own_inbox_items(
    rt: Runtime, clock: datetime
) -> None:
    def start_five(thread_no: int) -> Callable[[], list[int]]:
        return lambda: [start_review(rt, clock, business_key=f"T{thread_no}-{n}").id for n in range(5)]

    outcomes = run_at_once(*(start_five(t) for t in range(8)))
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    ids = [i for o in outcomes if isinstance(o, list) for i in o]
    assert len(set(ids)) == 40
    stored = rows(rt.factory, select(ProcessInstance))
    assert sorted(i.id for i in stored) == sorted(ids)
    assert {i.status for i in stored} == {InstanceStatus.RUNNING}
    assert len({i.business_key for i in stored}) == 40
    items = rows(rt.factory, select(InboxItem))
    assert sorted(i.instance_id for i in items) == sorted(ids)  # exactly one review task per case
    assert len({i.spiff_task_id for i in items}) == 40
    assert len(rows(rt.factory, select(Timer.instance_id).distinct())) == 40


# --- 2. failure handling and retry ------------------------------------------------------------------


@pytest.fixture
def fragile_rt(
    settings: Settings, db_engine: Engine, session_factory: sessionmaker[Session], clock: datetime
) -> Iterator[Runtime]:
    FRAGILE.down = True
    deploy(session_factory, clock, "fragile_service.bpmn", operations=OPERATIONS)
    yield Runtime(db_engine, settings, OPERATIONS)
    FRAGILE.down = True


def failed_case(rt: Runtime, people: People, now: datetime) -> int:
    """A `fragile_service` case whose service call failed right after `prepare_case` was completed."""
    instance = runner.start_instance(rt, "fragile_service", {"case_ref": "CASE-9"}, actor=SYSTEM, now=now)
    complete(rt, open_task(rt.factory, instance.id, "prepare_case"), people.ann, now)
    return instance.id


def test_failing_service_task_records_an_incident_and_rolls_back_only_the_handler_writes(
    fragile_rt: Runtime, people: People, clock: datetime
) -> None:
    instance_id = failed_case(fragile_rt, people, clock)

    instance = reload_instance(fragile_rt.factory, instance_id)
    assert instance.status == InstanceStatus.ERROR
    (incident,) = incidents_of(fragile_rt.factory, instance_id)
    assert incident.bpmn_id == "call_fragile_service"
    assert "fragile service is down" in incident.message
    assert "ConnectionError" in incident.traceback and "call_fragile_service" in incident.traceback
    assert incident.resolved_at is None
    # The handler had queued an e-mail before raising; its savepoint took the row away again.
    assert rows(fragile_rt.factory, select(OutboxEmail)) == []
    # The rest of the step committed: the completed human task, no successor, a matching audit trail.
    (prepared,) = tasks_of(fragile_rt.factory, instance_id, "prepare_case")
    assert (prepared.status, prepared.completed_by) == (TaskStatus.COMPLETED, "ann")
    assert tasks_of(fragile_rt.factory, instance_id, "confirm_result") == []
    assert actions_of(fragile_rt.factory, instance_id) == [
        "instance_started",
        "task_created",
        "task_completed",
        "instance_failed",
    ]


def test_admin_retry_after_repair_continues_the_case_and_resolves_its_incidents(
    fragile_rt: Runtime, people: People, clock: datetime
) -> None:
    instance_id = failed_case(fragile_rt, people, clock)
    later = clock + timedelta(hours=1)
    with pytest.raises(Forbidden):
        runner.retry_instance(fragile_rt, instance_id, actor=people.ann, now=later)

    still_down = runner.retry_instance(fragile_rt, instance_id, actor=SYSTEM, now=later)
    assert still_down.status == InstanceStatus.ERROR
    assert [i.resolved_by for i in incidents_of(fragile_rt.factory, instance_id)] == ["system", None]

    FRAGILE.down = False
    retried = runner.retry_instance(fragile_rt, instance_id, actor=SYSTEM, now=later)
    assert retried.status == InstanceStatus.RUNNING
    assert retried.data["service_result"] == {"accepted": True, "case_ref": "CASE-9"}
    assert all(i.resolved_at == later for i in incidents_of(fragile_rt.factory, instance_id))
    (email,) = rows(fragile_rt.factory, select(OutboxEmail))
    assert email.instance_id == instance_id and email.subject == "Case CASE-9 handed over"
    with pytest.raises(Conflict, match="not error"):
        runner.retry_instance(fragile_rt, instance_id, actor=SYSTEM, now=later)

    complete(fragile_rt, open_task(fragile_rt.factory, instance_id, "confirm_result"), people.bob, later)
    assert reload_instance(fragile_rt.factory, instance_id).status == InstanceStatus.COMPLETED
    assert actions_of(fragile_rt.factory, instance_id)[4:] == [
        "instance_retried",
        "instance_failed",
        "instance_retried",
        "service_called",
        "task_created",
        "task_completed",
        "instance_completed",
    ]
    # The audit trail shows each status transition: running -> error, error -> running, -> completed.
    transitions = select(AuditEvent).where(AuditEvent.action.like("instance_%")).order_by(AuditEvent.id)
    assert [before_after(e.action, e.detail, e.actor) for e in rows(fragile_rt.factory, transitions)] == [
        (None, {"status": "running", "data": {"case_ref": "CASE-9"}}),  # started with this data
        ({"status": "running"}, {"status": "error"}),
        ({"status": "error"}, {"status": "running"}),
        ({"status": "running"}, {"status": "error"}),
        ({"status": "error"}, {"status": "running"}),
        ({"status": "running"}, {"status": "completed"}),
    ]


# --- 3. loop guard -----------------------------------------------------------------------------------


def test_runaway_loop_fails_with_a_depth_incident_instead_of_stalling(
    settings: Settings, db_engine: Engine, session_factory: sessionmaker[Session], clock: datetime
) -> None:
    deploy(session_factory, clock, "counter_loop.bpmn")
    rt = Runtime(db_engine, settings.replace("engine", max_task_depth=60), OPERATIONS)

    instance = runner.start_instance(rt, "counter_loop", {"counter": 0}, actor=SYSTEM, now=clock)

    assert instance.status == InstanceStatus.ERROR
    # Stopped near the configured depth (two tasks per round), not at SpiffWorkflow's own limit of 1000.
    assert 0 < instance.data["counter"] <= 30
    (incident,) = incidents_of(session_factory, instance.id)
    assert "depth" in incident.message and "limit 60" in incident.message and "loop" in incident.message
    assert incident.bpmn_id in {"count_up", "loop_check"}


# --- 4. Decimal and date values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "approved", "outcome"),
    [
        (Decimal("1234.56"), Decimal("1000.01"), "exact"),
        (Decimal("1234.56"), Decimal("1000.00"), "other"),  # not greater than the threshold
        (1234.56, Decimal("1000.01"), "other"),  # a float never equals Decimal("1234.56")
    ],
)
def test_decimal_and_date_values_survive_reloads_and_compare_exactly_in_a_gateway(
    rt: Runtime, people: People, clock: datetime, requested: Any, approved: Decimal, outcome: str
) -> None:
    instance = start_review(rt, clock, business_key="CASE-1", requested_amount=requested)
    assert instance.data["review_by"] == "2026-03-31"  # the JSON copy of the data
    item = open_task(rt.factory, instance.id, "review_case")
    complete(rt, item, people.ann, clock, approved_amount=approved)
    # The gateway runs in the message step, on state loaded from the database.
    assert send_documents(rt, "CASE-1", clock, pages=3, fee=Decimal("12.50")) == [instance.id]

    stored = reload_instance(rt.factory, instance.id)
    assert stored.status == InstanceStatus.COMPLETED
    assert stored.data["amount_match"] == outcome
    assert stored.data["approved_amount"] == str(approved)
    assert stored.data["documents"] == {"pages": 3, "fee": "12.50"}
    with rt.factory() as session:
        wf = engine.restore_state(rt.spec_for(session, stored.definition_id), stored.state, lambda *a: {})
    data = engine.workflow_data(wf)
    assert data["approved_amount"] == approved and isinstance(data["approved_amount"], Decimal)
    assert type(data["requested_amount"]) is type(requested) and data["requested_amount"] == requested
    assert data["review_by"] == date(2026, 3, 31) and type(data["review_by"]) is date
    assert data["documents"]["fee"] == Decimal("12.50") and isinstance(data["documents"]["fee"], Decimal)


# --- 5. script sandbox at runtime -------------------------------------------------------------------

SENTINEL = "sentinel-content-that-no-script-may-read"


def deploy_text(factory: sessionmaker[Session], now: datetime, name: str, script: str) -> None:
    """Deploy the `scripted` fixture with another script, through deploy's full validation."""
    text = (ENGINE_FIXTURES / name).read_text().replace('risk_band = "standard"', escape(script))
    with transaction(factory) as session:
        deploy_files(session, {name: text.encode()}, OPERATIONS, deployed_by="owner1", now=now)


def store_unvalidated_scripted(factory: sessionmaker[Session], now: datetime, script: str) -> None:
    """Store `scripted` with another script, compiled directly: deploy's validation never sees it."""
    text = (ENGINE_FIXTURES / "scripted.bpmn").read_text()
    placeholder = 'risk_band = "standard"'
    assert text.count(placeholder) == 1
    bpmn = text.replace(placeholder, escape(script)).encode()
    parser = make_parser()
    parser.add_bpmn_str(bpmn, filename="scripted.bpmn")
    (compiled,) = compile.compile_bundle(ValidatedBundle(parser=parser, process_ids=["scripted"], forms={}))
    with transaction(factory) as session:
        deployment = Deployment(
            content_hash="unvalidated",
            files={"scripted.bpmn": bpmn.decode()},
            deployed_by="owner1",
            deployed_at=now,
        )
        session.add(deployment)
        session.flush()
        session.add(
            ProcessDefinition(
                process_key="scripted",
                version=1,
                name=compiled.name,
                deployment_id=deployment.id,
                content_hash="unvalidated",
                spec_json=compiled.spec_json,
                start_groups=[],
                bpmn_file="scripted.bpmn",
                deployed_by="owner1",
                deployed_at=now,
            )
        )


@pytest.mark.parametrize(
    ("script", "refusal"),
    [
        ("import os\nsecret = os.popen('cat {path}').read()", "import is not allowed"),
        ("secret = open('{path}').read()", "'open' is not allowed"),
        ("secret = ().__class__.__base__.__subclasses__()", "'.__class__'"),
    ],
)
def test_forbidden_script_is_refused_at_runtime_even_without_deploy_validation(
    settings: Settings,
    db_engine: Engine,
    session_factory: sessionmaker[Session],
    clock: datetime,
    tmp_path: Path,
    script: str,
    refusal: str,
) -> None:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(SENTINEL)
    store_unvalidated_scripted(session_factory, clock, script.format(path=secret_file))

    instance = runner.start_instance(
        Runtime(db_engine, settings, OPERATIONS), "scripted", {}, actor=SYSTEM, now=clock
    )

    assert instance.status == InstanceStatus.ERROR
    (incident,) = incidents_of(session_factory, instance.id)
    assert incident.bpmn_id == "run_script" and refusal in incident.message
    assert "secret" not in instance.data
    stored = reload_instance(session_factory, instance.id)
    for text in (stored.state, json.dumps(stored.data), incident.message, incident.traceback):
        assert SENTINEL not in text


@pytest.mark.parametrize(
    ("script", "reason"),
    [("while True:\n    risk_band = 'standard'", "longer than 0.3 s"), ("big = 10 ** 10 ** 10", "bits")],
)
def test_runaway_script_fails_its_step_with_an_incident_instead_of_hanging(
    settings: Settings,
    db_engine: Engine,
    session_factory: sessionmaker[Session],
    clock: datetime,
    monkeypatch: pytest.MonkeyPatch,
    script: str,
    reason: str,
) -> None:
    monkeypatch.setattr(script_pool, "TIME_LIMIT_S", 0.3)
    # Deploy validation accepts both: they are valid, harmless-looking Python.
    deploy_text(session_factory, clock, "scripted.bpmn", script)

    instance = runner.start_instance(
        Runtime(db_engine, settings, OPERATIONS), "scripted", {}, actor=SYSTEM, now=clock
    )

    assert instance.status == InstanceStatus.ERROR
    (incident,) = incidents_of(session_factory, instance.id)
    assert incident.bpmn_id == "run_script" and reason in incident.message


# --- 6. messages -------------------------------------------------------------------------------------


def test_message_to_a_case_not_waiting_for_it_reaches_nobody(rt: Runtime, clock: datetime) -> None:
    instance = start_review(rt, clock, business_key="CASE-1")  # still in review: no catch event yet

    assert send_documents(rt, "CASE-1", clock) == []
    assert send_documents(rt, str(instance.id), clock) == []

    assert reload_instance(rt.factory, instance.id).status == InstanceStatus.RUNNING
    assert open_task(rt.factory, instance.id, "review_case").status == TaskStatus.OPEN
    assert "message_received" not in actions_of(rt.factory, instance.id)
    unmatched = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "message_unmatched")
    assert rows(rt.factory, unmatched) == [2]


def test_message_on_a_shared_business_key_reaches_only_the_waiting_case(
    rt: Runtime, people: People, clock: datetime
) -> None:
    in_review = start_review(rt, clock, business_key="CUST-7")
    waiting_id = reviewed_case(rt, people, clock, business_key="CUST-7")

    assert send_documents(rt, "CUST-7", clock, pages=2) == [waiting_id]

    assert reload_instance(rt.factory, waiting_id).status == InstanceStatus.COMPLETED
    assert reload_instance(rt.factory, in_review.id).status == InstanceStatus.RUNNING
    assert open_task(rt.factory, in_review.id, "review_case").status == TaskStatus.OPEN


def test_message_for_a_completed_case_reaches_nobody(rt: Runtime, people: People, clock: datetime) -> None:
    instance_id = reviewed_case(rt, people, clock)
    assert send_documents(rt, str(instance_id), clock) == [instance_id]  # the instance id correlates too
    assert reload_instance(rt.factory, instance_id).status == InstanceStatus.COMPLETED

    assert send_documents(rt, str(instance_id), clock) == []
    assert actions_of(rt.factory, instance_id).count("message_received") == 1


# --- 7. claim and unclaim -------------------------------------------------------------------------


def test_claim_by_a_user_outside_the_candidate_group_is_forbidden(
    rt: Runtime, people: People, clock: datetime
) -> None:
    item = open_task(rt.factory, start_review(rt, clock).id, "review_case")

    with pytest.raises(Forbidden, match="belongs to Credit analyst"):  # the group by its name (1d4d67a)
        runner.claim_task(rt, item.id, actor=people.sam, now=clock)

    assert open_task(rt.factory, item.instance_id, "review_case").assignee is None


def test_task_claimed_by_one_analyst_can_be_completed_by_another_only_after_release(
    rt: Runtime, people: People, clock: datetime
) -> None:
    item = open_task(rt.factory, start_review(rt, clock).id, "review_case")
    assert runner.claim_task(rt, item.id, actor=people.ann, now=clock).assignee == "ann"

    with pytest.raises(Conflict, match="claimed by ann"):
        complete(rt, item, people.bob, clock, **REVIEWED)
    with pytest.raises(Conflict, match="claimed by ann"):
        runner.unclaim_task(rt, item.id, actor=people.bob, now=clock)

    assert runner.unclaim_task(rt, item.id, actor=people.ann, now=clock).assignee is None
    done = complete(rt, item, people.bob, clock, **REVIEWED)
    assert (done.status, done.completed_by, done.assignee) == (TaskStatus.COMPLETED, "bob", "bob")
    actions = actions_of(rt.factory, item.instance_id)
    assert actions.count("task_claimed") == 1 and actions.count("task_unclaimed") == 1


def test_task_cancelled_by_its_boundary_timer_cannot_be_claimed_or_completed(
    rt: Runtime, people: People, clock: datetime
) -> None:
    item = open_task(rt.factory, start_review(rt, clock).id, "review_case")
    assert fire_due_timers(rt, clock + TIMER_DUE + timedelta(minutes=1)).moved == 1

    with pytest.raises(Conflict, match="no longer open"):
        complete(rt, item, people.ann, clock, **REVIEWED)
    with pytest.raises(Conflict, match="no longer open"):
        runner.claim_task(rt, item.id, actor=people.ann, now=clock)
    (cancelled,) = tasks_of(rt.factory, item.instance_id, "review_case")
    assert cancelled.status == TaskStatus.CANCELLED and cancelled.completed_by is None
    (event,) = rows(rt.factory, select(AuditEvent).where(AuditEvent.action == "task_cancelled"))
    assert event.task_id == item.id
    assert before_after(event.action, event.detail, event.actor) == (
        {"status": "open"},
        {"status": "cancelled"},
    )


# --- 10. timers fire once ---------------------------------------------------------------------------


def test_due_timer_fires_once_when_timers_are_fired_twice_at_the_same_time(
    rt: Runtime, clock: datetime
) -> None:
    instance = start_review(rt, clock)
    assert fire_due_timers(rt, clock + TIMER_DUE - timedelta(minutes=1)).moved == 0

    due = clock + TIMER_DUE + timedelta(minutes=1)
    assert fire_due_timers(rt, due).moved == 1
    assert fire_due_timers(rt, due).moved == 0

    (chase,) = tasks_of(rt.factory, instance.id, "chase_customer")
    assert chase.status == TaskStatus.OPEN and chase.candidate_groups == ["sales"]
    assert rows(rt.factory, select(Timer)) == []
    assert actions_of(rt.factory, instance.id).count("timers_checked") == 1


def test_timer_exactly_at_its_due_time_is_left_for_the_next_sweep(rt: Runtime, clock: datetime) -> None:
    instance = start_review(rt, clock)

    # SpiffWorkflow fires a timer only once its time has passed; a sweep must not run an idle step.
    assert fire_due_timers(rt, clock + TIMER_DUE).moved == 0
    assert [t.due_at for t in rows(rt.factory, select(Timer))] == [clock + TIMER_DUE]
    assert "timers_checked" not in actions_of(rt.factory, instance.id)

    assert fire_due_timers(rt, clock + TIMER_DUE + timedelta(microseconds=1)).moved == 1
    assert open_task(rt.factory, instance.id, "chase_customer").candidate_groups == ["sales"]


def test_timers_fired_from_two_threads_at_once_move_the_case_once(rt: Runtime, clock: datetime) -> None:
    instance = start_review(rt, clock)
    due = clock + TIMER_DUE + timedelta(minutes=1)

    moved = run_at_once(lambda: fire_due_timers(rt, due).moved, lambda: fire_due_timers(rt, due).moved)

    assert sorted(moved, key=str) == [0, 1]
    assert len(tasks_of(rt.factory, instance.id, "chase_customer")) == 1
    assert actions_of(rt.factory, instance.id).count("timers_checked") == 1
