"""How many SQL statements a step of the small approval issues over REST (issue 19, must-show 3).

The small approval is benchmarks/rest.py's: sales1 starts payment_terms_exception, analyst1 completes the
review, manager1 the approval. Each request's statements are counted on the app's engine with a
`before_cursor_execute` listener (an executemany counts once: it is one call to the driver), after one
whole approval has warmed the caches (the deployed spec and forms are read once per process), so the
numbers are the steady state a busy server sees.

Rule: a request may issue at most its pinned number (STATEMENTS). More fails: an added statement on
the hot path must be worth it, and whoever adds one raises the number here in the same commit and says
why. Fewer passes (the suite turns warnings into errors, so it cannot warn): whoever removes statements
lowers the number in the same commit (a one-line edit), so that the pin stays exact and the removed
statements cannot creep back unnoticed. The numbers differ by engine: SQLite's
BEGIN (BEGIN IMMEDIATE for a write) is a statement of its own, PostgreSQL's is sent by the driver.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, event

from tests.helpers import auth

pytestmark = pytest.mark.usefixtures("shipped")

START = {
    "customer_name": "Benchmark Ltd",
    "order_value": 250000,
    "standard_terms_days": 30,
    "requested_terms_days": 45,
    "justification": "benchmark",
}
REVIEW = {"decision": "approve", "approved_terms_days": 45}
APPROVAL = {"decision": "approve"}

# The pins, one line per request: {request: {dialect: statements}}. Lower a number when you remove statements.
STATEMENTS = {
    "start": {"sqlite": 9, "postgresql": 8},
    "complete_review": {"sqlite": 11, "postgresql": 10},
    "complete_approval": {"sqlite": 13, "postgresql": 14},
}
# Each was 2 (SQLite) / 1 (PostgreSQL) higher before the token cache (webui/token_cache.py): the caller's
# token is now looked up once per TTL, not per request (the "BEGIN; the token's user and groups |" below).
# What they were when pinned (HEAD c599d05), in order. On SQLite each
# transaction's BEGIN is a statement (BEGIN for a read, BEGIN IMMEDIATE for a write): 2 or 3 more than on
# PostgreSQL, whose driver begins implicitly; COMMIT is a driver call on both, not counted.
#  start (15 / 12):
#    BEGIN; the token's user and groups | BEGIN IMMEDIATE; the definition to start (latest version);
#    INSERT the instance; INSERT the review's inbox row (a new instance has no open rows to look for);
#    INSERT its candidate row (with its sort keys); INSERT the instance's reader groups (ON CONFLICT DO
#    NOTHING); UPDATE the instance (state, data, version); INSERT the audit events (one executemany);
#    INSERT the decision log rows (one executemany) | BEGIN; the answer: the instance's tasks, its audit
#    events, its incidents. Since runner.start_step the answer comes from the step: 13 / 11 -> 9 / 8 (the
#    read's BEGIN and three SELECTs gone; a start whose handlers write still reads it back).
#  complete_review (13 / 11):
#    BEGIN; the token's user and groups | BEGIN IMMEDIATE; the task (locked); the instance (locked);
#    UPDATE the task (completed, by whom, decision); the instance's open inbox rows; DELETE the completed
#    task's candidate rows; INSERT the approval's inbox row; INSERT its candidate row; INSERT the reader
#    groups; UPDATE the instance; INSERT the audit events. The answer comes from the step (no read).
#  complete_approval (17 / 15):
#    as complete_review up to the task update, plus the four-eyes check (did this user complete the
#    review?) before it; the notification to the requester inside a savepoint (SAVEPOINT, the requester's
#    address, the outbox's dedupe key, the recipients' language (issue 20: users by address, since a user
#    without a chosen language may be a customer's address; raised from 16 / 14 in the commit after
#    906324a, which added it), INSERT the e-mail, RELEASE); the open inbox rows; DELETE the candidate rows;
#    UPDATE the instance (completed); INSERT the audit events. Since notify.email runs without a savepoint
#    on SQLite (Operation.writes_once: its INSERT is its one write, and last), 15 -> 13 there.
# A failing run lists its statements in the message.


@contextmanager
def counting(engine: Engine) -> Iterator[list[str]]:
    """The statements sent on `engine` inside the block (first line of each)."""
    sent: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(" ".join(statement.split())[:160])

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", count)


def approve(client: FlaskClient, tokens: dict[str, str], key: str, engine: Engine) -> dict[str, list[str]]:
    """One small approval over REST; the statements of its start and its two completions."""
    sent: dict[str, list[str]] = {}
    body = {"process_key": "payment_terms_exception", "business_key": key, "data": START}
    with counting(engine) as sent["start"]:
        response = client.post("/api/process-instances", json=body, headers=auth(tokens["sales1"]))
    assert response.status_code == 201, response.json
    for step, user, form in (
        ("complete_review", "analyst1", REVIEW),
        ("complete_approval", "manager1", APPROVAL),
    ):
        [task] = client.get("/api/tasks?per_page=1", headers=auth(tokens[user])).json["items"]
        with counting(engine) as sent[step]:
            response = client.post(
                f"/api/tasks/{task['id']}/complete", json={"data": form}, headers=auth(tokens[user])
            )
        assert response.status_code == 200, response.json
    assert response.json["status"] == "completed", response.json
    return sent


def test_a_step_of_the_small_approval_issues_at_most_its_pinned_statements(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    engine = app.extensions["creditflow"].engine
    # A busy server's callers are in its token cache (webui/token_cache.py); a slow test run must not see
    # them expire between the warm-up and the count.
    app.extensions["creditflow"].tokens.ttl_s = 3600
    approve(client, demo_tokens, "WARM-1", engine)  # caches: the deployed spec, forms, settings, tokens
    sent = approve(client, demo_tokens, "PIN-1", engine)
    dialect = engine.dialect.name
    for step, statements in sent.items():
        pinned = STATEMENTS[step][dialect]
        listing = "\n".join(f"  {n + 1:2}. {s}" for n, s in enumerate(statements))
        assert len(statements) <= pinned, (
            f"{step} on {dialect}: {len(statements)} statements, pinned {pinned}:\n{listing}"
        )
