"""Task forms: the JSON schema deployed with the diagram is the single source of fields and rules."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

import re2
from jsonschema import Draft202012Validator, ValidationError, validators
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource, Unresolvable

from workflows.errors import Conflict, Invalid, field_listing
from workflows.languages import LANGUAGES
from workflows.messages import Text, Worded, _
from workflows.money import parse_money
from workflows.process_data import check_process_data

# A number field whose schema says `"format": "money"` also takes decimal strings ("1800000.00", as the API
# writes amounts) and arrives in process data as a Decimal with two places; see money.parse_money.
MONEY_FORMAT = "money"


def compile_pattern(pattern: str) -> Any:
    """A form's `pattern` compiled by RE2, which matches in linear time (no catastrophic backtracking).

    Raises:
        re2.error: RE2 cannot compile it (back-references, look-arounds, huge repetitions).
    """
    return _compile_pattern(pattern)


@functools.lru_cache(maxsize=1024)
def _compile_pattern(pattern: str) -> Any:
    options = re2.Options()
    options.log_errors = False  # a refused pattern is reported to the deployer, not logged to stderr
    return re2.compile(pattern, options)


# jsonschema's `pattern` and `patternProperties` use `re`: `^(a+)+$` against "a" * 28 + "!" took 8.9 s there.
def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "string"):
        return
    compiled = _compiled_or_none(pattern)
    if compiled is None:
        yield _unusable_pattern(pattern)
    elif compiled.search(instance) is None:
        yield ValidationError(_("'%(value)s' does not match '%(pattern)s'", value=instance, pattern=pattern))


def _pattern_properties(
    validator: Any, patterns: Mapping[str, Any], instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        compiled = _compiled_or_none(pattern)
        if compiled is None:
            yield _unusable_pattern(pattern)
            continue
        for key, value in instance.items():
            if compiled.search(key) is not None:
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _compiled_or_none(pattern: str) -> Any:
    try:
        return compile_pattern(pattern)
    except re2.error:  # deploy refuses these; only a form deployed before that check gets here
        return None


def _unusable_pattern(pattern: str) -> ValidationError:
    return ValidationError(
        _("the form's pattern '%(pattern)s' cannot be checked; deploy a fixed form", pattern=pattern)
    )


def _multiple_of(validator: Any, divisor: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    # Money arrives as a Decimal, and jsonschema divides it by a float divisor such as 0.01 (TypeError, a
    # 500 on every submission); fractions of both as written are exact and cannot overflow.
    if isinstance(instance, Decimal) and isinstance(divisor, float) and validator.is_type(instance, "number"):
        if (Fraction(instance) / Fraction(repr(divisor))).denominator != 1:
            yield ValidationError(
                _("%(value)s is not a multiple of %(divisor)s", value=instance, divisor=divisor)
            )
        return
    yield from _MULTIPLE_OF(validator, divisor, instance, schema)


_MULTIPLE_OF = Draft202012Validator.VALIDATORS["multipleOf"]
_FormValidator = validators.extend(
    Draft202012Validator,
    {"pattern": _pattern, "patternProperties": _pattern_properties, "multipleOf": _multiple_of},
)


def _refuse_retrieval(uri: str) -> Resource[Any]:
    # Deploy allows only references inside the form or to forms of its deployment (bundled into the schema
    # by versions.form_schema); nothing is ever fetched, so a form cannot make the server read a URL or file.
    raise NoSuchResource(ref=uri)  # type: ignore[call-arg]


NO_RETRIEVAL: Registry[Any] = Registry(retrieve=_refuse_retrieval)  # type: ignore[call-arg]


def validate_form(schema: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """Check submitted data against the task's schema and return the accepted fields.

    Fields the schema does not declare are dropped, so a form cannot write arbitrary process data.

    Raises:
        Invalid: with `details["fields"]` naming each bad field and why; Conflict: a form no one can read.
    """
    if not schema:
        return {}
    if not isinstance(schema, Mapping):  # stored JSON no one can read (shown_json.Unreadable, a hand edit)
        raise Conflict(
            _(
                "This task's form cannot be read, so no input can be checked against it; an administrator "
                "must repair the task first."
            )
        )
    declared = schema.get("properties", {})
    accepted = {k: v for k, v in data.items() if k in declared} if declared else dict(data)
    # Schema defaults fill optional fields, so diagrams can rely on e.g. `comment` being defined.
    accepted.update(
        {k: spec["default"] for k, spec in declared.items() if "default" in spec and k not in accepted}
    )
    check_process_data(accepted, "The form")
    errors: dict[
        str, str
    ] = {}  # the sentences are Texts: the web UI and the API say them in the reader's language
    accepted = _parse_money_fields(schema, accepted, errors)
    try:
        for error in _FormValidator(schema, registry=NO_RETRIEVAL).iter_errors(accepted):
            if error.validator == "required" and not error.absolute_path:
                for name in error.validator_value:
                    if name not in error.instance:
                        errors.setdefault(name, _("This field is required."))
                continue
            if error.validator == "required":  # inside a field (a row of an array): under the field's name
                inner = "".join(f"/{part}" for part in list(error.absolute_path)[1:])
                missing = [n for n in error.validator_value if n not in error.instance]
                required = _(
                    "%(where)s: %(problem)s",
                    where=f"{inner}/{missing[0]}",
                    problem=_("This field is required."),
                )
                errors.setdefault(str(error.absolute_path[0]), required)
                continue
            name = str(error.absolute_path[0]) if error.absolute_path else "_form"
            errors.setdefault(name, _message(error))
    except (
        RecursionError
    ) as exc:  # deploy refuses such loops; only a form deployed before that check gets here
        message = _("the form refers to itself in a loop; deploy a fixed form")
        raise Invalid(
            _("The form cannot be checked: %(problem)s", problem=message),
            details={"fields": {"_form": message}},
        ) from exc
    except Unresolvable as exc:  # deploy refuses these; only a form deployed before that check gets here
        message = _(
            "the form refers to '%(ref)s', which is not part of its deployment; deploy a fixed form",
            ref=exc.ref,
        )
        raise Invalid(
            _("The form cannot be checked: %(problem)s", problem=message),
            details={"fields": {"_form": message}},
        ) from exc
    if errors:
        # Each field's sentence stays a Text inside the listing, so the API says it in the caller's language.
        listing = field_listing(dict(sorted(errors.items())))
        raise Invalid(_("The form has errors: %(fields)s", fields=listing), details={"fields": errors})
    return accepted


def _parse_money_fields(
    schema: Mapping[str, Any], data: dict[str, Any], errors: dict[str, str]
) -> dict[str, Any]:
    """The data with every money field (top level, nested objects, array items) parsed to a Decimal.

    A bad amount is reported under its top-level field name, with the path inside it when nested.
    """
    out = dict(data)
    for name, field_schema in schema.get("properties", {}).items():
        if name in out and isinstance(field_schema, Mapping):
            try:
                out[name] = _parse_money_value(field_schema, out[name], "")
            except ValueError as exc:
                errors.setdefault(name, _sentence(exc))
    return out


def _parse_money_value(schema: Mapping[str, Any], value: Any, path: str) -> Any:
    if schema.get("format") == MONEY_FORMAT:
        try:
            return parse_money(value)
        except ValueError as exc:
            if not path:
                raise
            raise ValueError(_("%(where)s: %(problem)s", where=path, problem=_sentence(exc))) from exc
    properties, items = schema.get("properties"), schema.get("items")
    if isinstance(value, dict) and isinstance(properties, Mapping):
        return {
            key: _parse_money_value(properties[key], item, f"{path}/{key}")
            if isinstance(properties.get(key), Mapping)
            else item
            for key, item in value.items()
        }
    if isinstance(value, list) and isinstance(items, Mapping):
        return [_parse_money_value(items, item, f"{path}/{index}") for index, item in enumerate(value)]
    return value


def _sentence(exc: ValueError) -> str:
    """The sentence of a ValueError, a Text when it was raised with one (so it is still translated)."""
    said = exc.args[0] if len(exc.args) == 1 else None
    return said if isinstance(said, Text) else str(exc)


# JSON Schema's types with their article: "Must be an integer." (not jsonschema's "a integer").
_TYPES = {
    "string": _("a string"),
    "number": _("a number"),
    "integer": _("an integer"),
    "boolean": _("a boolean"),
    "object": _("an object"),
    "array": _("an array"),
    "null": _("null"),
}
# A bound of the failing (sub)schema: the sentence says it with the schema's value.
_BOUNDS = {
    "minimum": _("Must be at least %(value)s."),
    "exclusiveMinimum": _("Must be greater than %(value)s."),
    "maximum": _("Must be at most %(value)s."),
    "exclusiveMaximum": _("Must be less than %(value)s."),
    "minLength": _("Must have at least %(value)s characters."),
    "maxLength": _("Must have at most %(value)s characters."),
    "minItems": _("Must have at least %(value)s entries."),
    "maxItems": _("Must have at most %(value)s entries."),
}


def _message(error: ValidationError) -> str:
    """A sentence for one field error; the bound or options come from the failing (sub)schema itself."""
    validator, value = error.validator, error.validator_value
    text: str
    if validator == "enum":
        text = _("Choose one of: %(options)s.", options=_choices(value, error.schema))
    elif validator in _BOUNDS:
        text = Text(_BOUNDS[str(validator)].msgid, value=value)
    elif validator == "type":
        kinds = [value] if isinstance(value, str) else list(value)
        named = [_TYPES.get(kind, kind) for kind in kinds]
        either = named[0]
        for other in named[1:]:
            either = _("%(one)s or %(other)s", one=either, other=other)
        text = _("Must be %(kind)s.", kind=either)
    else:
        text = _library_sentence(error)
    inner = "".join(f"/{part}" for part in list(error.absolute_path)[1:])
    return _("%(where)s: %(problem)s", where=inner, problem=text) if inner else text


# How each language lists things (workflows.errors.listed's "%(first)s, %(rest)s"; "、" in Chinese).
_LIST_SEPARATORS = {"zh": "、"}


def _choices(values: Any, schema: Any) -> str:
    """An enum's values as one list in each language, each value by the label the form gives it there: one
    flat Worded, not a Text per value (a field may offer thousands of choices; a nested Text per value made
    saying the sentence recurse once per choice)."""
    values = list(values) if isinstance(values, list) else [values]
    words = {
        language: _LIST_SEPARATORS.get(language, ", ").join(_choice(v, schema, language) for v in values)
        for language in LANGUAGES
    }
    return Worded(words["en"], words)


def _choice(value: Any, schema: Any, language: str) -> str:
    """A value by the label the form gives it in `language` (`enum_titles_zh`, else `enum_titles`; keyed as
    JSON writes an object key: "1" for the number 1), the value itself after it in brackets: what a person
    picks and what a client sends ("Approve (approve)", "批准（approve）"). A value without one is itself."""
    code = enum_key(value)
    label = None
    # The language's titles, else the English ones: what the form shows (webui/schema_forms._option_labels).
    for keyword in dict.fromkeys((f"enum_titles_{language}", "enum_titles")):
        titles = schema.get(keyword) if isinstance(schema, Mapping) else None
        given = titles.get(code) if isinstance(titles, Mapping) else None
        if isinstance(given, str) and given.strip():
            label = given.strip()
            break
    if label is None or label == code:
        return code
    return f"{label}（{code}）" if language == "zh" else f"{label} ({code})"


def enum_key(value: Any) -> str:
    """An enum value as a key of `enum_titles` names it: a string as it is, any other value as JSON writes it
    (1, 2.5, true, null)."""
    return value if isinstance(value, str) else json.dumps(value)


def _library_sentence(error: ValidationError) -> str:
    """jsonschema's own sentences for the other keywords, said in the reader's language: const,
    additionalProperties and format in jsonschema's English word for word, uniqueItems and anyOf/oneOf
    without the whole value (it may be long); ours (a pattern, multipleOf) are already Texts."""
    validator, value = error.validator, error.validator_value
    if validator == "const":
        return _("%(value)r was expected", value=value)
    if validator == "additionalProperties" and isinstance(error.instance, dict):
        declared = set(error.schema.get("properties", {})) if isinstance(error.schema, dict) else set()
        extra = sorted(str(k) for k in error.instance if k not in declared)
        names = ", ".join(repr(k) for k in extra)
        if len(extra) == 1:
            return _("Additional properties are not allowed (%(names)s was unexpected)", names=names)
        return _("Additional properties are not allowed (%(names)s were unexpected)", names=names)
    if validator == "uniqueItems":
        return _("Each entry must be different; an entry is repeated.")
    if validator in ("anyOf", "oneOf"):
        return _("Matches none of the forms this field allows.")
    if validator == "format":
        return _("'%(value)s' is not a '%(format)s'", value=error.instance, format=value)
    message: str = error.message  # ours (a pattern, multipleOf) a Text: kept, so it is said
    return message


def form_fields(schema: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The API's description of a form: [{name, type, required, options?, title?, format?}]; a field of
    several JSON Schema types ("type": ["string", "number"]) has them joined ("string|number"): `type` is one
    string (the form's `schema` beside it says the rest)."""
    required = set(schema.get("required", []))
    fields = []
    for name, spec in schema.get("properties", {}).items():
        kind = spec.get("type", "string")
        field: dict[str, Any] = {
            "name": name,
            "type": "|".join(map(str, kind)) if isinstance(kind, list) else kind,
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
