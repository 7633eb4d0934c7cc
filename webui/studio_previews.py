"""The studio panel's previews (issue 18), for process owners on the edit page (session + CSRF):

- POST /definitions/KEY/V/preview/texts: a user task's subject and instructions rendered over the data of one
  recent instance of KEY that the owner may read (workflows.readers: a preview shows the data, so it opens
  no instance the instance page would not), over the newest instance of KEY with its values hidden
  ("hidden_values": true; any owner, whatever the instance's readers: keys, nesting and types only, see
  workflows.definitions.hidden_values), or over no data;
- POST /definitions/KEY/V/preview/timer: when a timer fires for a start date.

Both compute what the runtime computes (workflows.definitions.studio_previews); a problem with the text or
timer is an answer (200, ok false, the reason), a malformed request a 400.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from webui.auth import login_required_view, require_groups
from webui.formatting import format_time
from webui.services import services
from workflows.credit.roles import PROCESS_OWNERS
from workflows.definitions.hidden_values import hidden
from workflows.definitions.studio_previews import (
    PreviewFailed,
    instance_data,
    preview_instructions,
    preview_subject,
    timer_firings,
)
from workflows.definitions.versions import get_definition
from workflows.errors import BadRequest, NotFound
from workflows.instances import get_instance_for, newest_instance_id, recent_readable
from workflows.messages import translated
from workflows.store.models import ProcessInstance
from workflows.users import Actor

bp = Blueprint("studio_previews", __name__)

WORKBENCH = "manage process definitions"
RECENT = 10  # instances offered to preview with
MAX_TEXT = 20_000  # characters of a subject, instructions or timer expression (a diagram's, not a book)
MAX_FORMS = 20  # new forms in one deploy
MAX_FORM_BYTES = 256 * 1024
_FORM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,194}\.json")
_START = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?")


def studio_preview_choices(session: Session, actor: Actor, key: str, version: int) -> dict[str, Any]:
    """For the panel (the edit page's data-studio): the preview routes, the recent instances of `key`
    the actor may read, newest first, and whether an instance of `key` exists to preview with its values
    hidden (the panel's default when the actor may read none)."""
    rows = recent_readable(session, actor, key, RECENT)
    return {
        "previewTextsUrl": url_for("studio_previews.texts", key=key, version=version),
        "previewTimerUrl": url_for("studio_previews.timer", key=key, version=version),
        "instances": [{"id": i, "label": f"#{i} {bk or ''} (v{v})".replace("  ", " ")} for i, bk, v in rows],
        "hiddenValues": newest_instance_id(session, key) is not None,
    }


@bp.post("/definitions/<key>/<int:version>/preview/texts")
# A new process (definition_new.py): nothing deployed, no case of it yet; no key segment in the path, which
# would shadow /definitions/<key>/<int:version>/... of a process keyed "new".
@bp.post("/definitions/new/preview/texts", defaults={"key": "", "version": None})
@login_required_view
def texts(key: str, version: int | None = None) -> Response:
    """{"instance_id": N or null, "subject": "...", "instructions": "..."} -> each rendered, or why not."""
    actor = require_groups(PROCESS_OWNERS, WORKBENCH)
    body = _body()
    subject, instructions = _text(body, "subject"), _text(body, "instructions")
    data = _preview_data(actor, key, version, body)
    answer: dict[str, Any] = {}
    if subject.strip():
        answer["subject"] = _outcome(lambda: preview_subject(subject, data))
    if instructions.strip():
        answer["instructions"] = _outcome(lambda: preview_instructions(instructions, data))
    return jsonify(answer)


@bp.post("/definitions/<key>/<int:version>/preview/timer")
@bp.post("/definitions/new/preview/timer", defaults={"key": "", "version": None})
@login_required_view
def timer(key: str, version: int | None = None) -> Response:
    """{"kind": "timeDuration", "expression": "\\"P2D\\"", "start": "2027-01-12 09:00"} -> when it fires."""
    actor = require_groups(PROCESS_OWNERS, WORKBENCH)
    body = _body()
    kind, expression, start_text = _text(body, "kind"), _text(body, "expression"), _text(body, "start")
    start = _start(start_text)
    data = _preview_data(actor, key, version, body)  # an expression may compute the timer from the case
    try:
        firings = timer_firings(kind, expression, start, data)
    except PreviewFailed as exc:
        return jsonify({"ok": False, "error": translated(exc.args[0], _)})
    return jsonify(
        {"ok": True, "fires": [f.isoformat() for f in firings], "text": _fires_text(kind, firings)}
    )


def new_forms(body: Any, files: dict[str, bytes]) -> dict[str, bytes]:
    """The posted "forms": JSON schema files the panel created from a field list, each new to the bundle
    (deploy then checks them as any form; an existing form is not replaced this way).

    Raises:
        BadRequest: "forms" is not a mapping of new, plain .json file names to text.
    """
    forms = body.get("forms", {}) if isinstance(body, dict) else {}
    if not isinstance(forms, dict) or len(forms) > MAX_FORMS:
        raise BadRequest(
            _('"forms" must map at most %(count)s new form files to their JSON text', count=MAX_FORMS)
        )
    found = {}
    for name, text in forms.items():
        if not (isinstance(name, str) and _FORM_NAME.fullmatch(name) and isinstance(text, str)):
            raise BadRequest(
                _("\"forms\": '%(name)s' is not a plain .json file name with JSON text", name=str(name)[:80])
            )
        if name in files:
            raise BadRequest(
                _('"forms": %(name)s is already deployed with this version; choose it instead', name=name)
            )
        data = text.encode("utf-8")
        if len(data) > MAX_FORM_BYTES:
            raise BadRequest(
                _('"forms": %(name)s is larger than %(count)s bytes', name=name, count=MAX_FORM_BYTES)
            )
        found[name] = data
    return found


# --- helpers ----------------------------------------------------------------------------------------------


def _preview_data(actor: Actor, key: str, version: int | None, body: dict[str, Any]) -> dict[str, Any]:
    """The data of the posted "instance_id", an instance of `key` the actor may read; with "hidden_values":
    true, the newest instance of `key`'s data with its values hidden, whoever may read it; else none.

    Raises:
        BadRequest: not an id, or both an id and hidden values.  NotFound: an unknown version or instance,
        or one of another process.  Forbidden: an instance the actor may not read.
    """
    instance_id, hide = body.get("instance_id"), body.get("hidden_values", False)
    if instance_id is not None and (type(instance_id) is not int or not 0 < instance_id < 2**63):
        raise BadRequest(_('"instance_id" must be the id of an instance, or null for no data'))
    if type(hide) is not bool or (hide and instance_id is not None):
        raise BadRequest(_('"hidden_values" must be true or false, and true only without an "instance_id"'))
    with services().rt.factory() as session:
        if version is not None:
            get_definition(session, key, version)  # 404 for an unknown version
        if hide:
            # Any process owner, whatever the case's readers: nothing of the case leaves but its shape.
            newest = newest_instance_id(session, key) if key else None
            if newest is None:
                return {}
            return hidden(instance_data(services().rt, session, session.get_one(ProcessInstance, newest)))
        if instance_id is None:
            return {}
        instance = get_instance_for(session, actor, instance_id)  # 404, or 403 when not readable
        if instance.process_key != key:
            raise NotFound(_("instance %(id)s is not an instance of %(key)s", id=instance_id, key=key))
        return instance_data(services().rt, session, instance)


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest(_("post a JSON object"))
    return body


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name, "")
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise BadRequest(
            _('"%(name)s" must be text of at most %(count)s characters', name=name, count=MAX_TEXT)
        )
    return value


def _start(text: str) -> datetime:
    """The start date the owner typed, in UTC ("2027-01-12 09:00", or a day: its midnight); empty: now."""
    if not text.strip():
        return services().clock().astimezone(UTC)
    try:
        if _START.fullmatch(text.strip()):
            return datetime.fromisoformat(text.strip()).replace(tzinfo=UTC)
    except ValueError:
        pass  # 2027-02-30 has the shape but is no day
    raise BadRequest(_('"start" must be a date and time in UTC such as 2027-01-12 09:00'))


def _outcome(render: Any) -> dict[str, Any]:
    try:
        return {"ok": True, "text": render()}
    except PreviewFailed as exc:
        return {"ok": False, "error": translated(exc.args[0], _)}


def _when(moment: datetime) -> str:
    """A firing as the page writes times ("14 Jan 2027 09:00 UTC", "2027年1月14日 09:00 UTC"); `fires` keeps
    the ISO times for scripts."""
    return format_time(moment.astimezone(UTC)) + " UTC"


def _fires_text(kind: str, firings: list[datetime]) -> str:
    if not firings:
        return str(_("It never fires (zero repetitions)."))
    if kind == "timeDate":
        return str(_("Fires %(when)s, whatever the start date.", when=_when(firings[0])))
    if kind == "timeDuration":
        return str(_("Fires %(when)s for this start date.", when=_when(firings[0])))
    return str(
        _(
            "Fires %(when)s for this start date, then %(then)s.",
            when=_when(firings[0]),
            then=", ".join(_when(f) for f in firings[1:]) or _("no more"),
        )
    )
