"""POST /api/admin/tick: run one scheduler round at a given time (admins; tests and demos move the clock)."""

from __future__ import annotations

from flask import Response, jsonify

from webui.api import bp, current_actor, json_body
from webui.services import services
from workflows.batch.jobs import tick
from workflows.clock import parse_now
from workflows.errors import BadRequest, Forbidden


@bp.post("/admin/tick")
def admin_tick() -> Response:
    actor = current_actor()
    if not actor.is_admin:
        raise Forbidden(f"{actor.username} may not tick the scheduler: admin only")
    body = json_body()
    svc = services()
    try:
        now = parse_now(body.get("now"))
    except ValueError as exc:
        raise BadRequest(f"now must be an ISO 8601 time, not {body.get('now')!r}") from exc
    return jsonify(tick(svc.rt, svc.mailer(), now).as_dict())
