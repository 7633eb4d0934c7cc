"""What the app refuses before a view sees it: text no database can store, numbers beyond 64 bits, JSON
nested too deep. Each refusal is a 400 naming the parameter or field, never a 500 from the database.

PostgreSQL rejects NUL in text and psycopg cannot encode an unpaired surrogate; ids are INTEGER columns
(PostgreSQL: "integer out of range" from 2^31) and no column holds more than 64 bits (SQLite: OverflowError).
So ids, page numbers and JSON integers are checked here, before any query runs.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from flask import Flask, request
from sqlalchemy import String
from werkzeug.routing import IntegerConverter, Map

from workflows.errors import BadRequest, Invalid, message_of
from workflows.messages import _
from workflows.store.db import MAX_BIGINT, MAX_INTEGER
from workflows.store.models import ProcessInstance

MAX_ID = MAX_INTEGER  # ids are INTEGER columns: PostgreSQL refuses 2^31 in a query on them
MAX_JSON_DEPTH = 64  # objects and arrays inside each other; real process data nests a few levels
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class IdConverter(IntegerConverter):
    """`<int:...>` in every route: an id from 1 to MAX_ID; anything else does not match, so 404."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def parse_id(text: object) -> int | None:
    """A record id typed as ASCII digits (1 to MAX_ID); None for anything else ("²" passes isdigit)."""
    # int() refuses more than 4,300 digits (ValueError), and no id has more than 10.
    if not isinstance(text, str) or not text.isascii() or not text.isdigit() or len(text) > 10:
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ID else None


def check_business_key(business_key: str | None) -> None:
    """Raises: Invalid (field business_key) when it is longer than its column (PostgreSQL refuses it)."""
    column = ProcessInstance.__table__.c.business_key.type
    assert isinstance(column, String) and column.length
    limit = column.length
    if business_key is not None and len(business_key) > limit:
        message = _("At most %(limit)s characters.", limit=limit)
        raise Invalid(
            _("The business key is too long: %(message)s", message=message),
            details={"fields": {"business_key": message}},
        )


def unstorable_reason(text: str) -> str | None:
    """Why no database can store the text (a NUL or an unpaired surrogate), or None when it is fine."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return _("contains a NUL character (\\u0000)")
    return _(
        "contains an unpaired surrogate (%(code)s); send text as valid UTF-8",
        code=f"\\u{ord(found.group()):04x}",
    )


def loads_checked(raw: bytes | str) -> Any:
    """Parse JSON with fractions as exact Decimals, then check it can be stored.

    Raises:
        ValueError: invalid JSON, nested deeper than MAX_JSON_DEPTH, an integer beyond 64 bits, or a
            string with NUL or an unpaired surrogate; the message names the place (`$.data.x`).
    """
    try:
        value = json.loads(raw, parse_float=Decimal, object_pairs_hook=_object_without_repeated_keys)
    except RecursionError as exc:
        # The C parser gives up near the interpreter's recursion limit, far beyond MAX_JSON_DEPTH.
        raise ValueError(
            _("nested more than %(max_json_depth)s levels deep", max_json_depth=MAX_JSON_DEPTH)
        ) from exc
    check_json_value(value)
    return value


def _object_without_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are each given once: with a key twice, whatever checked the request on its
    way (a proxy, a log, a schema that reads the first) and the code that stores it (the last) would see
    different values: {"currency": "GBP", ..., "currency": "USD"} stored a USD rate.

    Raises:
        ValueError: naming the repeated key.
    """
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(_("the key '%(key)s' appears twice in one object", key=key[:80]))
        found[key] = value
    return found


def check_json_value(value: Any) -> None:
    """Walk a parsed JSON value without recursion (it may be deep).

    Raises:
        ValueError: as for `loads_checked`.
    """
    stack: list[tuple[Any, str, int]] = [(value, "$", 0)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= MAX_JSON_DEPTH:
                raise ValueError(
                    _(
                        "%(where)s: nested more than %(max_json_depth)s levels deep",
                        where=where,
                        max_json_depth=MAX_JSON_DEPTH,
                    )
                )
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in pairs:
                if isinstance(key, str):
                    reason = unstorable_reason(key)
                    if reason:
                        raise ValueError(
                            _("%(where)s: the key '%(key)s' %(reason)s", where=where, key=key, reason=reason)
                        )
                    stack.append((child, f"{where}.{key}", depth + 1))
                else:
                    stack.append((child, f"{where}[{key}]", depth + 1))
        elif isinstance(item, str):
            reason = unstorable_reason(item)
            if reason:
                raise ValueError(_("%(where)s %(reason)s", where=where, reason=reason))
        elif (
            isinstance(item, int) and not isinstance(item, bool) and not -MAX_BIGINT - 1 <= item <= MAX_BIGINT
        ):
            raise ValueError(
                _(
                    "%(where)s: %(item)s does not fit in 64 bits; send big amounts as decimal strings",
                    where=where,
                    item=item,
                )
            )


def _refuse_unstorable_request_text() -> None:
    """Query parameters, form fields and file names with NUL or surrogates: 400 before any view runs."""
    if "\x00" in request.path:
        raise BadRequest(_("the path contains a NUL character (%00)"))
    sources = [(_("query parameter"), request.args)]
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        # Keep the raw body: parsing the form consumes the stream, and the API reads JSON from the raw
        # body whatever the Content-Type says (`curl -d '{...}'` sends it as a form).
        request.get_data(cache=True)
        sources.append((_("form field"), request.form))
    for what, values in sources:
        for name, value in values.items(multi=True):
            # A multipart part may come without a name (None), as the fuzzer found.
            reason = unstorable_reason(str(name or "")) or unstorable_reason(str(value or ""))
            if reason:
                raise BadRequest(_("%(what)s '%(name)s' %(reason)s", what=what, name=name, reason=reason))
    if request.mimetype == "multipart/form-data":
        for name, upload in request.files.items(multi=True):
            reason = unstorable_reason(upload.filename or "")
            if reason:
                raise BadRequest(_("the file name of upload '%(name)s' %(reason)s", name=name, reason=reason))
    if request.is_json and not request.path.startswith("/api/"):
        _refuse_unreadable_page_json()


def _refuse_unreadable_page_json() -> None:
    """A page route's JSON body (the studio's edit, preview and new-process posts read it with
    request.get_json) as the API checks its own (json_body): a body nested 100,000 deep was a RecursionError
    there, and an unpaired surrogate in the posted diagram a UnicodeEncodeError when encoded, both a 500.

    Raises:
        BadRequest: as for loads_checked.
    """
    raw = request.get_data(cache=True)
    if not raw.strip():
        return
    try:
        loads_checked(raw)
    except ValueError as exc:  # UnicodeDecodeError is a ValueError too
        raise BadRequest(
            _("the request body is not valid JSON: %(problem)s", problem=message_of(exc))
        ) from exc


def register(app: Flask) -> None:
    """Bound `<int:...>` route arguments, and refuse unstorable text in every request."""
    app.url_map.converters["int"] = IdConverter
    app.before_request(_refuse_unstorable_request_text)
