"""POST /api/messages: deliver a BPMN message to the instances waiting for it under a correlation key."""

from __future__ import annotations

from flask import Response, jsonify
from pydantic import Field

from webui.api import bp, current_actor, json_body
from webui.api.openapi import Body, JsonObject, Model, api, responses
from webui.services import services
from workflows.engine import runner


class Message(Body):
    name: str = Field(min_length=1, examples=["payment_received"])
    correlation_key: str = Field(
        min_length=1, description="e.g. the customer id of a dunning case", examples=["5"]
    )
    data: JsonObject = Field(default_factory=dict, examples=[{"amount": "100.00", "reference": "bank 4711"}])


class Delivery(Model):
    delivered_to: list[int] = Field(description="the ids of the instances that received the message")


@bp.post("/messages")
@api.validate(json=Message, resp=responses(200, Delivery, 403, 404, 409, 413, 422))
def post_message() -> Response:
    """Deliver a message to the instances waiting for it under the correlation key (audited)."""
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
