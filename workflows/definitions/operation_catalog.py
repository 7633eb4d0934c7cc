"""The service operations a diagram may call, described for people: what the studio's properties panel and
`GET /api/operations` show (name, description, request fields, result fields), read from the live table
that handlers/registry.py builds, so the list never drifts from what deploy accepts."""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from collections.abc import Mapping
from typing import Any

from workflows.engine.service_tasks import Operation


def describe_operations(operations: Mapping[str, Operation]) -> list[dict[str, Any]]:
    """Every operation by name: `{name, description, moves_money, request: [field], result: [field]}`;
    a field is `{name, type, required}` (`required`: the diagram must pass it; a result field is always
    there, so it says whether it may be null)."""
    return [_describe(op) for _, op in sorted(operations.items())]


def _describe(op: Operation) -> dict[str, Any]:
    doc = inspect.getdoc(op.func) or ""
    # The first paragraph: the rest of a handler's docstring is for its maintainers.
    description = " ".join(doc.split("\n\n", 1)[0].split())
    result_type = _return_type(op)
    return {
        "name": op.name,
        "description": description,
        "moves_money": op.moves_money,
        "request": _fields(op.request_type, required_by_default=True),
        "result": _fields(result_type, required_by_default=False) if result_type else [],
    }


def _return_type(op: Operation) -> type | None:
    try:
        hint = typing.get_type_hints(op.func).get("return")
    except (NameError, TypeError):  # a handler annotated with a name only its own module resolves
        return None
    return hint if isinstance(hint, type) and dataclasses.is_dataclass(hint) else None


def _fields(cls: type, *, required_by_default: bool) -> list[dict[str, Any]]:
    hints = typing.get_type_hints(cls)
    described = []
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        optional = _is_optional(hint)
        if required_by_default:
            has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
            required = not has_default
        else:
            required = not optional
        described.append({"name": f.name, "type": _type_name(hint), "required": required})
    return described


def _is_optional(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint)


def _type_name(hint: Any) -> str:
    """`Decimal`, `int | None`, `list[str]`: as the handler's author wrote it, without module prefixes."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(hint))
    if origin is not None:
        args = ", ".join(_type_name(a) for a in typing.get_args(hint))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if hint is type(None):
        return "None"
    return getattr(hint, "__name__", str(hint))
