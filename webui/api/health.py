"""GET /api/health: the app answers and its database is reachable."""

from __future__ import annotations

from flask import Response, jsonify

from webui.api import bp
from webui.api.openapi import Model, api, responses
from webui.services import services
from workflows.store.db import ping


class Health(Model):
    status: str = "ok"


@bp.get("/health")
@api.validate(resp=responses(200, Health, public=True), security={})
def health() -> Response:
    """The app answers and its database is reachable (no token needed)."""
    ping(services().engine)
    return jsonify({"status": "ok"})
