"""What a reader is told of a failed step. An incident's message (and the instance_failed event that
repeats it) is the handler's or the engine's own text: it can hold what only an administrator should read
(a database address with its password, a server path, a query). An administrator reads it, in their
language where it is one of our sentences; anyone else who may read the instance (its starter, a task's
group) reads that the step failed and that an administrator can see the details."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from webui.stored_sentences import said_stored
from workflows.messages import _
from workflows.users import Actor

FAILED = "instance_failed"  # the audit action whose detail repeats the incident's message
# A Text: the page's history says it in the reader's language as it says the message it stands for.
KEPT_BACK = _("The step failed; an administrator can see the details.")


def incident_said(message: object, admin: bool) -> str:
    """An incident's message as its reader reads it: the message itself to an administrator (said in the
    page's language when it is ours), a sentence without it to anyone else."""
    return said_stored(message if admin else KEPT_BACK)


def detail_as_read(action: str, detail: Any, admin: bool) -> Any:
    """An audit event's detail as its reader may read it: an instance_failed event's without its message
    (KEPT_BACK instead) for anyone but an administrator; the status change and the element stay."""
    if admin or action != FAILED or not isinstance(detail, Mapping) or "message" not in detail:
        return detail
    return {**detail, "message": KEPT_BACK}


def instance_as_read(found: dict[str, Any], reader: Actor) -> dict[str, Any]:
    """instance_json's view (the API's answer) as `reader` may read it, in the request's language where
    it is said for them: its incidents' messages and its failure events' texts (in place)."""
    admin = reader.is_admin
    for incident in found.get("incidents", []):
        incident["message"] = incident_said(incident["message"], admin)
    for event in found.get("events", []):
        detail = detail_as_read(event.get("action", ""), event.get("detail"), admin)
        if detail is not event.get("detail"):
            event["detail"] = {**detail, "message": said_stored(KEPT_BACK)}
    return found
