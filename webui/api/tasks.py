"""/api/tasks: the caller's inbox, one task, and claiming, unclaiming and completing it."""

from __future__ import annotations

from flask import Response, jsonify, request

from webui.api import bp, current_actor, int_arg, json_body, paged
from webui.services import services
from workflows.engine import runner
from workflows.errors import BadRequest
from workflows.inbox import InboxFilter, get_task_for, list_inbox, task_json
from workflows.instances import instance_summary
from workflows.store.models import ProcessInstance

_YES = ("1", "true", "yes")


@bp.get("/tasks")
def get_tasks() -> Response:
    actor = current_actor()
    svc = services()
    now = svc.clock()
    flt = InboxFilter(
        process_key=request.args.get("process_key") or None,
        group=request.args.get("group") or None,
        overdue=request.args.get("overdue") in _YES,
        text=request.args.get("q") or None,
        mine_only=request.args.get("mine") in _YES,
        sort=request.args.get("sort", "due"),
        page=int_arg("page", 1),
        per_page=int_arg("per_page", 50),
    )
    with svc.rt.factory() as session:
        found = list_inbox(session, actor, flt, now)
        return paged([task_json(t, now) for t in found.items], found.total, found.page, found.per_page)


@bp.get("/tasks/<int:task_id>")
def get_task(task_id: int) -> Response:
    actor = current_actor()
    svc = services()
    with svc.rt.factory() as session:
        return jsonify(task_json(get_task_for(session, actor, task_id), svc.clock()))


@bp.post("/tasks/<int:task_id>/claim")
def claim(task_id: int) -> Response:
    actor = current_actor()
    svc = services()
    return jsonify(task_json(runner.claim_task(svc.rt, task_id, actor=actor, now=svc.clock()), svc.clock()))


@bp.post("/tasks/<int:task_id>/unclaim")
def unclaim(task_id: int) -> Response:
    actor = current_actor()
    svc = services()
    return jsonify(task_json(runner.unclaim_task(svc.rt, task_id, actor=actor, now=svc.clock()), svc.clock()))


@bp.post("/tasks/<int:task_id>/complete")
def complete(task_id: int) -> Response:
    actor = current_actor()
    body = json_body()
    data = body.get("data", {})
    if not isinstance(data, dict):
        raise BadRequest("'data' must be a JSON object with the form fields")
    svc = services()
    now = svc.clock()
    item = runner.complete_task(svc.rt, task_id, data, actor=actor, now=now)
    svc.nudge()
    with svc.rt.factory() as session:
        instance = session.get(ProcessInstance, item.instance_id)
        assert instance is not None
        return jsonify({**task_json(item, now), "instance": instance_summary(instance)})
