"""One step of one instance: restore it, run the engine, and write its state and every derived row.

`runner` decides what a step is (a start, a completion, a message, a timer) and takes the locks;
this module runs it inside that transaction: engine, inbox rows, timers, subscriptions, audit.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from workflows.engine import patches, pruning
from workflows.engine import spiff as engine
from workflows.engine.decision_rows import decision_row, evaluation_row
from workflows.engine.lean_starts import run_lean
from workflows.engine.row_writes import insert_rows, write_changed
from workflows.engine.runtime import Runtime
from workflows.engine.service_tasks import Operation, TaskContext
from workflows.engine.task_texts import render_subject
from workflows.messages import _
from workflows.redaction import redacted
from workflows.store.decision_log_table import DecisionLogEntry
from workflows.store.jsonable import to_jsonable
from workflows.store.models import (
    NO_DUE_DATE,
    AuditEvent,
    InboxItem,
    Incident,
    InstanceGroup,
    InstanceStatus,
    MessageSubscription,
    ProcessInstance,
    TaskCandidate,
    TaskStatus,
    Timer,
)

# The before/after of an instance's status transitions and a task's cancellation (workflows/audit_trail.py).
STARTED: dict[str, Any] = {"before": None, "after": {"status": InstanceStatus.RUNNING}}
RETRIED: dict[str, Any] = {
    "before": {"status": InstanceStatus.ERROR},
    "after": {"status": InstanceStatus.RUNNING},
}
CANCELLED: dict[str, Any] = {"before": {"status": TaskStatus.OPEN}, "after": {"status": TaskStatus.CANCELLED}}


def status_change(before: str, after: str) -> dict[str, Any]:
    return {"before": {"status": before}, "after": {"status": after}}


@dataclass
class Step:
    """One transaction's view of one instance while the engine runs it."""

    rt: Runtime
    session: Session
    instance: ProcessInstance
    now: datetime
    actor: str
    closed_items: list[InboxItem] = field(default_factory=list)
    # Started in this step: it has no inbox rows yet, so the step does not look for open ones.
    fresh: bool = False
    failure: engine.EngineError | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    # The open incident of a failure the scheduler is retrying: failing again counts on it, so an
    # instance failing on every retry keeps one incident (set by `wakeups`); else the new incident.
    incident: Incident | None = None
    # The decision log rows of the DMN evaluations of this step, inserted with the audit events.
    decisions: list[dict[str, Any]] = field(default_factory=list)
    service_bpmn_id: str | None = None  # the service task whose handler runs now
    # What the REST answer to a start shows without a read: the inbox rows it opened (transient copies,
    # inserted past the ORM) and whether a handler that writes ran (it may have added audit rows).
    opened: list[InboxItem] = field(default_factory=list)
    wrote: bool = False
    lean: bool = False  # a batch start: handlers run without a savepoint each (engine/lean_starts.py)
    reads: dict[Any, Any] = field(default_factory=dict)  # TaskContext.reads: what its handlers may reuse
    calls: int = 0  # handlers called so far (TaskContext.call)

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

    def record_decision(self, dmn_engine: Any, task: Any, rules: list[Any], outputs: dict[str, Any]) -> None:
        """Buffer a decision log row of a DMN evaluation (patches.recording_decisions): a business rule
        task's, or a handler's evaluate_decision of a table deployed with the instance's version, as its
        service task's. A table from elsewhere (another process's newest ladder) is not logged: the row's
        key and version would not say where it came from, and a what-if would replay the wrong table."""
        instance = self.instance
        if hasattr(task, "task_spec"):
            row = decision_row(dmn_engine, task, rules, outputs)
        elif self.service_bpmn_id is None or getattr(task, "text", None) not in self.rt.decision_tables(
            self.session, instance.definition_id
        ):
            return
        else:
            row = evaluation_row(dmn_engine, task, rules, outputs, task.decision_id, self.service_bpmn_id)
        row.update(instance_id=instance.id, process_key=instance.process_key, version=instance.version)
        self.decisions.append({**row, "at": self.now})

    def call_service(self, task_id: str, bpmn_id: str, name: str, params: dict[str, Any]) -> dict[str, Any]:
        op = self.rt.operations.get(name)
        if op is None:  # deploy refuses unknown operations; this guards diagrams deployed before a removal
            raise engine.EngineError(
                _("no handler is registered for service operation '%(operation)s'", operation=name), bpmn_id
            )
        self.calls += 1
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
            actor=self.actor,
            reads=self.reads,
            call=self.calls,
        )
        # A savepoint around a handler that writes: a failing handler's writes vanish, the rest of the step
        # still commits. One that only reads has nothing to undo, nor has one whose one write is its last
        # statement (Operation.writes_once); they run without (SAVEPOINT, RELEASE and
        # the ORM's nested transaction: ~1 % of a persisted credit application per handler, profiled). On
        # PostgreSQL a failed statement aborts the whole transaction: only a savepoint lets the step record
        # the incident, so there every handler keeps one.
        logged, self.service_bpmn_id = len(self.decisions), bpmn_id
        self.wrote = self.wrote or op.writes
        try:
            if self.lean:  # a batch start, redone with a savepoint per handler if one fails (lean_starts)
                result = run_lean(self.session, lambda: _run_handler(op, ctx, params))
            elif (op.writes and not op.writes_once) or self.rt.engine.dialect.name == "postgresql":
                with self.session.begin_nested():
                    result = _run_handler(op, ctx, params)
            else:
                self.session.flush()  # what begin_nested did: the handler reads the step's rows as written
                result = _run_handler(op, ctx, params)
        except BaseException:
            del self.decisions[logged:]  # a failed handler decided nothing: its evaluations are not logged
            raise
        finally:
            self.service_bpmn_id = None
        self.record("service_called", bpmn_id=bpmn_id, operation=name)
        return result


def _run_handler(op: Operation, ctx: TaskContext, params: dict[str, Any]) -> dict[str, Any]:
    try:
        return op.call(ctx, params)
    except (SystemExit, GeneratorExit) as exc:
        # Not an Exception, so it would pass every handler up to the sweep, the tick or the request thread
        # (a library's sys.exit()): it fails this task like any handler error.
        raise RuntimeError(
            _(
                "%(operation)s raised %(error)s(%(problem)s)",
                operation=op.name,
                error=type(exc).__name__,
                problem=str(exc),
            )
        ) from exc


_OPEN_ROWS = select(InboxItem.id, InboxItem.spiff_task_id, InboxItem.bpmn_id).where(
    InboxItem.instance_id == bindparam("instance_id"), InboxItem.status == TaskStatus.OPEN
)
_CANCEL_ITEMS = (
    update(InboxItem)
    .where(InboxItem.id.in_(bindparam("ids", expanding=True)))
    .values(status=TaskStatus.CANCELLED, completed_at=bindparam("now"))
)
_DROP_CANDIDATES = delete(TaskCandidate).where(TaskCandidate.task_id.in_(bindparam("ids", expanding=True)))
_NEW_ITEM = insert(cast(Table, InboxItem.__table__)).returning(InboxItem.id)


def resume(
    rt: Runtime, session: Session, instance: ProcessInstance, now: datetime, actor: str
) -> tuple[Step, Any]:
    """The step context and the restored workflow of a locked instance.

    An instance queued without state (deploy queues `definition_approval` this way) starts here, on its data.
    """
    step = Step(rt, session, instance, now, actor)
    loaded = rt.spec_for(session, instance.definition_id)
    if not instance.state:
        step.record(
            "instance_started",
            process_key=instance.process_key,
            version=instance.version,
            before=STARTED["before"],
            after={**STARTED["after"], "data": instance.data},
        )
        return step, engine.new_workflow(loaded, instance.data, step.call_service)
    return step, engine.restore_state(loaded, instance.state, step.call_service)


def advance(step: Step, wf: Any, *, retry: bool = False) -> None:
    """Run the engine, then write state and every derived row; an engine failure becomes an incident."""
    instance = step.instance
    max_depth = step.rt.settings.engine.max_task_depth
    try:
        with patches.recording_decisions(step.record_decision):
            if retry:
                with patches.step_clock(step.now):
                    engine.retry_failed(wf)
            engine.run_engine(wf, step.now, max_depth)
        waits = engine.snapshot(wf, max_depth)
    except engine.EngineError as exc:
        _record_failure(step, exc)
        waits = engine.snapshot(wf, max_depth, strict=False)
    _sync_inbox(step, waits.ready)
    _sync_waits(step, waits)
    if instance.status == InstanceStatus.RUNNING and engine.is_completed(wf):
        instance.status = InstanceStatus.COMPLETED
        instance.completed_at = step.now
        step.record("instance_completed", **status_change(InstanceStatus.RUNNING, instance.status))
    instance.data = to_jsonable(engine.workflow_data(wf))
    pruning.prune_history(wf)
    instance.state = engine.dump_state(wf)
    instance.updated_at = step.now
    # The instance and the task it completed as prepared UPDATEs, then the ORM's own (an incident, ...).
    write_changed(step.session, instance, *step.closed_items)
    step.session.flush()
    # Derived rows go in as plain multi-row inserts: no ORM bookkeeping is needed for them.
    insert_rows(step.session, AuditEvent, step.events)
    insert_rows(step.session, DecisionLogEntry, step.decisions)


def _record_failure(step: Step, exc: engine.EngineError) -> None:
    step.failure = exc
    instance = step.instance
    before, instance.status = instance.status, InstanceStatus.ERROR
    # Stored, shown to admins and exported to auditors: never with a password a driver's error quoted.
    details = {"bpmn_id": exc.bpmn_id or "", "message": redacted(str(exc))}
    details["traceback"] = redacted("".join(traceback.format_exception(exc)))
    if step.incident is not None:
        step.incident.attempts += 1
        for name, value in details.items():
            setattr(step.incident, name, value)
    else:
        step.incident = Incident(instance_id=instance.id, created_at=step.now, attempts=1, **details)
        step.session.add(step.incident)
    change = status_change(before, instance.status)
    step.record("instance_failed", bpmn_id=exc.bpmn_id, message=details["message"], **change)


def _sync_inbox(step: Step, ready_tasks: list[engine.ReadyTask]) -> None:
    """Open an inbox row for each new ready human task; cancel rows whose task the engine dropped."""
    session, instance = step.session, step.instance
    ready = {t.task_id: t for t in ready_tasks}
    closed_ids = {item.id for item in step.closed_items}
    # On the step's connection, past the ORM (no autoflush): the task this step completed may still be
    # unflushed and read as open, so it is left out by id.
    open_rows = (
        []
        if step.fresh
        else [
            row
            for row in session.connection().execute(_OPEN_ROWS, {"instance_id": instance.id})
            if row.id not in closed_ids
        ]
    )
    dropped = [row for row in open_rows if row.spiff_task_id not in ready]
    if dropped:  # e.g. an interrupting boundary timer fired on the task
        session.execute(_CANCEL_ITEMS, {"ids": [row.id for row in dropped], "now": step.now})
        for row in dropped:
            step.record("task_cancelled", task_id=row.id, bpmn_id=row.bpmn_id, **CANCELLED)
    closed = [item.id for item in step.closed_items] + [row.id for row in dropped]
    if closed:
        # Closed tasks leave the candidate index so group queries only scan open work.
        session.connection().execute(_DROP_CANDIDATES, {"ids": closed})
    known = {row.spiff_task_id for row in open_rows}
    for task in ready.values():
        if task.task_id not in known:
            _create_inbox_item(step, task)


def _create_inbox_item(step: Step, task: engine.ReadyTask) -> None:
    instance = step.instance
    definition = step.rt.definition(step.session, instance.definition_id)
    due_at = engine.iso_duration(task.due_in, step.now) if task.due_in else None
    context = to_jsonable(task.data)
    assignee = instance.started_by if task.assignee == "initiator" else task.assignee
    # A task the process assigns to one person is theirs alone: no group queue shows it, and it does not
    # open the case to its lane's group (sales2 must not read sales1's application through sales1's task).
    groups = [] if assignee else task.candidate_groups
    row = dict(
        instance_id=instance.id,
        spiff_task_id=task.task_id,
        process_key=instance.process_key,
        bpmn_id=task.bpmn_id,
        title=task.title,
        lane=task.lane,
        candidate_groups=groups,
        subject=task.subject or render_subject(task.data, instance.business_key),
        instructions=task.instructions,  # filled in by the snapshot, under the script budget
        translations=task.translations or None,  # subject_zh / instructions_zh, filled in the same way
        form_file=task.form_file,
        form_schema=step.rt.form_for(step.session, definition, task.form_file),
        four_eyes=task.four_eyes,
        context=context,
        assignee=assignee,
        status=TaskStatus.OPEN,
        due_at=due_at,
        due_sort=due_at or NO_DUE_DATE,
        created_at=step.now,
    )
    task_id = step.session.connection().scalar(_NEW_ITEM, row)
    step.opened.append(InboxItem(id=task_id, **row))
    # The candidate rows carry the task's sort keys: the inbox reads them in order (workflows/inbox.py).
    shared = len(groups) > 1
    keys = {"task_id": task_id, "due_sort": row["due_sort"], "created_at": step.now, "shared": shared}
    insert_rows(step.session, TaskCandidate, [{"group_name": g, **keys} for g in groups])
    _open_to_groups(step, groups)
    step.record("task_created", task_id=task_id, bpmn_id=task.bpmn_id, groups=groups, assignee=assignee)


def _open_to_groups(step: Step, groups: list[str]) -> None:
    """Let the groups offered a task read its instance from now on (these rows outlive the task)."""
    if groups:
        statement = _OPEN_TO_GROUPS[step.rt.engine.dialect.name == "postgresql"]
        step.session.connection().execute(
            statement, [{"instance_id": step.instance.id, "group_name": g} for g in groups]
        )


# {on PostgreSQL: statement}, built once: an existing reader row is kept as it is.
_OPEN_TO_GROUPS = {
    is_pg: dialect.insert(InstanceGroup).on_conflict_do_nothing(
        index_elements=[InstanceGroup.instance_id, InstanceGroup.group_name]
    )
    for is_pg, dialect in ((True, postgresql), (False, sqlite))
}


def _sync_waits(step: Step, snapshot: engine.Snapshot) -> None:
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
    # Plain INSERTs on the step's connection (one executemany per table): nothing reads the rows back as
    # objects, and the unit of work's flush of them cost ~6 % of a dunning case start.
    insert_rows(
        session,
        Timer,
        [{"instance_id": instance.id, "bpmn_id": t.bpmn_id, "due_at": t.due_at} for t in timers],
    )
    # An instance with a business key is addressed by it, one without by its id: both are numbers for
    # some processes (dunning cases use the customer id), so subscribing under both would let a message
    # for customer 7 reach instance 7.
    keys = {instance.business_key} if instance.business_key else {str(instance.id)}
    subscriptions = [
        {"instance_id": instance.id, "message_name": m.name, "correlation_key": key, "bpmn_id": m.bpmn_id}
        for m in messages
        for key in sorted(keys)
    ]
    insert_rows(session, MessageSubscription, subscriptions)
