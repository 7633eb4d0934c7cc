"""Advance instances: each public function is one transaction that loads, steps, syncs and saves.

Only this module (and web views) open transactions. A step writes the serialized state together with
every row it implies: inbox tasks, timers, message subscriptions, audit events, outbox e-mails and
incidents. A failing service task is recorded as an incident in the same transaction; any other
exception rolls the whole step back.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from handlers.registry import TaskContext, operations
from workflows import engine
from workflows.audit import record_event
from workflows.db import is_postgres, transaction
from workflows.definitions import form_schema, latest_definition
from workflows.errors import BadRequest, Conflict, Forbidden, Invalid, NotFound
from workflows.forms import validate_form
from workflows.jsonable import to_jsonable
from workflows.models import (
    NO_DUE_DATE,
    AuditEvent,
    Base,
    Deployment,
    InboxItem,
    Incident,
    InstanceStatus,
    MessageSubscription,
    ProcessDefinition,
    ProcessInstance,
    TaskCandidate,
    TaskStatus,
    Timer,
)
from workflows.settings import Settings
from workflows.subjects import render_instructions, render_subject
from workflows.users import Actor


@dataclass
class Runtime:
    """What every step needs: the session factory and settings (one per process, passed down)."""

    factory: sessionmaker[Session]
    settings: Settings
    _specs: dict[int, engine.LoadedSpec] = field(default_factory=dict)
    _forms: dict[tuple[int, str | None], dict[str, Any]] = field(default_factory=dict)
    _definitions: dict[int, ProcessDefinition] = field(default_factory=dict)

    def definition(self, session: Session, definition_id: int) -> ProcessDefinition:
        """A deployed version (immutable once deployed, so cached detached for the process's life)."""
        found = self._definitions.get(definition_id)
        if found is None:
            found = session.get(ProcessDefinition, definition_id)
            if found is None:
                raise NotFound(f"process definition {definition_id} does not exist")
            session.expunge(found)
            self._definitions[definition_id] = found
        return found

    def spec_for(self, session: Session, definition_id: int) -> engine.LoadedSpec:
        """The compiled spec of a definition version, restored once per process."""
        loaded = self._specs.get(definition_id)
        if loaded is None:
            spec_json = session.scalar(
                select(ProcessDefinition.spec_json).where(ProcessDefinition.id == definition_id)
            )
            if spec_json is None:
                raise NotFound(f"process definition {definition_id} does not exist")
            loaded = self._specs[definition_id] = engine.load_spec(spec_json)
        return loaded

    def start_schema(self, session: Session, definition: ProcessDefinition) -> dict[str, Any]:
        """The JSON schema of the process's start data (`<key>_start.json`), or {} when it has none."""
        name = f"{definition.process_key}_start.json"
        key = (definition.id, name)
        if key not in self._forms:
            deployment = session.get(Deployment, definition.deployment_id)
            assert deployment is not None
            self._forms[key] = form_schema(definition, deployment, name) if name in deployment.files else {}
        return self._forms[key]

    def form_for(
        self, session: Session, definition: ProcessDefinition, form_file: str | None
    ) -> dict[str, Any]:
        """A task's form schema, parsed once per definition version."""
        key = (definition.id, form_file)
        if key not in self._forms:
            deployment = session.get(Deployment, definition.deployment_id)
            assert deployment is not None
            self._forms[key] = form_schema(definition, deployment, form_file)
        return self._forms[key]


@dataclass
class _Step:
    """One transaction's view of one instance while the engine runs it."""

    rt: Runtime
    session: Session
    instance: ProcessInstance
    now: datetime
    actor: str
    closed_items: list[InboxItem] = field(default_factory=list)
    failure: engine.EngineError | None = None
    events: list[dict[str, Any]] = field(default_factory=list)

    def record(
        self,
        action: str,
        *,
        actor: str | None = None,
        task_id: int | None = None,
        bpmn_id: str | None = None,
        **detail: Any,
    ) -> None:
        """Buffer an audit event of this instance; all are inserted together when the step is saved."""
        self.events.append(
            {
                "instance_id": self.instance.id,
                "task_id": task_id,
                "bpmn_id": bpmn_id,
                "actor": actor or self.actor,
                "action": action,
                "detail": detail,
                "at": self.now,
            }
        )

    def call_service(self, task_id: str, bpmn_id: str, name: str, params: dict[str, Any]) -> dict[str, Any]:
        op = operations().get(name)
        if op is None:  # deploy refuses unknown operations; this guards diagrams deployed before a removal
            raise engine.EngineError(f"no handler is registered for service operation {name!r}", bpmn_id)
        ctx = TaskContext(
            session=self.session,
            now=self.now,
            instance_id=self.instance.id,
            process_key=self.instance.process_key,
            business_key=self.instance.business_key,
            bpmn_id=bpmn_id,
            task_key=task_id,
            started_by=self.instance.started_by,
            settings=self.rt.settings,
        )
        # A savepoint per handler: a failing handler's writes vanish, the rest of the step still commits.
        with self.session.begin_nested():
            result = op.call(ctx, params)
        self.record("service_called", bpmn_id=bpmn_id, operation=name)
        return result


# --- public operations --------------------------------------------------------------------------------


def start_instance(
    rt: Runtime,
    process_key: str,
    data: Mapping[str, Any],
    *,
    actor: Actor,
    now: datetime,
    business_key: str | None = None,
    check_groups: bool = True,
) -> ProcessInstance:
    """Start the latest version of a process and run it until it waits.

    Raises:
        NotFound: the key is not deployed.  Forbidden: the actor is not in the start lane's group.
    """
    if not isinstance(data, Mapping):
        raise BadRequest("start data must be a JSON object")
    with transaction(rt.factory) as session:
        definition = latest_definition(session, process_key)
        assert definition is not None
        if check_groups and definition.start_groups and not actor.in_any(definition.start_groups):
            raise Forbidden(
                f"{actor.username} may not start {process_key}: only members of "
                f"{', '.join(definition.start_groups)} may"
            )
        schema = rt.start_schema(session, definition)
        if schema:
            data = validate_form(schema, data)
        instance = ProcessInstance(
            definition_id=definition.id,
            process_key=definition.process_key,
            version=definition.version,
            business_key=business_key,
            status=InstanceStatus.RUNNING,
            state="",
            data=to_jsonable(data),
            waits=[],
            started_by=actor.username,
            started_at=now,
            updated_at=now,
        )
        session.add(instance)
        session.flush()
        step = _Step(rt, session, instance, now, actor.username)
        step.record(
            "instance_started", process_key=process_key, version=definition.version, business_key=business_key
        )
        wf = engine.new_workflow(rt.spec_for(session, definition.id), data, step.call_service)
        _advance(step, wf)
        _refuse_bad_input(step, f"{process_key} cannot start")
        return instance


def complete_task(
    rt: Runtime, task_id: int, form_data: Mapping[str, Any], *, actor: Actor, now: datetime
) -> InboxItem:
    """Complete a human task with form data (claiming it implicitly) and run the instance on.

    Raises:
        NotFound, Forbidden (group or four-eyes), Conflict (completed or claimed by another), Invalid (form).
    """
    if not isinstance(form_data, Mapping):
        raise BadRequest("task data must be a JSON object")
    try:
        with transaction(rt.factory) as session:
            item = _lock_task(session, task_id)
            instance = _lock_instance(session, item.instance_id)
            _check_may_complete(session, item, actor)
            data = validate_form(item.form_schema, form_data)
            step, wf = _resume(rt, session, instance, now, actor.username)
            try:
                engine.complete_task(wf, item.spiff_task_id, data)
            except engine.EngineError as exc:
                raise Conflict(f"Task {task_id} is not waiting for input any more: {exc}") from exc
            item.status = TaskStatus.COMPLETED
            step.closed_items.append(item)
            item.assignee = item.assignee or actor.username
            item.completed_by = actor.username
            item.completed_at = now
            step.record("task_completed", task_id=item.id, bpmn_id=item.bpmn_id, data=to_jsonable(data))
            _advance(step, wf)
            _refuse_bad_input(step, f"Task {task_id} cannot be completed with this data")
            return item
    except StaleDataError as exc:
        raise Conflict(
            f"task {task_id} changed while it was being completed; reload it and try again"
        ) from exc


def claim_task(rt: Runtime, task_id: int, *, actor: Actor, now: datetime) -> InboxItem:
    """Take a group task into the actor's own queue.

    Raises:
        NotFound, Forbidden (not a candidate), Conflict (completed, or claimed by someone else).
    """
    with transaction(rt.factory) as session:
        item = _lock_task(session, task_id)
        # Four-eyes applies to claiming too: a claim the claimer could never complete would block the task.
        _check_may_complete(session, item, actor)
        if item.assignee != actor.username:
            item.assignee, item.claimed_at = actor.username, now
            record_event(
                session,
                actor=actor.username,
                action="task_claimed",
                now=now,
                instance_id=item.instance_id,
                task_id=item.id,
                bpmn_id=item.bpmn_id,
            )
        return item


def unclaim_task(rt: Runtime, task_id: int, *, actor: Actor, now: datetime) -> InboxItem:
    """Give a claimed task back to its groups (the claimer or an admin only)."""
    with transaction(rt.factory) as session:
        item = _lock_task(session, task_id)
        _check_open(item)
        if item.assignee is None:
            return item
        if item.assignee != actor.username and not actor.is_admin:
            raise Conflict(
                f"task {task_id} is claimed by {item.assignee}; only they or an admin can release it"
            )
        item.assignee, item.claimed_at = None, None
        record_event(
            session,
            actor=actor.username,
            action="task_unclaimed",
            now=now,
            instance_id=item.instance_id,
            task_id=item.id,
            bpmn_id=item.bpmn_id,
        )
        return item


def deliver_message(
    rt: Runtime, name: str, correlation_key: str, payload: Mapping[str, Any], *, actor: Actor, now: datetime
) -> list[int]:
    """Deliver a message to every instance waiting for `name` whose business key (or id) matches.

    Returns the ids of the instances reached (empty when none waits).
    """
    if not name or not correlation_key:
        raise BadRequest("a message needs a name and a correlation_key")
    if not isinstance(payload, Mapping):
        raise BadRequest("message data must be a JSON object")
    with transaction(rt.factory) as session:
        query = select(MessageSubscription.instance_id).where(
            MessageSubscription.message_name == name, MessageSubscription.correlation_key == correlation_key
        )
        ids = sorted(set(session.scalars(query)))
        delivered = []
        for instance_id in ids:
            instance = _lock_instance(session, instance_id)
            if instance.status != InstanceStatus.RUNNING:
                continue
            step, wf = _resume(rt, session, instance, now, actor.username)
            engine.deliver_message(wf, name, payload)
            step.record(
                "message_received",
                message=name,
                correlation_key=correlation_key,
                data=to_jsonable(payload),
            )
            _advance(step, wf)
            _refuse_bad_input(step, f"message {name} cannot be used by instance {instance.id}")
            delivered.append(instance.id)
        if not delivered:
            record_event(
                session,
                actor=actor.username,
                action="message_unmatched",
                now=now,
                message=name,
                correlation_key=correlation_key,
            )
        return delivered


def fire_due_timers(rt: Runtime, now: datetime, *, limit: int = 500) -> int:
    """Advance every running instance with a timer due by `now`; return how many moved."""
    with rt.factory() as session:
        due = (
            select(Timer.instance_id)
            # Strictly before `now`, as SpiffWorkflow fires a timer only once its time has passed.
            .where(Timer.due_at < now)
            .distinct()
            .order_by(Timer.instance_id)
            .limit(limit)
        )
        instance_ids = list(session.scalars(due))
    moved = 0
    for instance_id in instance_ids:
        with transaction(rt.factory) as session:
            instance = _try_lock_instance(session, instance_id)
            if instance is None or instance.status != InstanceStatus.RUNNING:
                continue
            # A concurrent sweep (CLI tick next to the scheduler) may have fired it since we looked.
            if session.scalar(_DUE_TIMER, {"instance_id": instance_id, "now": now}) is None:
                continue
            step, wf = _resume(rt, session, instance, now, "system")
            step.record("timers_checked")
            _advance(step, wf)
            moved += 1
    return moved


def retry_instance(rt: Runtime, instance_id: int, *, actor: Actor, now: datetime) -> ProcessInstance:
    """Re-run the failed step of an instance in status error, resolving its open incidents.

    Raises:
        NotFound, Forbidden (admin only), Conflict (the instance is not in error).
    """
    if not actor.is_admin:
        raise Forbidden("only admin may retry a failed instance")
    with transaction(rt.factory) as session:
        instance = _lock_instance(session, instance_id)
        if instance.status != InstanceStatus.ERROR:
            raise Conflict(
                f"instance {instance_id} is {instance.status}, not error; there is nothing to retry"
            )
        for incident in session.scalars(
            select(Incident).where(Incident.instance_id == instance_id, Incident.resolved_at.is_(None))
        ):
            incident.resolved_at, incident.resolved_by = now, actor.username
        instance.status = InstanceStatus.RUNNING
        step, wf = _resume(rt, session, instance, now, actor.username)
        step.record("instance_retried")
        _advance(step, wf, retry=True)
        return instance


# --- helpers ----------------------------------------------------------------------------------------


def _refuse_bad_input(step: _Step, what: str) -> None:
    """A handler refused data the caller sent (start data, a form, a message): undo the whole step.

    Recording an incident instead would leave the instance in error for good, since a retry runs on the
    same data; the caller can correct it (422) and nothing of the step is kept.

    Raises:
        Invalid: when the step failed on its input.
    """
    if step.failure is not None and step.failure.input_error:
        raise Invalid(f"{what}: {step.failure}")


def _insert_rows(session: Session, model: type[Base], rows: list[dict[str, Any]]) -> None:
    """Insert derived rows on the step's connection; they need none of the ORM's bookkeeping."""
    if rows:
        session.connection().execute(insert(cast(Table, model.__table__)), rows)


def _resume(
    rt: Runtime, session: Session, instance: ProcessInstance, now: datetime, actor: str
) -> tuple[_Step, Any]:
    """The step context and the restored workflow of a locked instance."""
    step = _Step(rt, session, instance, now, actor)
    wf = engine.restore_state(rt.spec_for(session, instance.definition_id), instance.state, step.call_service)
    return step, wf


# Built once: constructing statements costs more than running them on a hot path.
_TASK_FOR_UPDATE = select(InboxItem).where(InboxItem.id == bindparam("task_id")).with_for_update()
_DUE_TIMER = (
    select(Timer.id)
    .where(Timer.instance_id == bindparam("instance_id"), Timer.due_at < bindparam("now"))
    .limit(1)
)


def _lock_task(session: Session, task_id: int) -> InboxItem:
    # SQLite already holds the write lock (BEGIN IMMEDIATE); PostgreSQL locks just this row.
    item = session.scalar(_TASK_FOR_UPDATE, {"task_id": task_id})
    if item is None:
        raise NotFound(f"task {task_id} does not exist")
    return item


def _lock_instance(session: Session, instance_id: int) -> ProcessInstance:
    """The instance row, locked until the step's transaction ends.

    Raises:
        NotFound: no such instance.
    """
    instance = session.scalar(
        select(ProcessInstance).where(ProcessInstance.id == instance_id).with_for_update()
    )
    if instance is None:
        raise NotFound(f"process instance {instance_id} does not exist")
    return instance


def _try_lock_instance(session: Session, instance_id: int) -> ProcessInstance | None:
    """The instance row, locked; None when another step holds it (PostgreSQL SKIP LOCKED)."""
    query = select(ProcessInstance).where(ProcessInstance.id == instance_id)
    return session.scalar(query.with_for_update(skip_locked=is_postgres(session)))


def _check_open(item: InboxItem) -> None:
    if item.status == TaskStatus.COMPLETED:
        at = item.completed_at.strftime("%Y-%m-%d %H:%M UTC") if item.completed_at else "an earlier time"
        raise Conflict(f"Task {item.id} was already completed by {item.completed_by} at {at}.")
    if item.status != TaskStatus.OPEN:
        raise Conflict(f"Task {item.id} is no longer open ({item.status}); the process moved on without it.")


def _check_may_complete(session: Session, item: InboxItem, actor: Actor) -> None:
    _check_open(item)
    is_candidate = actor.in_any(item.candidate_groups) or item.assignee == actor.username
    if not is_candidate:
        raise Forbidden(
            f"Task {item.id} belongs to {', '.join(item.candidate_groups) or 'its assignee'}; "
            f"{actor.username} is not a member."
        )
    if item.assignee is not None and item.assignee != actor.username:
        raise Conflict(f"Task {item.id} is claimed by {item.assignee}.")
    _check_four_eyes(session, item, actor)


def _check_four_eyes(session: Session, item: InboxItem, actor: Actor) -> None:
    """Refuse a user who started the instance or completed one of the listed steps (admins included)."""
    if not item.four_eyes:
        return
    instance = session.get(ProcessInstance, item.instance_id)
    assert instance is not None
    if "initiator" in item.four_eyes and instance.started_by == actor.username:
        raise Forbidden(
            f"Four-eyes rule: {actor.username} started this case and may not complete {item.title!r}."
        )
    steps = [s for s in item.four_eyes if s != "initiator"]
    if steps:
        done = session.scalar(
            select(InboxItem.title)
            .where(
                InboxItem.instance_id == item.instance_id,
                InboxItem.bpmn_id.in_(steps),
                InboxItem.completed_by == actor.username,
            )
            .limit(1)
        )
        if done is not None:
            raise Forbidden(
                f"Four-eyes rule: {actor.username} already completed {done!r} on this case "
                f"and may not also complete {item.title!r}."
            )


def _advance(step: _Step, wf: Any, *, retry: bool = False) -> None:
    """Run the engine, then write state and every derived row; an engine failure becomes an incident."""
    instance = step.instance
    max_depth = step.rt.settings.engine.max_task_depth
    try:
        if retry:
            with engine.step_clock(step.now):
                engine.retry_failed(wf)
        engine.run_engine(wf, step.now, max_depth)
        waits = engine.snapshot(wf, max_depth)
    except engine.EngineError as exc:
        _record_failure(step, exc)
        waits = engine.snapshot(wf, max_depth, check_depth=False)
    _sync_inbox(step, waits.ready)
    _sync_waits(step, waits)
    if instance.status == InstanceStatus.RUNNING and engine.is_completed(wf):
        instance.status = InstanceStatus.COMPLETED
        instance.completed_at = step.now
        step.record("instance_completed")
    instance.data = to_jsonable(engine.workflow_data(wf))
    engine.prune_history(wf)
    instance.state = engine.dump_state(wf)
    instance.updated_at = step.now
    step.session.flush()
    # Derived rows go in as plain multi-row inserts: no ORM bookkeeping is needed for them.
    _insert_rows(step.session, AuditEvent, step.events)


def _record_failure(step: _Step, exc: engine.EngineError) -> None:
    step.failure = exc
    instance = step.instance
    instance.status = InstanceStatus.ERROR
    step.session.add(
        Incident(
            instance_id=instance.id,
            bpmn_id=exc.bpmn_id or "",
            message=str(exc),
            traceback="".join(traceback.format_exception(exc)),
            created_at=step.now,
        )
    )
    step.record("instance_failed", bpmn_id=exc.bpmn_id, message=str(exc))


def _sync_inbox(step: _Step, ready_tasks: list[engine.ReadyTask]) -> None:
    """Open an inbox row for each new ready human task; cancel rows whose task the engine dropped."""
    session, instance = step.session, step.instance
    ready = {t.task_id: t for t in ready_tasks}
    open_rows = session.execute(
        select(InboxItem.id, InboxItem.spiff_task_id, InboxItem.bpmn_id).where(
            InboxItem.instance_id == instance.id, InboxItem.status == TaskStatus.OPEN
        )
    ).all()
    dropped = [row for row in open_rows if row.spiff_task_id not in ready]
    if dropped:  # e.g. an interrupting boundary timer fired on the task
        session.execute(
            update(InboxItem)
            .where(InboxItem.id.in_([row.id for row in dropped]))
            .values(status=TaskStatus.CANCELLED, completed_at=step.now)
        )
        for row in dropped:
            step.record("task_cancelled", task_id=row.id, bpmn_id=row.bpmn_id)
    closed = [item.id for item in step.closed_items] + [row.id for row in dropped]
    if closed:
        # Closed tasks leave the candidate index so group queries only scan open work.
        session.execute(delete(TaskCandidate).where(TaskCandidate.task_id.in_(closed)))
    known = {row.spiff_task_id for row in open_rows}
    for task in ready.values():
        if task.task_id not in known:
            _create_inbox_item(step, task)


def _create_inbox_item(step: _Step, task: engine.ReadyTask) -> None:
    instance = step.instance
    definition = step.rt.definition(step.session, instance.definition_id)
    due_at = engine.iso_duration(task.due_in, step.now) if task.due_in else None
    context = to_jsonable(task.data)
    row = dict(
        instance_id=instance.id,
        spiff_task_id=task.task_id,
        process_key=instance.process_key,
        bpmn_id=task.bpmn_id,
        title=task.title,
        lane=task.lane,
        candidate_groups=task.candidate_groups,
        subject=task.subject or render_subject(task.data, instance.business_key),
        instructions=render_instructions(task.instructions, context),
        form_file=task.form_file,
        form_schema=step.rt.form_for(step.session, definition, task.form_file),
        four_eyes=task.four_eyes,
        context=context,
        assignee=instance.started_by if task.assignee == "initiator" else task.assignee,
        status=TaskStatus.OPEN,
        due_at=due_at,
        due_sort=due_at or NO_DUE_DATE,
        created_at=step.now,
    )
    inbox_table = cast(Table, InboxItem.__table__)
    task_id = step.session.connection().scalar(insert(inbox_table).returning(InboxItem.id), row)
    _insert_rows(
        step.session, TaskCandidate, [{"group_name": g, "task_id": task_id} for g in task.candidate_groups]
    )
    step.record("task_created", task_id=task_id, bpmn_id=task.bpmn_id, groups=task.candidate_groups)


def _sync_waits(step: _Step, snapshot: engine.Snapshot) -> None:
    """Rewrite the instance's timer and subscription rows, but only when what it waits on changed."""
    session, instance = step.session, step.instance
    running = instance.status == InstanceStatus.RUNNING
    timers = snapshot.timers if running else []
    messages = snapshot.messages if running else []
    waits = [["timer", t.bpmn_id, t.due_at.isoformat()] for t in timers] + [
        ["message", m.bpmn_id, m.name] for m in messages
    ]
    if waits == instance.waits:
        return
    if instance.waits:
        session.execute(delete(Timer).where(Timer.instance_id == instance.id))
        session.execute(delete(MessageSubscription).where(MessageSubscription.instance_id == instance.id))
    instance.waits = waits
    session.add_all(Timer(instance_id=instance.id, bpmn_id=t.bpmn_id, due_at=t.due_at) for t in timers)
    # An instance with a business key is addressed by it, one without by its id: both are numbers for
    # some processes (dunning cases use the customer id), so subscribing under both would let a message
    # for customer 7 reach instance 7.
    keys = {instance.business_key} if instance.business_key else {str(instance.id)}
    session.add_all(
        MessageSubscription(
            instance_id=instance.id, message_name=m.name, correlation_key=key, bpmn_id=m.bpmn_id
        )
        for m in messages
        for key in sorted(keys)
    )
