"""GET /api/tasks reads its page as plain rows (workflows.inbox.list_inbox_json: no ORM objects, JSON columns
through orjson, one "form" per form schema) for speed (issue 19); the answer must be task_json's, byte for
byte, for every user and filter, including values orjson alone would read differently (an integer beyond 64
bits, NaN), on SQLite and PostgreSQL (`db`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.helpers import auth
from tests.workflows.test_inbox_visibility import VIEWERS, book  # noqa: F401 (the fixture)
from workflows import task_answers
from workflows.inbox import InboxFilter, list_inbox, list_inbox_json, task_json
from workflows.store.db import transaction
from workflows.store.models import InboxItem
from workflows.users import actor_for, get_user

WIDE = 2**70 + 1  # orjson.loads would read it as a float (2**70)
ODD_DATA = {"wide": WIDE, "negative": -(2**64), "ratio": 0.1, "name": "华东贸易有限公司"}


def encoded(app: Flask, value: object) -> bytes:
    """The body jsonify writes (orjson, or the stdlib encoder for what orjson refuses)."""
    return app.json.response(value).get_data()  # type: ignore[attr-defined]


def test_a_json_column_reads_as_json_loads_reads_it() -> None:
    for text in ('{"n": 1180591620717411303424}', "[-18446744073709551616, 1e400]", '{"x": NaN}', "null"):
        assert repr(task_answers.loads(text)) == repr(__import__("json").loads(text)), text
    assert task_answers.loads(None) is None
    assert task_answers.loads('{"a": [1, 2.5, "三"]}') == {"a": [1, 2.5, "三"]}


def test_the_api_page_is_task_json_of_the_inbox_page(
    app: Flask,
    client: FlaskClient,
    demo_tokens: dict[str, str],
    book: datetime,  # noqa: F811
) -> None:
    factory = app.extensions["creditflow"].rt.factory
    with transaction(factory) as session:
        first, second = session.scalars(select(InboxItem).order_by(InboxItem.id).limit(2)).all()
        # Stored by json.dumps, as the engine stores them; NaN in a row of its own (orjson refuses it,
        # so its row is read by json.loads whatever else it holds), on SQLite: PostgreSQL's json refuses it.
        first.context = {**first.context, **ODD_DATA}
        if session.get_bind().dialect.name == "sqlite":
            second.context = {**second.context, "nan": float("nan")}
    later = book + timedelta(hours=20)
    filters = [
        InboxFilter(),
        InboxFilter(sort="-created", per_page=3, page=2),
        InboxFilter(overdue=True),
        InboxFilter(mine_only=True),
        InboxFilter(text="so-1", sort="created"),
        InboxFilter(group="credit_manager"),
    ]
    shown = 0
    with factory() as session:
        for name in VIEWERS:
            actor = actor_for(get_user(session, name))
            for flt in filters:
                old = list_inbox(session, actor, flt, later)
                new = list_inbox_json(session, actor, flt, later)
                assert encoded(app, new.items) == encoded(app, [task_json(t, later) for t in old.items]), (
                    name,
                    flt,
                )
                assert (new.total, new.page, new.per_page, new.total_is_lower_bound) == (
                    old.total,
                    old.page,
                    old.per_page,
                    old.total_is_lower_bound,
                )
                shown += len(new.items)
    assert shown > 40
    # The odd values arrive as they were stored: the wide integers exactly, the text as UTF-8.
    listed = client.get("/api/tasks?per_page=100", headers=auth(demo_tokens["admin"])).json
    data = next(t for t in listed["items"] if t["id"] == first.id)["context"]["data"]
    assert data["wide"] == WIDE and data["negative"] == -(2**64)
    assert data["name"] == ODD_DATA["name"] and Decimal(str(data["ratio"])) == Decimal("0.1")
