"""Web login and logout: server-signed sessions via Flask-Login; logout is a POST."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from webui.services import services
from workflows.errors import Forbidden
from workflows.store.models import User
from workflows.users import Actor, check_password

bp = Blueprint("auth", __name__)

F = TypeVar("F", bound=Callable[..., Any])


class WebUser(UserMixin):
    """The logged-in user as Flask-Login sees it; carries the Actor used for authorisation."""

    def __init__(self, user: User) -> None:
        self.id = str(user.id)
        self.username = user.username
        self.email = user.email
        self.actor = Actor(user.username, user.group_names)


def init_login(app: Flask) -> None:
    """Sessions for web users: Flask-Login over the signed session cookie."""
    manager = LoginManager(app)
    manager.login_view = "auth.login"
    manager.login_message = "Please log in to continue."

    @manager.user_loader
    def load_user(user_id: str) -> WebUser | None:
        with services().rt.factory() as session:
            user = session.get(User, int(user_id)) if user_id.isdigit() else None
            return WebUser(user) if user is not None and user.active else None


def same_site_path(target: str, fallback: str) -> str:
    """`target` when it is a path on this site, else `fallback` (anything else is an open redirect).

    Refused: absolute and scheme-relative URLs ("//evil", and "/\\evil", which browsers read the same way),
    and control characters ("/%0A/evil" would put a line break into the Location header).
    """
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return fallback
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return fallback
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else fallback


def web_actor() -> Actor:
    """The Actor of the logged-in web user (views are @login_required)."""
    return cast(WebUser, current_user).actor


def require_groups(groups: frozenset[str], doing: str) -> Actor:
    """The web actor, when in one of `groups` (or admin).

    Raises:
        Forbidden: with a sentence naming who may.
    """
    actor = web_actor()
    if not actor.in_any(groups):
        raise Forbidden(f"{actor.username} may not {doing}: only {', '.join(sorted(groups))} or admin may.")
    return actor


def login_required_view(func: F) -> F:
    @wraps(func)
    @login_required
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    return cast(F, wrapper)


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        with services().rt.factory() as session:
            user = check_password(session, username, request.form.get("password", ""))
            if user is not None:
                login_user(WebUser(user))
                return redirect(same_site_path(request.args.get("next", ""), url_for("inbox.inbox")))
        return render_template(
            "auth/login.html", error="Unknown user name or wrong password.", username=username
        ), 401
    return render_template("auth/login.html", error=None, username="")


@bp.post("/logout")
def logout() -> Response:
    logout_user()
    flash("You are logged out.")
    return redirect(url_for("auth.login"))
