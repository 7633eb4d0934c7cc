"""The web UI's response class: a page that shows a stored lone surrogate is still a page, never a 500."""

from __future__ import annotations

from flask import Response

from workflows.store.shown_json import shown_text


class ShownResponse(Response):
    """Flask's Response, but a text body holding a lone surrogate is sent with U+FFFD in its place.

    Nothing creditflow writes today holds one (workflows/store/shown_json.py), but a row an older version or
    a hand edit left may, and the task and instance pages show case data, task contexts and history details
    in many places: werkzeug's UTF-8 encoding raised UnicodeEncodeError on the finished page (a 500). The
    JSON API shows such values repaired the same way (shown_json); the stored row is left as it is. Repairing
    here, where the page is encoded, covers every page and every stored value on it, and costs nothing on
    the pages that encode as they are (the usual ones).
    """

    def set_data(self, value: bytes | str) -> None:
        if isinstance(value, str):
            text = value
            try:
                value = text.encode()
            except UnicodeEncodeError:  # UTF-8 refuses only surrogates
                value = shown_text(text).encode()
        super().set_data(value)
