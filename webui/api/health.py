"""GET /api/health: the app answers and its database is reachable."""

from __future__ import annotations

from flask import Response, jsonify

from webui.api import bp
from webui.services import services
from workflows.store.db import ping


@bp.get("/health")
def health() -> Response:
    ping(services().engine)
    return jsonify({"status": "ok"})
