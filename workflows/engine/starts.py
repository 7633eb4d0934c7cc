"""A new instance's first step: the latest version (or the one given) started and run until it waits.

Part of `runner` (which re-exports both entries): one transaction that creates the instance, runs the
engine and writes every row the step implies.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from workflows.definitions.display_names import definition_names
from workflows.definitions.forms import validate_form
from workflows.definitions.start_rights import require_may_start
from workflows.engine import spiff as engine
from workflows.engine.refusals import refuse_bad_input
from workflows.engine.row_writes import insert_loaded
from workflows.engine.runtime import Runtime
from workflows.engine.step import STARTED, Step, advance
from workflows.errors import BadRequest
from workflows.messages import _
from workflows.store.db import transaction
from workflows.store.jsonable import to_jsonable
from workflows.store.models import InstanceStatus, ProcessDefinition, ProcessInstance
from workflows.users import Actor


def start_instance(
    rt: Runtime,
    process_key: str,
    data: Mapping[str, Any],
    *,
    actor: Actor,
    now: datetime,
    business_key: str | None = None,
    check_groups: bool = True,
    session: Session | None = None,
    definition: ProcessDefinition | None = None,
    lean: bool = False,
) -> ProcessInstance:
    """Start the latest version of a process and run it until it waits.

    With `session` (an open write transaction) the start joins it and the caller commits, so a batch
    job records which customer the instance was started for in the same transaction. `definition`, the
    key's latest version read by the caller in that transaction, saves reading it again per start (a
    batch of starts). `lean`: handlers run without a savepoint each; the caller must run the start in a
    savepoint and redo it without `lean` on RedoWithSavepoints (workflows/engine/lean_starts.in_savepoint).

    Raises:
        NotFound: the key is not deployed.  Forbidden: the actor is not in the start lane's group.
    """
    if not isinstance(data, Mapping):
        raise BadRequest(_("start data must be a JSON object"))
    if session is None:
        with transaction(rt.factory) as own:
            return _start(
                own, rt, process_key, data, actor, now, business_key, check_groups, definition
            ).instance
    step = _start(session, rt, process_key, data, actor, now, business_key, check_groups, definition, lean)
    return step.instance


def start_step(
    rt: Runtime,
    process_key: str,
    data: Mapping[str, Any],
    *,
    actor: Actor,
    now: datetime,
    business_key: str | None,
) -> Step:
    """`start_instance` in its own transaction, returning the committed step: the REST answer shows the
    new instance from what the step wrote (workflows.instances.started_instance_json), not read back.

    Raises:
        NotFound, Forbidden, BadRequest, Invalid: as start_instance.
    """
    if not isinstance(data, Mapping):
        raise BadRequest(_("start data must be a JSON object"))
    with transaction(rt.factory) as session:
        return _start(session, rt, process_key, data, actor, now, business_key, True, None)


def _start(
    session: Session,
    rt: Runtime,
    process_key: str,
    data: Mapping[str, Any],
    actor: Actor,
    now: datetime,
    business_key: str | None,
    check_groups: bool,
    definition: ProcessDefinition | None,
    lean: bool = False,
) -> Step:
    if definition is None:
        definition = rt.latest(session, process_key)
    assert definition is not None and definition.process_key == process_key
    if check_groups:
        require_may_start(actor, definition)
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
        lock_version=1,
        started_by=actor.username,
        started_at=now,
        updated_at=now,
        completed_at=None,
    )
    # One prepared INSERT, the object then attached as loaded: the ORM's flush of one new row costs more.
    insert_loaded(session, instance)
    step = Step(rt, session, instance, now, actor.username, fresh=True, lean=lean)
    step.record(
        "instance_started",
        process_key=process_key,
        version=definition.version,
        business_key=business_key,
        before=STARTED["before"],
        after={**STARTED["after"], "data": instance.data},  # what the initiator asked for
    )
    wf = engine.new_workflow(rt.spec_for(session, definition.id), data, step.call_service)
    advance(step, wf)
    # The process by the name the reader knows it by, read only when the start is refused (a start reads
    # nothing more); its key and the operation that refused go to the log.
    refuse_bad_input(
        step,
        lambda: _(
            "%(process)s could not be started",
            process=definition_names(session, definition).process_words(process_key),
        ),
    )
    return step
