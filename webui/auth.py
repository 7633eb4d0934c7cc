"""Web login and logout: Flask-Login over signed cookies, each backed by a row that logout deletes.

Failed logins are throttled (workflows/logins.py): a locked name or address gets 429 with Retry-After,
even with the right password."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Blueprint, Flask, flash, make_response, redirect, render_template, request, url_for
from flask import session as cookie_session
from flask_babel import gettext as _
from flask_babel import lazy_gettext, ngettext
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from webui.services import services
from workflows.errors import Forbidden
from workflows.group_names import group_names
from workflows.logins import (
    begin_login_try,
    end_login_try,
    end_web_session,
    start_web_session,
    web_session_user,
)
from workflows.messages import translated
from workflows.store.models import User
from workflows.users import Actor, check_password

bp = Blueprint("auth", __name__)

# The key in the signed cookie under which the secret of the server-side web session travels.
SESSION_SECRET = "web_session"

F = TypeVar("F", bound=Callable[..., Any])


class WebUser(UserMixin):
    """The logged-in user as Flask-Login sees it; carries the Actor used for authorisation."""

    def __init__(self, user: User) -> None:
        self.id = str(user.id)
        self.username = user.username
        self.email = user.email
        self.language = user.language  # None: not chosen (webui/i18n.py falls back to the browser's)
        self.actor = Actor(user.username, user.group_names)


def init_login(app: Flask) -> None:
    """Sessions for web users: Flask-Login over the signed session cookie."""
    manager = LoginManager(app)
    manager.login_view = "auth.login"
    manager.login_message = lazy_gettext("Please log in to continue.")

    @manager.user_loader
    def load_user(user_id: str) -> WebUser | None:
        secret = cookie_session.get(SESSION_SECRET)
        if not user_id.isdigit() or not isinstance(secret, str):
            return None
        svc = services()
        with svc.rt.factory() as session:
            user = web_session_user(session, int(user_id), secret, svc.wall())
            return WebUser(user) if user is not None else None


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
        raise Forbidden(
            _(
                "%(user)s may not %(doing)s: only %(groups)s or admin may.",
                user=actor.username,
                doing=translated(doing, _),  # a workflows.messages.Text from a page module, said here
                groups=translated(group_names(sorted(groups)), _),  # "Credit manager、Finance"
            )
        )
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
        svc = services()
        attempt = begin_login_try(svc.rt.factory, username, request.remote_addr or "", svc.wall())
        if attempt.refused_for_s:
            return _locked_out(username, attempt.refused_for_s)
        with svc.rt.factory() as session:
            user = check_password(session, username, request.form.get("password", ""))
            web_user = WebUser(user) if user is not None else None
        end_login_try(svc.rt.factory, attempt.attempt_id, succeeded=web_user is not None)
        if web_user is not None:
            replaced = cookie_session.get(SESSION_SECRET)
            if isinstance(replaced, str):  # this browser's previous session ends, not just its cookie
                end_web_session(svc.rt.factory, replaced)
            secret = start_web_session(svc.rt.factory, int(web_user.id), svc.wall())
            cookie_session.clear()  # nothing from before the login survives it, the CSRF token neither
            cookie_session[SESSION_SECRET] = secret
            login_user(web_user)
            return redirect(same_site_path(request.args.get("next", ""), url_for("inbox.inbox")))
        return render_template(
            "auth/login.html", error=_("Unknown user name or wrong password."), username=username
        ), 401
    return render_template("auth/login.html", error=None, username="")


def _locked_out(username: str, retry_after_s: int) -> Response:
    minutes = -(-retry_after_s // 60)
    error = ngettext(
        "Too many failed logins for this user name or from this address. Try again in %(num)d minute.",
        "Too many failed logins for this user name or from this address. Try again in %(num)d minutes.",
        minutes,
    )
    response = make_response(render_template("auth/login.html", error=error, username=username), 429)
    response.headers["Retry-After"] = str(retry_after_s)
    return response


@bp.post("/logout")
def logout() -> Response:
    secret = cookie_session.get(SESSION_SECRET)
    if isinstance(secret, str):
        end_web_session(services().rt.factory, secret)
    logout_user()
    cookie_session.clear()  # and with it the CSRF token: forms of the ended session no longer submit
    flash(_("You are logged out."))
    response = redirect(url_for("auth.login"))
    # The pages of the ended session stay readable with Back: the browser's cache and htmx's history
    # snapshots (sessionStorage). Browsers honour this over HTTPS and on localhost.
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response
