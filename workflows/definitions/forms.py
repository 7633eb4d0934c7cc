"""Task forms: the JSON schema deployed with the diagram is the single source of fields and rules."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from jsonschema import Draft202012Validator

from workflows.errors import Invalid


def validate_form(schema: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """Check submitted data against the task's schema and return the accepted fields.

    Fields the schema does not declare are dropped, so a form cannot write arbitrary process data.

    Raises:
        Invalid: with `details["fields"]` naming each bad field and why.
    """
    if not schema:
        return {}
    declared = schema.get("properties", {})
    accepted = {k: v for k, v in data.items() if k in declared} if declared else dict(data)
    # Schema defaults fill optional fields, so diagrams can rely on e.g. `comment` being defined.
    accepted.update(
        {k: spec["default"] for k, spec in declared.items() if "default" in spec and k not in accepted}
    )
    errors: dict[str, str] = {}
    for error in Draft202012Validator(schema).iter_errors(accepted):
        if error.validator == "required":
            for name in error.validator_value:
                if name not in error.instance:
                    errors.setdefault(name, "This field is required.")
            continue
        name = str(error.absolute_path[0]) if error.absolute_path else "_form"
        errors.setdefault(name, _message(error.validator, error.message, declared.get(name, {})))
    if errors:
        listing = "; ".join(f"{k}: {v}" for k, v in sorted(errors.items()))
        raise Invalid(f"The form has errors: {listing}", details={"fields": errors})
    return accepted


def _message(validator: Any, default: str, field_schema: Mapping[str, Any]) -> str:
    if validator == "enum":
        return f"Choose one of: {', '.join(map(str, field_schema.get('enum', [])))}."
    if validator in ("minimum", "exclusiveMinimum"):
        bound = field_schema.get(validator)
        return f"Must be {'at least' if validator == 'minimum' else 'greater than'} {bound}."
    if validator == "type":
        return f"Must be a {field_schema.get('type', 'value')}."
    return default


def form_fields(schema: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The API's description of a form: [{name, type, required, options?, title?, format?}]."""
    required = set(schema.get("required", []))
    fields = []
    for name, spec in schema.get("properties", {}).items():
        field: dict[str, Any] = {
            "name": name,
            "type": spec.get("type", "string"),
            "required": name in required,
        }
        if "enum" in spec:
            field["options"] = list(spec["enum"])
        for key in ("title", "format", "description"):
            if key in spec:
                field[key] = spec[key]
        fields.append(field)
    return fields


def coerce_form_strings(schema: Mapping[str, Any], form: Mapping[str, str]) -> dict[str, Any]:
    """Turn HTML form strings into schema types (numbers as Decimal); empty inputs are left out."""
    out: dict[str, Any] = {}
    for name, spec in schema.get("properties", {}).items():
        raw = form.get(name)
        if raw is None or raw == "":
            continue
        kind = spec.get("type")
        out[name] = _coerce(raw, kind, spec)
    return out


def _coerce(raw: str, kind: Any, spec: Mapping[str, Any]) -> Any:
    try:
        if kind == "number":
            return Decimal(raw.strip())
        if kind == "integer":
            return int(raw.strip())
    except (InvalidOperation, ValueError):
        return raw  # left as text so validation reports the field as not a number
    if kind == "boolean":
        return raw.lower() in ("1", "true", "on", "yes")
    if spec.get("format") == "date":
        try:
            date.fromisoformat(raw)
        except ValueError:
            return raw
    return raw
