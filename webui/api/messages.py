"""POST /api/messages: deliver a BPMN message to the instances waiting for it under a correlation key."""

from __future__ import annotations

from flask import Response, jsonify

from webui.api import bp, current_actor, json_body
from webui.services import services
from workflows.engine import runner


@bp.post("/messages")
def post_message() -> Response:
    actor = current_actor()
    body = json_body()
    payload = body.get("data") or {}
    svc = services()
    delivered = runner.deliver_message(
        svc.rt,
        str(body.get("name") or ""),
        str(body.get("correlation_key") or ""),
        payload,
        actor=actor,
        now=svc.clock(),
    )
    svc.nudge()
    return jsonify({"delivered_to": delivered})
