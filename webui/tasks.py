"""/tasks/ID: the case behind a task (data, history, diagram) and its form; submitting completes it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from webui.auth import login_required_view, web_actor
from webui.diagram_names import process_label, task_text, task_title
from webui.diagrams import instance_markers
from webui.formatting import case_panels
from webui.i18n import current_language
from webui.input_checks import MAX_ID, parse_id
from webui.instruction_sentences import said_instructions
from webui.schema_forms import (
    field_errors,
    form_level_errors,
    form_widgets,
    submitted_rows,
    submitted_strings,
)
from webui.services import services
from workflows.credit.customer_views import CustomerPanel, customer_panel
from workflows.credit.roles import CUSTOMER_READERS, SUPPLIER_READERS
from workflows.credit.supplier_views import SupplierPanel, supplier_panel
from workflows.definitions.forms import coerce_form_strings
from workflows.engine import runner
from workflows.errors import Conflict, Forbidden, Invalid
from workflows.inbox import get_task_for
from workflows.instances import task_case
from workflows.store.models import InboxItem, ProcessInstance, TaskStatus
from workflows.store.shown_json import readable_or
from workflows.users import Actor

bp = Blueprint("tasks", __name__)

# The task page shows the newest history entries; the instance page pages through all of them.
RECENT_EVENTS = 25


@bp.get("/tasks/<int:task_id>")
@login_required_view
def show(task_id: int) -> tuple[str, int]:
    return _page(task_id)


@bp.post("/tasks/<int:task_id>")
@login_required_view
def submit(task_id: int) -> Response | tuple[str, int]:
    svc = services()
    actor = web_actor()
    with svc.rt.factory() as session:
        # A form no one can read (a hand edit) has no fields here; the completion refuses it (validate_form).
        schema = readable_or(get_task_for(session, actor, task_id).form_schema, {})
    try:
        data = coerce_form_strings(schema, submitted_strings(schema, request.form))
        data.update(submitted_rows(schema, request.form))  # arrays of objects: repeatable rows
        item = runner.complete_task(svc.rt, task_id, data, actor=actor, now=svc.clock())
    except Invalid as exc:
        return _page(task_id, values=request.form, errors=field_errors(exc), status=422)
    except (Forbidden, Conflict) as exc:
        # Four-eyes refusals and tasks completed meanwhile: the sentence says what happened and who acted.
        return _page(task_id, values=request.form, refusal=exc.message, status=exc.status)
    svc.nudge()  # the step may have queued e-mail or armed a timer
    flash(
        _(
            "Done: “%(title)s” (%(subject)s) is completed.",
            title=task_title(item),
            subject=task_text(item, "subject") or process_label(item.instance_id, item.process_key),
        )
    )
    return redirect(url_for("inbox.inbox"))


def _record_id(value: Any) -> int | None:
    """An id from case data: an integer, or a string of digits (start data typed by hand)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 1 <= value <= MAX_ID else None
    return parse_id(value)


@dataclass
class CaseContext:
    """Who the case is about: the customer's or supplier's panel read from their files now, or (for cases
    naming neither, or one the user may not read) the task's own data about them, by panel heading."""

    customer: CustomerPanel | None = None
    supplier: SupplierPanel | None = None
    missing: list[str] = field(default_factory=list)  # sentences about ids that name no record
    generic: dict[str, dict[str, Any]] = field(default_factory=dict)


def case_context(
    session: Session, actor: Actor, instance: ProcessInstance, item: InboxItem, today: date
) -> CaseContext:
    """The case panels of a task page."""
    found = CaseContext()
    customer_id = _record_id(instance.data.get("customer_id"))
    if customer_id is not None and actor.in_any(CUSTOMER_READERS):
        found.customer = customer_panel(session, customer_id, today)
        if found.customer is None:
            found.missing.append(
                _("This case names customer %(id)s, who is not in the customer file.", id=customer_id)
            )
    contract_id = _record_id(instance.data.get("contract_id"))
    if contract_id is not None and actor.in_any(SUPPLIER_READERS):
        found.supplier = supplier_panel(session, contract_id)
        if found.supplier is None:
            found.missing.append(_("This case names contract %(id)s, which does not exist.", id=contract_id))
    if found.customer is None and found.supplier is None:
        found.generic = case_panels(item.context)
    return found


def _page(
    task_id: int,
    *,
    values: Mapping[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    refusal: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    svc = services()
    actor = web_actor()
    now = svc.clock()
    errors = errors or {}
    with svc.rt.factory() as session:
        found = task_case(session, actor, task_id, recent_events=RECENT_EVENTS)
        item, instance = found.task, found.instance
        is_open = item.status == TaskStatus.OPEN
        return render_template(
            "tasks/show.html",
            t=item,
            instance=instance,
            now=now,
            # Placeholders were filled (sandboxed) when the task was created; the page escapes the text.
            instructions=said_instructions(
                task_text(item, "instructions"), instance.process_key, instance.data
            ),
            case=case_context(session, actor, instance, item, now.date()),
            events=found.events,
            task_titles=found.task_titles,
            markers=instance_markers(found.path, item).as_dict(),
            widgets=form_widgets(readable_or(item.form_schema, {}), values, errors, current_language()),
            form_errors=form_level_errors(readable_or(item.form_schema, {}), errors),
            refusal=refusal,
            can_submit=is_open and item.assignee in (None, actor.username),
            can_claim=is_open and item.assignee is None,
            can_unclaim=is_open
            and item.assignee is not None
            and (item.assignee == actor.username or actor.is_admin),
        ), status
