"""Web logins: the throttle on failed logins, and server-side web sessions that logging out ends.

The throttle is a table, not an in-process counter: `serve --workers` runs several processes (and
possibly several hosts on one PostgreSQL), and a counter in one of them would let each worker grant its
own five tries. Each try is written and committed *before* its password is checked, and only then
counted together with every other try written by then, so of tries racing on one name at most
MAX_FAILURES_PER_NAME get their password checked: whichever commits last sees all the others. That
ordering of commits is the point, so these functions take the session factory and commit themselves
(the login view calls them; the only other writer is users.add_user, which ends a user's web sessions
when it sets a new password, inside the caller's transaction).
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from workflows.store.db import transaction
from workflows.store.login_tables import LoginAttempt, WebSession
from workflows.store.models import User

# Issue 14: 5 failures for one name, or 20 from one address, within 15 minutes lock further tries.
LOGIN_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_NAME = 5
MAX_FAILURES_PER_ADDRESS = 20
# A web session ends this long after its login, logged out or not (most people close the browser instead).
WEB_SESSION_LIFETIME = timedelta(hours=12)
_NAME_LENGTH = 80  # login_attempts.username
_ADDRESS_LENGTH = 64  # login_attempts.address


@dataclass(frozen=True)
class LoginTry:
    """A recorded login try; when its name or address is locked, `refused_for_s` > 0 (the Retry-After)."""

    attempt_id: int
    refused_for_s: int = 0


def begin_login_try(factory: sessionmaker[Session], username: str, address: str, now: datetime) -> LoginTry:
    """Record a try, then decide whether its password may be checked at all.

    A refused try is removed again: it does not lengthen the lock, so `refused_for_s` is when enough of
    the counted failures have left the window for a try to be let through.
    """
    name, address = username[:_NAME_LENGTH], throttle_address(address)
    with transaction(factory) as session:
        session.execute(delete(LoginAttempt).where(LoginAttempt.attempted_at <= now - LOGIN_WINDOW))
        attempt = LoginAttempt(username=name, address=address, attempted_at=now)
        session.add(attempt)
        session.flush()
        attempt_id = attempt.id
    with factory() as session:
        wait = max(
            _locked_for(session, LoginAttempt.username, name, attempt_id, MAX_FAILURES_PER_NAME, now),
            _locked_for(session, LoginAttempt.address, address, attempt_id, MAX_FAILURES_PER_ADDRESS, now),
        )
    if wait:
        with transaction(factory) as session:  # refused: the try leaves no trace
            session.execute(delete(LoginAttempt).where(LoginAttempt.id == attempt_id))
    return LoginTry(attempt_id, wait)


def throttle_address(address: str) -> str:
    """What the per-address limit counts: the client's address, but an IPv6 client by its /64.

    One IPv6 host usually holds a whole /64 and could send each try from a new address; an IPv4-mapped
    address (::ffff:a.b.c.d, from a dual-stack socket) counts as its IPv4 address. Anything else that is
    not an address (a proxy's odd header) counts as it is. Some load balancers forward "client:port"
    ("203.0.113.5:51234", "[2001:db8::1]:51234"); the client picks a new port for each connection, so
    the port is dropped.
    """
    host, colon, port = address.rpartition(":")
    if address.startswith("["):
        host = address[1:].partition("]")[0]
    elif not (colon and port.isdigit() and "." in host and ":" not in host):
        host = address
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return address[:_ADDRESS_LENGTH]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))
    return str(ip)


def end_login_try(factory: sessionmaker[Session], attempt_id: int, *, succeeded: bool) -> None:
    """A failed try stays counted; a successful one also clears the failures of its name."""
    if not succeeded:
        return
    with transaction(factory) as session:
        name = session.scalar(select(LoginAttempt.username).where(LoginAttempt.id == attempt_id))
        session.execute(delete(LoginAttempt).where(LoginAttempt.username == name))


def _locked_for(
    session: Session, column: InstrumentedAttribute[str], value: str, own_id: int, limit: int, now: datetime
) -> int:
    """Seconds until fewer than `limit` other tries with `column == value` remain in the window (0: now).

    The others include tries still being checked in other workers, so racing tries lock early, never late.
    """
    others = select(LoginAttempt.attempted_at).where(
        column == value,
        LoginAttempt.id != own_id,
        LoginAttempt.attempted_at > now - LOGIN_WINDOW,
    )
    count = session.scalar(select(func.count()).select_from(others.subquery())) or 0
    if count < limit:
        return 0
    # Once the (count - limit + 1) oldest have left the window, limit - 1 remain and a try is let through.
    times = session.scalars(others.order_by(LoginAttempt.attempted_at).limit(count - limit + 1)).all()
    return max(1, math.ceil((times[-1] + LOGIN_WINDOW - now).total_seconds()))


# --- web sessions ------------------------------------------------------------------------------------


def start_web_session(factory: sessionmaker[Session], user_id: int, now: datetime) -> str:
    """A new session for the user; returns the secret the session cookie carries (only its hash is stored).

    Sessions past their lifetime are deleted on the way (nothing else would: they were never logged out).
    """
    token = secrets.token_urlsafe(32)
    with transaction(factory) as session:
        session.execute(delete(WebSession).where(WebSession.started_at <= now - WEB_SESSION_LIFETIME))
        session.add(WebSession(token_hash=_hash(token), user_id=user_id, started_at=now))
    return token


def web_session_user(session: Session, user_id: int, token: str, now: datetime) -> User | None:
    """The active user of a live web session, or None when it was ended (logged out, or started more than
    WEB_SESSION_LIFETIME before `now`) or never existed."""
    return session.scalar(
        select(User)
        .join(WebSession, WebSession.user_id == User.id)
        .where(
            User.id == user_id,
            User.active.is_(True),
            WebSession.token_hash == _hash(token),
            WebSession.started_at > now - WEB_SESSION_LIFETIME,
        )
    )


def end_web_session(factory: sessionmaker[Session], token: str) -> None:
    """Logging out: the session's cookie, wherever it was copied to, no longer logs anyone in."""
    with transaction(factory) as session:
        session.execute(delete(WebSession).where(WebSession.token_hash == _hash(token)))


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
