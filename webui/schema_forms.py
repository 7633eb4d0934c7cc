"""HTML form widgets from a task's JSON schema: one input per property, named exactly like the property."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from workflows.errors import Invalid

# Enums with this many options or fewer are radio buttons (one click); longer ones are a select.
MAX_RADIOS = 3
# Strings allowed to be longer than this get a textarea.
LONG_TEXT = 200


@dataclass(frozen=True)
class FormWidget:
    """What the template needs to draw one field."""

    name: str
    label: str
    kind: str  # radios | select | number | integer | date | textarea | checkbox | text
    required: bool
    description: str = ""
    options: list[str] = field(default_factory=list)
    value: str = ""
    error: str | None = None
    attrs: dict[str, str] = field(default_factory=dict)  # min, max, maxlength, minlength, pattern

    @property
    def checked(self) -> bool:
        return self.value.lower() in ("on", "true", "1", "yes")


def form_widgets(
    schema: Mapping[str, Any],
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
) -> list[FormWidget]:
    """Widgets for every property of `schema`, filled with `values` (or the schema's defaults)."""
    values, errors = values or {}, errors or {}
    required = set(schema.get("required", []))
    widgets = []
    for name, spec in schema.get("properties", {}).items():
        raw = values.get(name, spec.get("default"))
        widgets.append(
            FormWidget(
                name=name,
                label=str(spec.get("title") or name.replace("_", " ").capitalize()),
                kind=_kind(spec),
                required=name in required,
                description=str(spec.get("description", "")),
                options=[_text(o) for o in spec.get("enum", [])],
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


def field_errors(exc: Invalid) -> dict[str, str]:
    """Field name -> message of a refused form; a refusal naming no field is a form-level error."""
    fields = exc.details.get("fields")
    if isinstance(fields, Mapping) and fields:
        return {str(name): str(message) for name, message in fields.items()}
    return {"_form": exc.message}


def form_level_errors(schema: Mapping[str, Any], errors: Mapping[str, str]) -> list[str]:
    """Errors that belong to no field of the form (e.g. `_form`), shown above it."""
    names = set(schema.get("properties", {}))
    return [message for name, message in errors.items() if name not in names]


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
