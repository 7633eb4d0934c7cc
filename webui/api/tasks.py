"""/api/tasks: the caller's inbox, one task, and claiming, unclaiming and completing it."""

from __future__ import annotations

from typing import Literal

from flask import Response, jsonify
from pydantic import Field

from webui.api import bp, current_actor, json_body, paged
from webui.api.openapi import Body, Id, JsonObject, Model, Page, PageQuery, Timestamp, api, responses
from webui.services import services
from workflows.engine import runner
from workflows.errors import BadRequest
from workflows.inbox import InboxFilter, get_task_for, list_inbox_json, task_json
from workflows.instances import instance_summary
from workflows.messages import _


class FormField(Model):
    name: str
    type: str = Field(examples=["string", "number", "integer", "boolean"])
    required: bool
    options: list[object] | None = None
    title: str | None = None
    format: str | None = Field(None, examples=["date", "textarea", "money"])
    description: str | None = None


class Form(Model):
    fields: list[FormField]
    schema_: JsonObject = Field(alias="schema", description="the form's JSON Schema")


class TaskContext(Model):
    instructions: str
    four_eyes: list[object] = Field(description='BPMN ids (or "initiator") whose actors may not complete it')
    data: JsonObject


class Task(Model):
    id: Id
    instance_id: int
    process_key: str
    name: str = Field(description="the user task's BPMN id")
    title: str
    subject: str
    group: str | None
    groups: list[str]
    assignee: str | None
    status: str = Field(examples=["open", "completed", "cancelled"])
    created_at: Timestamp
    due_at: Timestamp | None
    overdue: bool
    completed_by: str | None
    completed_at: Timestamp | None
    form: Form
    context: TaskContext


class TaskQuery(PageQuery):
    process_key: str | None = None
    group: str | None = None
    overdue: bool = False
    q: str | None = Field(
        None,
        description="part of the title or subject (a Chinese text: also the Chinese task name and subject)",
    )
    mine: bool = Field(False, description="only tasks claimed by the caller")
    sort: Literal["due", "created", "-created"] = "due"


class TaskPage(Page):
    """`total` counts the caller's open tasks exactly up to 1,000 (or the page's end, if further); past that
    it stops and `total_is_lower_bound` says there are more than `total`. Page on with `has_more`."""

    items: list[Task]
    total_is_lower_bound: bool = Field(
        description="true: counting stopped at `total` (1,000, or the page's end if further) and there are "
        "more; false: `total` is exact"
    )
    has_more: bool = Field(description="a page follows this one")


class Completion(Body):
    data: JsonObject = Field(
        default_factory=dict,
        description="the form's fields",
        examples=[{"decision": "approve", "comment": "ok"}],
    )


class CompletedTask(Task):
    instance: JsonObject = Field(description="the instance after the step (as in the instance list)")


@bp.get("/tasks")
@api.validate(resp=responses(200, TaskPage))
def get_tasks(query: TaskQuery) -> Response:
    """The open tasks the caller may act on: their groups' and their own."""
    actor = current_actor()
    svc = services()
    now = svc.clock()
    flt = InboxFilter(
        process_key=query.process_key,
        group=query.group,
        overdue=query.overdue,
        text=query.q,
        mine_only=query.mine,
        sort=query.sort,
        page=query.page,
        per_page=query.per_page,
    )
    with svc.rt.factory() as session:
        found = list_inbox_json(session, actor, flt, now)
        return paged(
            found.items,
            found.total,
            found.page,
            found.per_page,
            total_is_lower_bound=found.total_is_lower_bound,
            has_more=found.has_more,
        )


@bp.get("/tasks/<int:task_id>")
@api.validate(resp=responses(200, Task, 403, 404))
def get_task(task_id: int) -> Response:
    """One task the caller may see, with its form and the case data it shows."""
    actor = current_actor()
    svc = services()
    with svc.rt.factory() as session:
        return jsonify(task_json(get_task_for(session, actor, task_id), svc.clock()))


@bp.post("/tasks/<int:task_id>/claim")
@api.validate(resp=responses(200, Task, 403, 404, 409))
def claim(task_id: int) -> Response:
    """Take a task of the caller's group, so others see it is being worked on."""
    actor = current_actor()
    svc = services()
    return jsonify(task_json(runner.claim_task(svc.rt, task_id, actor=actor, now=svc.clock()), svc.clock()))


@bp.post("/tasks/<int:task_id>/unclaim")
@api.validate(resp=responses(200, Task, 403, 404, 409))
def unclaim(task_id: int) -> Response:
    """Give a claimed task back to its group."""
    actor = current_actor()
    svc = services()
    return jsonify(task_json(runner.unclaim_task(svc.rt, task_id, actor=actor, now=svc.clock()), svc.clock()))


@bp.post("/tasks/<int:task_id>/complete")
@api.validate(json=Completion, resp=responses(200, CompletedTask, 403, 404, 409, 413, 422))
def complete(task_id: int) -> Response:
    """Submit a task's form (an unclaimed task is claimed implicitly); the process moves on."""
    actor = current_actor()
    body = json_body()
    data = body.get("data", {})
    if not isinstance(data, dict):
        raise BadRequest(_("'data' must be a JSON object with the form fields"))
    svc = services()
    now = svc.clock()
    # The instance as the committed step left it: no second session to read it again.
    item, instance = runner.complete_task_step(svc.rt, task_id, data, actor=actor, now=now)
    svc.nudge()
    return jsonify({**task_json(item, now), "instance": instance_summary(instance)})
