"""Flask's signed-cookie sessions, minus the per-request work an API call with a token never needs.

Flask builds a new itsdangerous serializer (and signer settings) at every request, to read the cookie and
again to write it, and looks up seven cookie settings before it finds an untouched empty session has
nothing to write. With the REST hot path at five requests per small approval (issue 19), that was about
a tenth of a millisecond per approval. The cookie format, the keys and every header stay as Flask's.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from flask.wrappers import Response


class CookieSessions(SecureCookieSessionInterface):
    """SecureCookieSessionInterface with one serializer per key set and a quick exit for empty sessions."""

    def __init__(self) -> None:
        self._serializer: tuple[Any, Any] | None = None  # (keys it was built for, serializer)

    def get_signing_serializer(self, app: Flask) -> Any:
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = self._serializer  # one read: another thread may replace it meanwhile (a tuple, whole)
        if cached is None or cached[0] != keys:
            cached = self._serializer = (keys, super().get_signing_serializer(app))
        return cached[1]

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not session and not session.modified and not session.accessed:
            return  # nothing to write, delete or vary on: what Flask ends with, without its lookups
        super().save_session(app, session, response)


def register(app: Flask) -> None:
    """Use CookieSessions for the app's session cookie."""
    app.session_interface = CookieSessions()
