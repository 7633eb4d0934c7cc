"""The home page: signed-in users start in their inbox."""

from __future__ import annotations

from flask import Blueprint, redirect, url_for
from werkzeug.wrappers import Response

bp = Blueprint("pages", __name__)


@bp.get("/")
def home() -> Response:
    return redirect(url_for("inbox.inbox"))
