"""Turn domain errors into the contract's JSON errors (API) or a page with the sentence (web)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import Flask, Response, jsonify, render_template, request
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing.exceptions import RoutingException

from webui.stored_sentences import dated
from workflows.errors import DomainError
from workflows.messages import _, translated

logger = logging.getLogger(__name__)

RETRY_AFTER_S = 2
# PostgreSQL SQLSTATEs that mean "try again": serialization failure, deadlock, lock timeout, cannot connect.
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03", "57P03", "08000", "08001", "08003", "08006"})


# werkzeug's default descriptions of the statuses a client meets, word for word (so English is unchanged),
# as sentences the catalogue translates.
_WERKZEUG_SAID = {
    400: _("The browser (or proxy) sent a request that this server could not understand."),
    404: _(
        "The requested URL was not found on the server. If you entered the URL manually please check your "
        "spelling and try again."
    ),
    405: _("The method is not allowed for the requested URL."),
    413: _("The data value transmitted exceeds the capacity limit."),
    415: _("The server does not support the media type transmitted in the request."),
}


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _error(
    status: int, code: str, message: str, details: dict[str, object] | None = None
) -> tuple[Response | str, int]:
    if _wants_json():
        # A workflows.messages.Text in the request's language, its days as that reader writes them ("14 Jan
        # 2027", "2027年1月14日"); the JSON's own fields (details) keep ISO days.
        message = translated(message, gettext, dated)
        body: dict[str, object] = {"code": code, "message": message}
        if details:
            body.update({key: _said(value) for key, value in details.items()})
        return jsonify({"error": body}), status
    message = translated(message, gettext, dated)  # on a page, its days as the page writes them
    return render_template("errors/error.html", status=status, message=message), status


def _said(value: object) -> object:
    """`value` (an error's details: fields, problems, ...) with every workflows.messages.Text in it, however
    deeply nested in dicts and lists, said in the request's language; ids, numbers and plain str stay."""
    if isinstance(value, str):
        return translated(value, gettext)
    if isinstance(value, Mapping):
        return {key: _said(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_said(item) for item in value]
    return value


def _another_method_takes_this_path(app: Flask, exc: MethodNotAllowed) -> bool:
    """Whether a rule of another method really takes this path. Werkzeug checks a rule's method before its
    converters, so POST /api/customers/2648196797/collateral (an id above MAX_ID, which no route takes)
    answered 405 "use GET" because a GET rule has the same shape, while GET answered 404."""
    adapter = app.url_map.bind_to_environ(request.environ)
    for method in exc.valid_methods or ():
        try:
            adapter.match(method=method)
        except (HTTPException, RoutingException):
            continue
        return True
    return False


def register(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError) -> tuple[Response | str, int]:
        return _error(exc.status, exc.code, exc.message, exc.details)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> tuple[Response | str, int]:
        return _error(
            400, "csrf", _("The form expired or was not sent from this site; reload the page and try again.")
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response | str, int]:
        if isinstance(exc, MethodNotAllowed) and not _another_method_takes_this_path(app, exc):
            return _error(404, "not_found", _("The requested URL was not found on the server."))
        status = exc.code or 500
        description = exc.description or exc.name or ""
        if exc.description == type(exc).description:  # werkzeug's own sentence: ours says it in any language
            description = _WERKZEUG_SAID.get(status, description)
        return _error(status, (exc.name or "error").lower().replace(" ", "_"), description)

    @app.errorhandler(DBAPIError)
    def database_error(exc: DBAPIError) -> tuple[Response | str, int]:
        if str(getattr(exc.orig, "sqlstate", "")).startswith("22"):
            # SQLSTATE class 22, data exception: a value the checks before the query let through (too long
            # for its column, out of range). The caller gets a 400; the log gets an ERROR, because the
            # check belongs in front of the query, where it can name the field.
            logger.error(
                "%s %s: a value did not fit the database: %s", request.method, request.path, exc.orig
            )
            return _error(
                400,
                "bad_request",
                _("A value does not fit: %(problem)s", problem=str(exc.orig).splitlines()[0]),
            )
        if not _is_transient(exc):
            return unexpected(exc)
        # Another writer held the lock past the busy timeout (SQLite "database is locked"), or PostgreSQL
        # gave up on a lock or a connection. The step's transaction was rolled back; sending the same
        # request again is the fix, so this is a 503 with Retry-After, not a 500.
        logger.warning("database busy on %s %s: %s", request.method, request.path, exc.orig)
        body, status = _error(
            503,
            "unavailable",
            _("The database is busy; try again in %(seconds)s seconds.", seconds=RETRY_AFTER_S),
        )
        response = app.make_response((body, status))
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response, status

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[Response | str, int]:
        # A 500 is a bug: log it with the request so it can be reproduced, and say so plainly.
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return _error(500, "internal", _("Something went wrong on our side; the error was logged."))


def _is_transient(exc: DBAPIError) -> bool:
    """A lock or connection problem that goes away on its own, as opposed to a bug in a query."""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate is not None:
        return sqlstate in _TRANSIENT_SQLSTATES
    if not isinstance(exc, OperationalError):
        return False
    if type(exc.orig).__module__.startswith("psycopg"):
        return True  # no SQLSTATE: the connection failed or was lost
    return "database is locked" in str(exc.orig) or "database table is locked" in str(exc.orig)
