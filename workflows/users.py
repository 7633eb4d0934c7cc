"""Users, groups and API tokens (hashed at rest), and the Actor that authorisation checks use."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from workflows.errors import BadRequest, NotFound, message_of
from workflows.languages import check_language
from workflows.messages import _
from workflows.store.audit import changed, record_event
from workflows.store.login_tables import WebSession
from workflows.store.models import ApiToken, Group, User, UserGroup
from workflows.store.shown_json import Unreadable

ADMIN_GROUP = "admin"
SYSTEM_ACTOR = "system"


@dataclass(frozen=True)
class Actor:
    """Who is acting: a user with groups, or the system itself (timers, batch runs)."""

    username: str
    groups: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return ADMIN_GROUP in self.groups

    def in_any(self, groups: Iterable[str]) -> bool:
        # Groups stored as JSON no one can read (shown_json.Unreadable: a hand edit) name nobody, so admins
        # only; not a TypeError, which the start menu of every page would raise for every other user.
        if isinstance(groups, Unreadable):
            return self.is_admin
        return self.is_admin or not self.groups.isdisjoint(groups)


SYSTEM = Actor(SYSTEM_ACTOR, frozenset({ADMIN_GROUP}))
# A person at the shell running `creditflow` without --user: `cli:` and the operating-system account. No user
# can have this name (user names have no ':'), so the name proves the action came from the command line.
OPERATOR_PREFIX = "cli:"


def operator_actor(account: str) -> Actor:
    """The shell operator: trusted like an admin, and named in the audit trail (not "system")."""
    return Actor(f"{OPERATOR_PREFIX}{account}"[:80], frozenset({ADMIN_GROUP}))


def trusted_initiator(name: str) -> bool:
    """Whether `name` is creditflow itself or an operator at the shell, both trusted like an admin.

    A check on who started an instance uses this, not `== SYSTEM_ACTOR`: an instance the operator started
    is started with the rights it had when the command line acted as "system".
    """
    return name == SYSTEM_ACTOR or name.startswith(OPERATOR_PREFIX)


def actor_for(user: User) -> Actor:
    return Actor(user.username, user.group_names)


def ensure_groups(session: Session, names: Iterable[str]) -> None:
    """Create the named groups that do not exist yet."""
    for name in names:
        if session.get(Group, name) is None:
            session.add(Group(name=name))
    session.flush()


def add_user(
    session: Session,
    username: str,
    *,
    groups: Iterable[str],
    now: datetime,
    email: str = "",
    password: str | None = None,
    language: str | None = None,
    actor: str = SYSTEM_ACTOR,
) -> User:
    """Create a user (and any missing groups); an existing user gets the groups added.

    `language` ("en", "zh") sets the web UI's language; None leaves it as it is (unset for a new user).

    Audited as `user_created`, or `user_changed` with the groups, e-mail and password change before and after.

    Setting a password ends the user's web sessions (a copied session cookie stops working).

    Raises:
        BadRequest: the name is empty, has characters other than ASCII letters, digits, dot, dash,
            underscore, is "system" (in any case), the name creditflow itself acts under, or is new and
            differs from an existing user's only in case; or the language is none creditflow speaks.
    """
    if language is not None:
        try:
            language = check_language(language)
        except ValueError as exc:
            raise BadRequest(message_of(exc)) from exc
    # ASCII only: "mаnager1" (a Cyrillic а) or "ｍanager1" would read as manager1 in the audit trail.
    if not username or not (username.isascii() and all(c.isalnum() or c in "._-" for c in username)):
        raise BadRequest(
            _("user name '%(username)s' must be ASCII letters, digits, '.', '-' or '_'", username=username)
        )
    if username.lower() == SYSTEM_ACTOR:
        # Checks trust the name "system" (timers, batch runs, `init`): a person so named would deploy money
        # moves without a second owner, open dunning cases and start (so read) every dunning case.
        raise BadRequest(
            _(
                "user name '%(username)s' is reserved for creditflow itself; choose another name",
                username=username,
            )
        )
    groups = [g.strip() for g in groups if g.strip()]
    user = session.scalar(select(User).where(User.username == username))
    twin = session.scalar(select(User.username).where(func.lower(User.username) == username.lower()).limit(1))
    if user is None and twin is not None:
        # One person with "Manager1" and "manager1" would request with one and approve with the other.
        raise BadRequest(
            _(
                "user name '%(username)s' differs from the existing user '%(twin)s' only in case",
                username=username,
                twin=twin,
            )
        )
    ensure_groups(session, groups)
    # What the audit shows before and after: groups, active, e-mail, and whether the password changed.
    before = None if user is None else _audited(user, password_changed=False)
    if user is None:
        user = User(username=username, email=email or f"{username}@example.com", created_at=now)
        session.add(user)
    elif email:
        user.email = email
    if password is not None:
        user.password_hash = generate_password_hash(password)
    if language is not None:
        user.language = language
    have = user.group_names
    added = [g for g in groups if g not in have]
    user.groups.extend(UserGroup(group_name=g) for g in added)
    session.flush()
    if password is not None:
        # A new password is how a leaked password or a stolen cookie is answered: the web sessions started
        # with the old one end too, so a copied session cookie stops working (API tokens are kept).
        session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    after = _audited(user, password_changed=password is not None)
    if after != before:
        record_event(
            session,
            actor=actor,
            action="user_created" if before is None else "user_changed",
            now=now,
            username=username,
            groups_added=added,
            password_set=password is not None,
            **({"before": None, "after": after} if before is None else changed(before, after)),
        )
    return user


def _audited(user: User, *, password_changed: bool) -> dict[str, Any]:
    # Never the hash: only whether this change set a new password.
    groups = sorted(user.group_names)
    return {
        "groups": groups,
        "active": user.active,
        "email": user.email,
        "language": user.language,
        "password_changed": password_changed,
    }


def set_language(session: Session, username: str, language: str, now: datetime) -> User:
    """The user's web UI language, chosen by the user in the page header; audited as `user_changed`
    (with the language before and after) when it changes.

    Raises:
        BadRequest: the language is none creditflow speaks. NotFound: no such user.
    """
    try:
        code = check_language(language)
    except ValueError as exc:
        raise BadRequest(message_of(exc)) from exc
    user = get_user(session, username)
    if user.language != code:
        record_event(
            session,
            actor=username,
            action="user_changed",
            now=now,
            username=username,
            before={"language": user.language},
            after={"language": code},
        )
        user.language = code
    return user


def get_user(session: Session, username: str) -> User:
    """Raises: NotFound when there is no such user."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(
            _("user '%(username)s' does not exist; create it with `creditflow users add`", username=username)
        )
    return user


def issue_token(session: Session, username: str, now: datetime, *, actor: str = SYSTEM_ACTOR) -> str:
    """A new API token for the user; only its hash is stored, so this is the one time it is shown."""
    user = get_user(session, username)
    token = secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=token_hash(token), created_at=now))
    record_event(session, actor=actor, action="api_token_issued", now=now, username=username)
    return token


# Built once: every API call runs it, and building a statement costs more than running it.
_TOKEN_OWNER = (
    select(User.username, UserGroup.group_name)
    .join(ApiToken, ApiToken.user_id == User.id)
    .outerjoin(UserGroup, UserGroup.user_id == User.id)
    .where(ApiToken.token_hash == bindparam("token_hash"), User.active.is_(True))
)


def actor_for_token(db: Session | Connection, token: str) -> Actor | None:
    """The active user behind an API token, with its groups, in one query (every API call asks)."""
    rows = db.execute(_TOKEN_OWNER, {"token_hash": token_hash(token)}).all()
    if not rows:
        return None
    return Actor(rows[0][0], frozenset(group for _name, group in rows if group))


def check_password(session: Session, username: str, password: str) -> User | None:
    """The active user with this name and password, or None.

    An unknown (or inactive, or password-less) name costs the same hash as a wrong password, so the
    answer's timing does not tell which user names exist.
    """
    user = session.scalar(select(User).where(User.username == username, User.active.is_(True)))
    if user is None or not user.password_hash:
        check_password_hash(_dummy_hash(), password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


@cache
def _dummy_hash() -> str:
    # Made with the same default method and cost as add_user's hashes, once per process.
    return generate_password_hash(secrets.token_urlsafe(16))


def emails_of(session: Session, *, usernames: Iterable[str] = (), groups: Iterable[str] = ()) -> list[str]:
    """E-mail addresses of the named users and of every active member of the named groups."""
    query = select(User.email).where(User.active.is_(True), User.email != "")
    by_name = query.where(User.username.in_(list(usernames)))
    by_group = query.join(UserGroup).where(UserGroup.group_name.in_(list(groups)))
    return sorted(set(session.scalars(by_name)) | set(session.scalars(by_group)))


def group_names(session: Session) -> list[str]:
    """Every group, by name."""
    return list(session.scalars(select(Group.name).order_by(Group.name)))


def token_hash(token: str) -> str:
    """The stored form of an API token (SHA-256 hex)."""
    return hashlib.sha256(token.encode()).hexdigest()
