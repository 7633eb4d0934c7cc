"""REST API of the public contract (JSON, `Authorization: Bearer TOKEN`).

This package holds the blueprint and what every resource shares: the caller behind the token, the JSON
body, query arguments and the paged list shape. Each resource has its own module, which adds its routes
to `bp` when imported; `create_app` imports them all before it registers `bp`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy.orm import Session

from webui.input_checks import MAX_ID, loads_checked
from webui.services import MAX_PAGE, services
from workflows.errors import BadRequest, Forbidden, Unauthorized, message_of
from workflows.group_names import group_names
from workflows.messages import _
from workflows.store.db import transaction
from workflows.store.paging import MAX_PER_PAGE
from workflows.users import Actor

bp = Blueprint("api", __name__, url_prefix="/api")
_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,30}")


def current_actor() -> Actor:
    """The caller behind the bearer token.

    Raises:
        Unauthorized: no token, or an unknown one.
    """
    header = request.headers.get("Authorization", "")
    scheme, _space, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            _("send an API token as 'Authorization: Bearer TOKEN' (see `creditflow users token`)")
        )
    actor = services().tokens.actor(token.strip())
    if actor is None:
        raise Unauthorized(_("the API token is not valid"))
    return actor


def require_groups(actor: Actor, groups: frozenset[str], action: str) -> None:
    """Raises: Forbidden unless the actor is in one of the groups (or admin)."""
    if not actor.in_any(groups):
        raise Forbidden(
            _(
                "%(user)s may not %(action)s: only %(groups)s or admin may",
                user=actor.username,
                action=action,
                groups=group_names(sorted(groups)),
            )
        )


def json_body() -> dict[str, Any]:
    """The request's JSON object, with numbers that have a fraction kept exact as Decimal.

    Raises:
        BadRequest: the body is not a JSON object, or holds what cannot be stored (see input_checks).
        RequestEntityTooLarge: the body is over MAX_CONTENT_LENGTH (413).
    """
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        body = loads_checked(raw)
    except ValueError as exc:  # UnicodeDecodeError is a ValueError too
        raise BadRequest(
            _("the request body is not valid JSON: %(problem)s", problem=message_of(exc))
        ) from exc
    if not isinstance(body, dict):
        raise BadRequest(_("the request body must be a JSON object"))
    return body


def int_arg(name: str, default: int, *, low: int = 0, high: int = MAX_ID) -> int:
    """A whole-number query parameter from `low` to `high`; absent or empty means `default`.

    Raises:
        BadRequest: the value is not a whole number in that range (a bigger one would overflow BIGINT).
    """
    value = request.args.get(name, "")
    if not value:
        return default
    number = int(value) if _WHOLE_NUMBER.fullmatch(value) else None
    if number is None or not low <= number <= high:
        raise BadRequest(
            _(
                "query parameter %(name)s must be a whole number from %(low)s to %(high)s, not '%(value)s'",
                name=name,
                low=low,
                high=high,
                value=value,
            )
        )
    return number


def id_arg(name: str) -> int | None:
    """A record id from the query string; absent, empty or 0 means none.

    Raises:
        BadRequest: the value is not a whole number.
    """
    return int_arg(name, 0) or None


def bool_arg(name: str) -> bool | None:
    """A true/false query parameter (also 1/0); absent or empty means None.

    Raises:
        BadRequest: any other value.
    """
    value = request.args.get(name, "")
    if not value:
        return None
    if value not in ("true", "false", "1", "0"):
        raise BadRequest(
            _("query parameter %(name)s must be true or false, not '%(value)s'", name=name, value=value)
        )
    return value in ("true", "1")


def paging_args(max_per_page: int | None = None) -> tuple[int, int]:
    """(page, per_page) from the query string, 1 and 50 by default; per_page capped when asked.

    Raises:
        BadRequest: either is not a whole number.
    """
    page, per_page = int_arg("page", 1, low=1, high=MAX_PAGE), int_arg("per_page", 50, low=1, high=MAX_PAGE)
    return page, per_page if max_per_page is None else min(per_page, max_per_page)


def paged(items: list[Any], total: int, page: int, per_page: int, **extra: bool) -> Response:
    """A page of a list in the shape every list of the API has (`extra`: a list's own fields beside them).

    `per_page` is the size the rows were cut to (at most MAX_PER_PAGE), not the size asked for: a client
    paging by the answer would otherwise skip rows 201-500 of every 500 it asked for.
    """
    used = max(1, min(per_page, MAX_PER_PAGE))
    return jsonify({"items": items, "total": total, "page": page, "per_page": used, **extra})


def create_from_body(
    groups: frozenset[str],
    action: str,
    parse: Callable[..., dict[str, Any]],
    create: Callable[..., Any],
    to_json: Callable[[Session, Any, datetime], dict[str, Any]],
) -> tuple[Response, int]:
    """POST of a master record (customer, supplier, contract): check the group, parse the body, create
    it in one transaction and answer 201 with its JSON.

    `parse(body, today=)` raises Invalid naming each bad field; `create(session, fields, actor=, now=)`
    stores the row; `to_json(session, row, now)` is the answer.
    """
    actor = current_actor()
    require_groups(actor, groups, action)
    svc = services()
    now = svc.clock()
    fields = parse(json_body(), today=now.date())
    with transaction(svc.rt.factory) as session:
        row = create(session, fields, actor=actor.username, now=now)
        return jsonify(to_json(session, row, now)), 201
