"""HTML form widgets from a task's JSON schema: one input per property, named exactly like the property.

An array of objects (e.g. a dispute's invoices: number, amount, reason) is a table of repeatable rows whose
inputs are named `<field>-<row>-<property>` (`invoices-0-amount`); `submitted_rows` reads them back into the
list the schema describes, dropping rows left wholly empty, so validation is the API's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _

from workflows.definitions.forms import coerce_form_strings
from workflows.errors import Invalid
from workflows.messages import translated

# Enums with this many options or fewer are radio buttons (one click); longer ones are a select.
MAX_RADIOS = 3
# Strings allowed to be longer than this get a textarea.
LONG_TEXT = 200
# Blank rows drawn under the filled ones of an array of objects (the "Add a row" button adds more).
BLANK_ROWS = 2
# Rows read from one posted array at most when its schema sets no maxItems; more is refused, not cut.
MAX_ROWS = 500


@dataclass(frozen=True)
class FormWidget:
    """What the template needs to draw one field."""

    name: str
    label: str
    kind: str  # radios | select | number | integer | date | textarea | checkbox | text
    required: bool
    description: str = ""
    options: list[str] = field(default_factory=list)
    option_labels: dict[str, str] = field(
        default_factory=dict
    )  # enum value -> its title, when the form has one
    value: str = ""
    error: str | None = None
    attrs: dict[str, str] = field(default_factory=dict)  # min, max, maxlength, minlength, pattern
    # kind "rows" (an array of objects): one list of cell widgets per row; `columns` head the table (with
    # each property's required mark); `blank_row` is the row the browser copies to add one.
    rows: list[list[FormWidget]] = field(default_factory=list)
    columns: list[FormWidget] = field(default_factory=list)
    blank_row: list[FormWidget] = field(default_factory=list)

    @property
    def checked(self) -> bool:
        return self.value.lower() in ("on", "true", "1", "yes")


def form_widgets(
    schema: Mapping[str, Any],
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    language: str = "en",
) -> list[FormWidget]:
    """Widgets for every property of `schema`, filled with `values` (or the schema's defaults), labelled in
    `language`: `title_zh`, `description_zh` and `enum_titles_zh` beside `title`, `description` and
    `enum_titles` (bpmn/README.md, "Forms"); English where the form gives no such text."""
    values, errors = values or {}, errors or {}
    required = set(schema.get("required", []))
    widgets = []
    for name, spec in schema.get("properties", {}).items():
        if object_items(spec) is not None:
            widgets.append(_rows_widget(name, spec, name in required, values, errors, language))
            continue
        raw = values.get(name, spec.get("default"))
        widgets.append(
            FormWidget(
                name=name,
                label=_label(spec, name, language),
                kind=_kind(spec),
                required=name in required,
                description=_said(spec, "description", language),
                options=[_text(o) for o in spec.get("enum", [])],
                option_labels=_option_labels(spec, language),
                value=_text(raw),
                error=errors.get(name),
                attrs=_attrs(spec),
            )
        )
    return widgets


def submitted_strings(schema: Mapping[str, Any], form: Mapping[str, str]) -> dict[str, str]:
    """The posted strings of the schema's fields; an unticked checkbox sends nothing, so it reads "false"."""
    out = {name: form[name] for name in schema.get("properties", {}) if name in form}
    for name, spec in schema.get("properties", {}).items():
        if spec.get("type") == "boolean" and "enum" not in spec:
            out.setdefault(name, "false")
    return out


def object_items(spec: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The item schema of an array of objects with declared properties (drawn as rows), else None."""
    items = spec.get("items")
    if spec.get("type") != "array" or not isinstance(items, Mapping) or items.get("type") != "object":
        return None
    return items if isinstance(items.get("properties"), Mapping) and items["properties"] else None


def submitted_rows(schema: Mapping[str, Any], form: Mapping[str, str]) -> dict[str, list[dict[str, Any]]]:
    """The posted rows of every array-of-objects field, typed like coerce_form_strings types a field.

    A field with no filled row is left out (a required one is then reported as missing).

    Raises:
        Invalid: more rows than the schema's maxItems (or MAX_ROWS) were posted.
    """
    out = {}
    for name, spec in schema.get("properties", {}).items():
        items = object_items(spec)
        if items is None:
            continue
        rows = _posted_rows(name, items, form)
        limit = int(spec.get("maxItems", MAX_ROWS))
        if len(rows) > limit:
            # Flask-Babel's _: the page's language already (a task or start form page posts this).
            message = _("At most %(limit)s rows; %(count)s were filled.", limit=limit, count=len(rows))
            sentence = _("The form has errors: %(fields)s", fields=f"{name}: {message}")
            raise Invalid(sentence, details={"fields": {name: message}})
        if rows:
            out[name] = [coerce_form_strings(items, row) for row in rows]
    return out


def _posted_rows(name: str, items: Mapping[str, Any], form: Mapping[str, Any]) -> list[dict[str, str]]:
    """The filled rows of one array field in the order of their row numbers (wholly empty rows dropped)."""
    pattern = re.compile(rf"{re.escape(name)}-(\d{{1,6}})-(.+)")
    properties = items["properties"]
    by_index: dict[int, dict[str, str]] = {}
    for key in form:
        found = pattern.fullmatch(key)
        if found and found.group(2) in properties:
            value = form[key]
            by_index.setdefault(int(found.group(1)), {})[found.group(2)] = (
                value if isinstance(value, str) else ""
            )
    rows = [by_index[i] for i in sorted(by_index)]
    return [row for row in rows if any(v.strip() for v in row.values())]


def _rows_widget(
    name: str,
    spec: Mapping[str, Any],
    required: bool,
    values: Mapping[str, Any],
    errors: Mapping[str, str],
    language: str = "en",
) -> FormWidget:
    items = object_items(spec)
    assert items is not None
    given = values.get(name, spec.get("default"))
    if isinstance(given, list):  # prefilled data (a list of objects), not a posted form
        rows = [{k: _text(v) for k, v in r.items()} for r in given if isinstance(r, Mapping)]
    else:
        rows = _posted_rows(name, items, values)
    limit = int(spec.get("maxItems", MAX_ROWS))
    count = min(limit, max(len(rows), int(spec.get("minItems", 1))) + BLANK_ROWS)
    cell_errors = _cell_errors(name, errors)
    return FormWidget(
        name=name,
        label=_label(spec, name, language),
        kind="rows",
        required=required,
        description=_said(spec, "description", language),
        error=errors.get(name),
        attrs={"data-max-rows": str(limit)},
        rows=[
            _cells(name, items, index, rows[index] if index < len(rows) else {}, cell_errors, language)
            for index in range(count)
        ],
        columns=[
            replace(c, required=c.name.rsplit("-", 1)[1] in set(items.get("required", [])))
            for c in _cells(name, items, None, {}, {}, language)
        ],
        blank_row=_cells(name, items, None, {}, {}, language),
    )


def _cells(
    name: str,
    items: Mapping[str, Any],
    index: int | None,
    row: Mapping[str, str],
    cell_errors: Mapping[tuple[int, str], str],
    language: str = "en",
) -> list[FormWidget]:
    """One row's inputs; with `index` None, the blank row the browser copies (`__row__` is its number).

    No cell is `required` in the browser: a row left empty is ignored; the server reports a half-filled one.
    """
    number = "__row__" if index is None else str(index)
    cells = []
    for prop, spec in items["properties"].items():
        kind = _kind(spec)
        cells.append(
            FormWidget(
                name=f"{name}-{number}-{prop}",
                label=_label(spec, prop, language),
                kind="select" if kind == "radios" else kind,  # radios do not fit a table cell
                required=False,
                description=_said(spec, "description", language),
                options=[_text(o) for o in spec.get("enum", [])],
                option_labels=_option_labels(spec, language),
                value=row.get(prop, "") if index is not None else "",
                error=cell_errors.get((index, prop)) if index is not None else None,
                attrs=_attrs(spec),
            )
        )
    return cells


def _cell_errors(name: str, errors: Mapping[str, str]) -> dict[tuple[int, str], str]:
    """Cell errors of one rows field: "/0/amount: Must be greater than 0." under the field (validate_form),
    or `invoices[0].amount` (a service task naming the line, e.g. dispute.open) as a key or in the text."""
    cells = {}
    # The path's colon is ASCII in English and full-width in Chinese ("/0/amount：必须大于 0。").
    found = re.fullmatch(r"/(\d+)/([^/:：]+)(?:: |：)(.+)", errors.get(name, "").strip(), re.DOTALL)
    if found:
        cells[(int(found.group(1)), found.group(2))] = found.group(3)
    line = re.compile(rf"{re.escape(name)}\[(\d{{1,6}})\]\.(\w+)")
    for key, message in errors.items():
        at = line.fullmatch(key)
        if at:
            cells.setdefault((int(at.group(1)), at.group(2)), message)
    # A service task's refusal reaches a start form as one sentence naming its lines (": invoices[0].number:
    # Customer 1 has no invoice X.; invoices[1].amount: ..."): the engine keeps no field details.
    prefix = re.escape(name)
    named = re.compile(rf"{prefix}\[(\d{{1,6}})\]\.(\w+): (.+?)(?=; {prefix}\[\d|$)", re.DOTALL)
    for at in named.finditer(errors.get("_form", "")):
        cells.setdefault((int(at.group(1)), at.group(2)), at.group(3).strip())
    return cells


def field_errors(exc: Invalid) -> dict[str, str]:
    """Field name -> message of a refused form, in the page's language where the form's validation wrote it
    (validate_form's sentences); a refusal naming no field is a form-level error."""
    fields = exc.details.get("fields")
    if isinstance(fields, Mapping) and fields:
        return {str(name): translated_problem(message) for name, message in fields.items()}
    return {"_form": translated_problem(exc.message)}


def translated_problem(message: str) -> str:
    """One of validate_form's sentences (a workflows.messages Text) in the page's language; any other sentence
    as it is."""
    return translated(message, _)


def form_level_errors(schema: Mapping[str, Any], errors: Mapping[str, str]) -> list[str]:
    """Errors that belong to no field of the form (e.g. `_form`), shown above it."""
    names = set(schema.get("properties", {}))
    return [message for name, message in errors.items() if name not in names]


def _said(spec: Mapping[str, Any], keyword: str, language: str) -> str:
    """A text keyword of the schema in `language` (`title_zh`), else the keyword itself (English)."""
    translated = spec.get(f"{keyword}_{language}") if language != "en" else None
    if isinstance(translated, str) and translated.strip():
        return translated
    return str(spec.get(keyword, ""))


def _label(spec: Mapping[str, Any], name: str, language: str) -> str:
    return _said(spec, "title", language) or name.replace("_", " ").capitalize()


def _option_labels(spec: Mapping[str, Any], language: str) -> dict[str, str]:
    """Enum value -> title in `language` (`enum_titles_zh`), else the English `enum_titles`, else none."""
    labels: dict[str, str] = {}
    for keyword in ("enum_titles", f"enum_titles_{language}") if language != "en" else ("enum_titles",):
        given = spec.get(keyword)
        if isinstance(given, Mapping):
            labels.update({_text(k): str(v) for k, v in given.items() if isinstance(v, str) and v.strip()})
    return labels


def _kind(spec: Mapping[str, Any]) -> str:
    kind = spec.get("type")
    if "enum" in spec:
        return "radios" if len(spec["enum"]) <= MAX_RADIOS else "select"
    if kind == "boolean":
        return "checkbox"
    if kind == "integer":
        return "integer"
    if kind == "number":
        return "number"
    if spec.get("format") == "date":
        return "date"
    if spec.get("format") == "textarea" or int(spec.get("maxLength", 0)) > LONG_TEXT:
        return "textarea"
    return "text"


def _attrs(spec: Mapping[str, Any]) -> dict[str, str]:
    attrs = {}
    for key, attr in (
        ("minimum", "min"),
        ("maximum", "max"),
        ("maxLength", "maxlength"),
        ("minLength", "minlength"),
        ("pattern", "pattern"),  # the browser ignores a pattern it cannot compile; the server still checks
    ):
        if key in spec:
            attrs[attr] = _text(spec[key])
    return attrs


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else ""
    if isinstance(value, float):
        return str(Decimal(str(value)))
    return str(value)
