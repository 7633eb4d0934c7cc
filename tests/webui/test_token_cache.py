"""The API token cache (webui/token_cache.py): a cached caller never outlives a change to who they are.

Changes made through the app's engine count from the next request; changes made by another process (here:
another engine on the same database) within the cache's TTL; unknown tokens are never cached.
"""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, select, update

from webui.token_cache import TokenCache
from workflows.settings import Settings
from workflows.store.db import make_engine, make_session_factory, transaction
from workflows.store.models import ApiToken, User, UserGroup
from workflows.users import issue_token, token_hash


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def tasks_status(client: FlaskClient, token: str) -> int:
    return client.get("/api/tasks", headers=auth(token)).status_code


def test_a_deactivation_through_the_app_refuses_the_next_request(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    assert tasks_status(client, demo_tokens["analyst1"]) == 200  # now cached
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        session.execute(update(User).where(User.username == "analyst1").values(active=False))
    assert tasks_status(client, demo_tokens["analyst1"]) == 401


def test_a_deleted_token_and_a_lost_group_count_at_once(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customers = "/api/customers"
    assert client.get(customers, headers=auth(demo_tokens["sales1"])).status_code == 200
    assert tasks_status(client, demo_tokens["manager1"]) == 200
    factory = app.extensions["creditflow"].rt.factory
    with transaction(factory) as session:
        session.execute(delete(ApiToken).where(ApiToken.token_hash == token_hash(demo_tokens["manager1"])))
        sales1 = select(User.id).where(User.username == "sales1").scalar_subquery()
        session.execute(delete(UserGroup).where(UserGroup.user_id == sales1))
    assert tasks_status(client, demo_tokens["manager1"]) == 401
    # Without a group sales1 may no longer read customers: the cached groups are gone with the change.
    assert client.get(customers, headers=auth(demo_tokens["sales1"])).status_code == 403


def test_another_processs_deactivation_counts_within_the_ttl(
    app: Flask, settings: Settings, demo_tokens: dict[str, str]
) -> None:
    now = [1000.0]
    cache = TokenCache(app.extensions["creditflow"].engine, monotonic=lambda: now[0])
    assert cache.actor(demo_tokens["analyst1"]) is not None
    other = make_engine(settings.database)  # as the CLI or another worker would: no event reaches the app
    try:
        with transaction(make_session_factory(other)) as session:
            session.execute(update(User).where(User.username == "analyst1").values(active=False))
    finally:
        other.dispose()
    now[0] += 1.0
    assert cache.actor(demo_tokens["analyst1"]) is not None  # still within the TTL: the documented bound
    now[0] += 1.5
    assert cache.actor(demo_tokens["analyst1"]) is None


def test_unknown_tokens_are_not_cached_so_a_new_token_works_at_once(
    app: Flask, settings: Settings, demo_tokens: dict[str, str], clock: datetime
) -> None:
    cache: TokenCache = app.extensions["creditflow"].tokens
    assert cache.actor("not-a-token") is None
    assert cache._entries == {}
    other = make_engine(settings.database)
    try:
        with transaction(make_session_factory(other)) as session:
            token = issue_token(session, "auditor1", clock)
    finally:
        other.dispose()
    found = cache.actor(token)
    assert found is not None and found.username == "auditor1"


def test_an_answer_read_across_a_change_is_not_kept(app: Flask, demo_tokens: dict[str, str]) -> None:
    cache: TokenCache = app.extensions["creditflow"].tokens
    real = cache._engine.connect

    def connect_then_change() -> object:
        connection = real()
        cache.forget()  # as a write to the users table would, between the read's start and its end
        return connection

    cache._engine.connect = connect_then_change  # type: ignore[method-assign]
    try:
        assert cache.actor(demo_tokens["cfo1"]) is not None
    finally:
        cache._engine.connect = real  # type: ignore[method-assign]
    assert cache._entries == {}
