"""/api/process-instances: start one, list and read those the caller may see, retry a failed one."""

from __future__ import annotations

from flask import Response, jsonify, request

from webui.api import bp, current_actor, json_body, paged, paging_args
from webui.services import services
from workflows.engine import runner
from workflows.errors import BadRequest
from workflows.instances import get_instance_for, instance_json, instance_summary, list_instances


@bp.post("/process-instances")
def post_instance() -> tuple[Response, int]:
    actor = current_actor()
    body = json_body()
    key = body.get("process_key")
    if not isinstance(key, str) or not key:
        raise BadRequest("process_key is required")
    business_key = body.get("business_key")
    if business_key is not None and not isinstance(business_key, str):
        business_key = str(business_key)
    svc = services()
    now = svc.clock()
    instance = runner.start_instance(
        svc.rt, key, body.get("data") or {}, actor=actor, now=now, business_key=business_key
    )
    svc.nudge()  # the step may have queued e-mail or armed a timer
    with svc.rt.factory() as session:
        return jsonify(instance_json(session, instance, now)), 201


@bp.get("/process-instances")
def get_instances() -> Response:
    actor = current_actor()
    page, per_page = paging_args()
    with services().rt.factory() as session:
        rows, total = list_instances(
            session,
            actor,
            process_key=request.args.get("process_key") or None,
            status=request.args.get("status") or None,
            business_key=request.args.get("business_key") or None,
            page=page,
            per_page=per_page,
        )
        return paged([instance_summary(r) for r in rows], total, page, per_page)


@bp.get("/process-instances/<int:instance_id>")
def get_instance(instance_id: int) -> Response:
    actor = current_actor()
    svc = services()
    with svc.rt.factory() as session:
        return jsonify(instance_json(session, get_instance_for(session, actor, instance_id), svc.clock()))


@bp.post("/process-instances/<int:instance_id>/retry")
def retry_instance(instance_id: int) -> Response:
    actor = current_actor()
    svc = services()
    now = svc.clock()
    instance = runner.retry_instance(svc.rt, instance_id, actor=actor, now=now)
    with svc.rt.factory() as session:
        return jsonify(instance_json(session, instance, now))
