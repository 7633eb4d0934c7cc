"""Turn domain errors into the contract's JSON errors (API) or a page with the sentence (web)."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from workflows.errors import DomainError

logger = logging.getLogger(__name__)


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _error(
    status: int, code: str, message: str, details: dict[str, object] | None = None
) -> tuple[Response | str, int]:
    if _wants_json():
        body: dict[str, object] = {"code": code, "message": message}
        if details:
            body.update(details)
        return jsonify({"error": body}), status
    return render_template("errors/error.html", status=status, message=message), status


def register(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError) -> tuple[Response | str, int]:
        return _error(exc.status, exc.code, exc.message, exc.details)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> tuple[Response | str, int]:
        return _error(
            400, "csrf", "The form expired or was not sent from this site; reload the page and try again."
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response | str, int]:
        status = exc.code or 500
        return _error(
            status, (exc.name or "error").lower().replace(" ", "_"), exc.description or exc.name or ""
        )

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[Response | str, int]:
        # A 500 is a bug: log it with the request so it can be reproduced, and say so plainly.
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return _error(500, "internal", "Something went wrong on our side; the error was logged.")
