"""The actors behind API tokens, remembered for a few seconds: every API call asks for its caller.

A cached answer is forgotten at once when this process writes a user, a group, a membership or a token
(so a deactivation, a group change or a new token made through this process counts from the next request),
and after TTL_S in any case: a change made by another process (the CLI, another gunicorn worker, SQL by
hand) counts within TTL_S. Unknown tokens are never cached (a new token works at once, and guessing cannot
fill the cache). See README "Security".
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event

from workflows.users import Actor, actor_for_token, token_hash

TTL_S = 2.0
MAX_ENTRIES = 10_000  # tokens in use at once; past that the cache starts again empty
# The tables an actor is read from; a write to any of them forgets every cached actor.
_AUTH_TABLES = frozenset({"users", "groups", "user_groups", "api_tokens"})
_WRITE_TARGET = re.compile(
    r'\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)', re.IGNORECASE
)
_TOUCHED = "creditflow_auth_written"  # Connection.info flag: this transaction wrote an auth table


class TokenCache:
    """token hash -> (actor, expiry) for the app's engine; thread-safe."""

    def __init__(
        self, engine: Engine, ttl_s: float = TTL_S, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._engine = engine
        self.ttl_s = ttl_s
        self._monotonic = monotonic  # seconds; a test moves it
        self._entries: dict[str, tuple[Actor, float]] = {}
        self._generation = 0  # moves on every forget: an answer read across a forget is not kept
        self._lock = threading.Lock()
        event.listen(engine, "after_cursor_execute", self._after_execute)
        event.listen(engine, "checkin", self._after_checkin)  # the pool's: after the commit

    def actor(self, token: str) -> Actor | None:
        """The active user behind `token` with its groups, or None for an unknown or inactive one."""
        key = token_hash(token)
        hit = self._entries.get(key)
        now = self._monotonic()
        if hit is not None and hit[1] > now:
            return hit[0]
        generation = self._generation
        # A plain connection: an ORM session costs more than this one query.
        with self._engine.connect() as connection:
            actor = actor_for_token(connection, token)
        if actor is not None:
            with self._lock:
                if generation == self._generation:  # nothing written meanwhile
                    if len(self._entries) >= MAX_ENTRIES:
                        self._entries.clear()
                    self._entries[key] = (actor, now + self.ttl_s)
        return actor

    def forget(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def _after_execute(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # Forget at the write (no answer read from now on is kept) and again when its connection goes
        # back to the pool, after the commit (an answer read in between saw the rows as they were).
        target = _WRITE_TARGET.match(statement)
        if target is not None and target.group(1).lower() in _AUTH_TABLES:
            conn.info[_TOUCHED] = True
            self.forget()

    def _after_checkin(self, _dbapi_connection: Any, record: Any) -> None:
        if record.info.pop(_TOUCHED, False):
            self.forget()
