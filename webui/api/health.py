"""GET /api/health: the app answers, its database is reachable, and which clock it runs on."""

from __future__ import annotations

from flask import Response, jsonify
from pydantic import Field

from webui.api import bp
from webui.api.admin import ClockState, clock_json
from webui.api.openapi import Model, api, responses
from webui.services import services
from workflows.store.db import ping


class Health(Model):
    status: str = "ok"
    clock: ClockState = Field(
        description="real (the wall clock) or simulated (moved by POST /api/admin/clock)"
    )


@bp.get("/health")
@api.validate(resp=responses(200, Health, public=True), security={})
def health() -> Response:
    """The app answers and its database is reachable; the clock's mode and time (no token needed)."""
    svc = services()
    ping(svc.engine)
    return jsonify({"status": "ok", "clock": clock_json(svc.rt.settings.clock.mode, svc.clock())})
