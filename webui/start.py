"""/start: start a deployed process from the web, with its start form when the deployment has one.

Start-form fields named `customer_id` or `contract_id` are pickers: a select of what the user may read, or,
for long lists, a search box whose htmx results set the hidden id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from webui.auth import login_required_view, require_groups, web_actor
from webui.diagram_names import definition_name
from webui.i18n import current_language
from webui.input_checks import check_business_key, loads_checked, parse_id
from webui.schema_forms import (
    FormWidget,
    field_errors,
    form_level_errors,
    form_widgets,
    object_items,
    submitted_rows,
)
from webui.services import services
from workflows.credit.contracts import list_contracts
from workflows.credit.customers import list_customers
from workflows.credit.models import Contract, Customer
from workflows.credit.roles import CUSTOMER_READERS, SUPPLIER_READERS
from workflows.credit.supplier_views import supplier_names
from workflows.definitions.display_names import ENGLISH
from workflows.definitions.forms import coerce_form_strings, validate_form
from workflows.definitions.start_rights import may_start, require_may_start
from workflows.definitions.versions import latest_definition, latest_definitions
from workflows.engine import runner
from workflows.errors import Invalid, NotFound, message_of
from workflows.store.models import ProcessDefinition
from workflows.users import Actor

bp = Blueprint("start", __name__)

# A deployment may carry `<process key>_start.json`, the JSON schema of its start form.
# Up to this many choices a picker is a plain select; beyond, a search box. The choices are one page of
# the list, so this stays at most workflows.store.paging.MAX_PER_PAGE.
MAX_SELECT_CHOICES = 200
# A picker search shows this many matches at most.
PICK_RESULTS = 20
# Schema types a form can only carry as JSON text (an array of objects with properties is rows instead:
# webui/schema_forms.py).
JSON_TYPES = ("object", "array")


# --- pickers -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PickerSource:
    """Where a picker's choices come from and who may read them."""

    noun: str
    readers: frozenset[str]
    # The first N matches by label (all records when the text is None) and how many match in all.
    search: Callable[[Session, str | None, int], tuple[list[tuple[int, str]], int]]
    label: Callable[[Session, int], str | None]


@dataclass(frozen=True)
class Picker:
    """A picker on a start form: `choices` for a select, or None for the search box."""

    field: str
    noun: str
    choices: list[tuple[int, str]] | None
    current: tuple[int, str] | None


def _customer_label(customer: Customer) -> str:
    return f"{customer.name} ({customer.external_id})" if customer.external_id else customer.name


def _customer_search(session: Session, text: str | None, limit: int) -> tuple[list[tuple[int, str]], int]:
    rows, total = list_customers(session, text=text, per_page=limit)
    return [(c.id, _customer_label(c)) for c in rows], total


def _customer_by_id(session: Session, customer_id: int) -> str | None:
    customer = session.get(Customer, customer_id)
    return _customer_label(customer) if customer else None


def _contract_labels(session: Session, contracts: list[Contract]) -> list[tuple[int, str]]:
    names = supplier_names(session, [c.supplier_id for c in contracts])
    return [(c.id, f"{c.number} · {names.get(c.supplier_id, '')}") for c in contracts]


def _contract_search(session: Session, text: str | None, limit: int) -> tuple[list[tuple[int, str]], int]:
    rows, total = list_contracts(session, text=text, per_page=limit)
    return _contract_labels(session, rows), total


def _contract_by_id(session: Session, contract_id: int) -> str | None:
    contract = session.get(Contract, contract_id)
    return _contract_labels(session, [contract])[0][1] if contract else None


PICKERS: dict[str, PickerSource] = {
    "customer_id": PickerSource(
        noun="customer", readers=CUSTOMER_READERS, search=_customer_search, label=_customer_by_id
    ),
    "contract_id": PickerSource(
        noun="contract", readers=SUPPLIER_READERS, search=_contract_search, label=_contract_by_id
    ),
}


def _pickers(session: Session, actor: Actor, widgets: list[FormWidget]) -> dict[str, Picker]:
    """Pickers for the form's id fields whose records the actor may read (others stay number inputs)."""
    pickers = {}
    for widget in widgets:
        source = PICKERS.get(widget.name)
        if source is None or not actor.in_any(source.readers):
            continue
        chosen = parse_id(widget.value)
        label = source.label(session, chosen) if chosen is not None else None
        first, total = source.search(session, None, MAX_SELECT_CHOICES)
        pickers[widget.name] = Picker(
            field=widget.name,
            noun=source.noun,
            choices=None if total > MAX_SELECT_CHOICES else first,
            current=(chosen, label) if chosen is not None and label is not None else None,
        )
    return pickers


def _picker_source(field: str) -> PickerSource:
    """The picker of a field, for a user who may read its records.

    Raises:
        NotFound: no such picker.  Forbidden: the user may not read its records.
    """
    source = PICKERS.get(field)
    if source is None:
        raise NotFound(
            _(
                "there is no picker for '%(field)s'; pickers exist for %(pickers)s",
                field=field,
                pickers=", ".join(PICKERS),
            )
        )
    require_groups(
        source.readers, _("pick a customer") if source.noun == "customer" else _("pick a contract")
    )
    return source


@bp.get("/start/pick/<field>")
@login_required_view
def pick(field: str) -> str:
    """The search picker's matches (an htmx fragment); choosing one asks for `choose`."""
    source = _picker_source(field)
    text = (request.args.get(f"{field}_search") or "").strip()
    with services().rt.factory() as session:
        matches, total = source.search(session, text, PICK_RESULTS) if text else ([], 0)
    return render_template(
        "start/_pick_results.html",
        field=field,
        noun=source.noun,
        matches=matches,
        more=max(0, total - len(matches)),
        searched=bool(text),
    )


@bp.get("/start/pick/<field>/<int:item_id>")
@login_required_view
def choose(field: str, item_id: int) -> str:
    """The picker's chosen record: the hidden id input and its label (an htmx fragment)."""
    source = _picker_source(field)
    with services().rt.factory() as session:
        label = source.label(session, item_id)
    if label is None:
        if source.noun == "customer":
            raise NotFound(_("customer %(customer_id)s does not exist", customer_id=item_id))
        raise NotFound(_("contract %(contract_id)s does not exist", contract_id=item_id))
    return render_template("start/_pick_chosen.html", field=field, noun=source.noun, current=(item_id, label))


# --- starting ------------------------------------------------------------------------------------------


def startable_definitions(session: Session, actor: Actor) -> list[ProcessDefinition]:
    """The latest version of every process the actor may start, by key."""
    return [d for d in latest_definitions(session) if may_start(actor, d)]


@bp.get("/start")
@login_required_view
def index() -> str:
    with services().rt.factory() as session:
        return render_template("start/index.html", definitions=startable_definitions(session, web_actor()))


@bp.route("/start/<key>", methods=["GET", "POST"])
@login_required_view
def start(key: str) -> str | Response | tuple[str, int]:
    svc = services()
    actor = web_actor()
    with svc.rt.factory() as session:
        definition = latest_definition(session, key)
        assert definition is not None
        require_may_start(actor, definition)
        schema = svc.rt.start_schema(session, definition)
    if request.method == "GET":
        # `?customer_id=7` (from a customer page) or `?contract_id=3` preselects the picker.
        prefill = {name: request.args[name] for name in PICKERS if parse_id(request.args.get(name))}
        return _form(actor, definition, schema, prefill, {})
    business_key = request.form.get("business_key", "").strip() or None
    try:
        check_business_key(business_key)
        data = _start_data(schema)
        # The first steps may refuse the data too (e.g. an invoice that is not the customer's): nothing is
        # kept, and the form comes back with the fields they name.
        instance = runner.start_instance(
            svc.rt, key, data, actor=actor, now=svc.clock(), business_key=business_key
        )
    except Invalid as exc:
        return _form(actor, definition, schema, request.form, field_errors(exc), status=422)
    svc.nudge()  # the first steps may have queued e-mail or armed a timer
    flash(
        _(
            "Started %(key)s #%(id)s (version %(version)s).",
            # The key in English (what the CLI and the API name); the diagram's name on other pages.
            key=key if current_language() == ENGLISH else definition_name(definition),
            id=instance.id,
            version=instance.version,
        )
    )
    return redirect(url_for("instances.show", instance_id=instance.id))


def _json_fields(schema: Mapping[str, Any]) -> list[str]:
    return [
        name
        for name, spec in schema.get("properties", {}).items()
        if spec.get("type") in JSON_TYPES and object_items(spec) is None
    ]


def _start_data(schema: dict[str, Any]) -> dict[str, Any]:
    """The start data from the schema form, or from the JSON text area when there is no schema.

    Raises:
        Invalid: with the bad fields.
    """
    if schema:
        data = coerce_form_strings(schema, request.form)
        data.update(submitted_rows(schema, request.form))
        errors: dict[str, str] = {}
        for name in _json_fields(schema):
            if name in data:
                try:
                    data[name] = loads_checked(data[name])
                except ValueError as exc:
                    errors[name] = _("Not valid JSON: %(problem)s", problem=message_of(exc))
        if errors:
            raise Invalid(_("The start form has errors."), details={"fields": errors})
        return validate_form(schema, data)
    raw = request.form.get("data", "").strip() or "{}"
    try:
        data = loads_checked(raw)
    except ValueError as exc:
        raise Invalid(
            _("The start data is not JSON."),
            details={"fields": {"data": _("Not valid JSON: %(problem)s", problem=message_of(exc))}},
        ) from exc
    if not isinstance(data, dict):
        raise Invalid(
            _("The start data must be a JSON object."),
            details={"fields": {"data": _('Write a JSON object, e.g. {"customer_id": 1}.')}},
        )
    return data


def _form(
    actor: Actor,
    definition: ProcessDefinition,
    schema: dict[str, Any],
    values: Any,
    errors: dict[str, str],
    status: int = 200,
) -> tuple[str, int]:
    json_fields = _json_fields(schema)
    # Objects and lists are typed as JSON text; the description says what they hold.
    widgets = [
        replace(w, kind="textarea") if w.name in json_fields else w
        for w in form_widgets(schema, values, errors, current_language())
    ]
    with services().rt.factory() as session:
        pickers = _pickers(session, actor, widgets)
    return render_template(
        "start/form.html",
        definition=definition,
        title=str(_zh_title(schema) or schema.get("title") or definition.name or definition.process_key),
        schema=schema,
        widgets=widgets,
        pickers=pickers,
        form_errors=form_level_errors(schema, errors) if schema else [],
        errors=errors,
        business_key=values.get("business_key", ""),
        data_text=values.get("data", "{}"),
    ), status


def _zh_title(schema: dict[str, Any]) -> str | None:
    """The start form's title in the page's language (`title_zh`), when it gives one."""
    language = current_language()
    translated = schema.get(f"title_{language}") if language != "en" else None
    return translated if isinstance(translated, str) and translated.strip() else None
