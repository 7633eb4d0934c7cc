"""What a deployed form schema may refer to and match with, checked at deploy; and bundling its references.

A form is validated on the server with untrusted input, so it may not reach outside its deployment: a
`$ref` points inside the same file (`#/...`) or to another form of the same deployment (`other.json` or
`other.json#/...`), and nothing else (no `http:`, `https:`, `file:`, absolute paths). Its `pattern`s must
compile with RE2, the linear-time engine forms.py validates with.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import PurePosixPath
from typing import Any

import re2
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

from workflows.definitions.forms import NO_RETRIEVAL, compile_pattern, enum_key
from workflows.definitions.problems import Problem
from workflows.languages import LANGUAGES
from workflows.messages import Text, _

REF_KEYWORDS = ("$ref", "$dynamicRef", "$recursiveRef")
# Keywords whose values are data, not schemas: a "$ref" or "pattern" key inside them is not a reference.
_DATA_KEYWORDS = frozenset(
    {"const", "enum", "default", "examples", "enum_titles", *(f"enum_titles_{code}" for code in LANGUAGES)}
)
# Texts a form shows in a language other than English (bpmn/README.md, "Forms"): title_zh, description_zh.
_TRANSLATED_TEXTS = frozenset(f"{word}_{code}" for word in ("title", "description") for code in LANGUAGES)
# A reference to another form of the deployment: its base name, optionally with a fragment.
_FORM_REF = re.compile(r"(?P<file>[A-Za-z0-9_.-]+\.json)(?P<fragment>#.*)?", re.DOTALL)
# Other forms are embedded under the root's $defs with this prefix, each with its name as $id.
BUNDLE_PREFIX = "creditflow:"

Path = tuple[Any, ...]


def check_form_schema(
    file: str, data: bytes, schema: Mapping[str, Any], forms: Mapping[str, Any]
) -> list[Problem]:
    """Every reference, `$id` and pattern problem of one form; `forms` has the bundle's forms by base name."""
    name = PurePosixPath(file).name
    registry = _bundle_registry(forms)
    problems = []
    for path, key, value in _schema_keywords(schema):
        line = json_line(data, [*path, key])
        where = "/".join(str(p) for p in path) or _("the top level")
        if key in REF_KEYWORDS and isinstance(value, str):
            message = _reference_problem(name, value, forms, registry)
            if message:
                said = _(
                    "%(key)s %(value)r at %(where)s: %(problem)s",
                    key=key,
                    value=value,
                    where=where,
                    problem=message,
                )
                problems.append(Problem(file, line, "-", said))
        elif isinstance(value, str) and (key == "$id" or (key == "$schema" and path)):
            message = (
                _(
                    "%(key)s at %(where)s is not allowed: a form is known by its file name; remove %(key)s",
                    key=key,
                    where=where,
                )
                if key == "$id"
                else _(
                    "$schema at %(where)s is not allowed; declare $schema only at the top of the form",
                    where=where,
                )
            )
            problems.append(Problem(file, line, "-", message))
        elif key == "pattern" and isinstance(value, str):
            problems += _pattern_problems(file, line, where, [value])
        elif key in _TRANSLATED_TEXTS and path[-1:] != ("properties",):
            if not isinstance(value, str) or not value.strip():
                message = _(
                    "%(key)s at %(where)s is empty; write the text in that language, or remove %(key)s",
                    key=key,
                    where=where,
                )
                problems.append(Problem(file, line, "-", message))
        elif key.startswith("enum_titles") and key in _DATA_KEYWORDS and path[-1:] != ("properties",):
            problems += _enum_title_problems(file, line, where, key, value, _at(schema, path))
        elif key == "patternProperties" and isinstance(value, Mapping):
            problems += _pattern_problems(file, line, where, list(value))
    if not problems and (loop := _reference_loop(name, schema, registry)):
        problems.append(Problem(file, json_line(data, [*loop[0], loop[1]]), "-", loop[2]))
    return problems


# Keywords whose subschemas apply to the same value (a loop through them never reaches deeper data).
_SAME_VALUE = ("allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas")


def _reference_loop(name: str, schema: Any, registry: Registry[Any]) -> tuple[Path, str, Text] | None:
    """(path, keyword, message) of a reference that leads back to itself on the same value, or None.

    `{"$ref": "#/properties/a"}` at properties/a (or two $defs naming each other) recurses until Python's
    stack runs out on every submission; a loop through properties or items stops with the data.
    """
    resolver = registry.resolver(base_uri=name)
    done: set[int] = set()

    def walk(node: Any, res: Any, stack: list[int]) -> bool:
        if not isinstance(node, Mapping) or id(node) in done:
            return False
        if id(node) in stack:
            return True
        stack.append(id(node))
        found = False
        for key in REF_KEYWORDS[:2]:
            if isinstance(node.get(key), str):
                try:
                    target = res.lookup(node[key])
                except Unresolvable:
                    continue
                found = found or walk(target.contents, target.resolver, stack)
        for key in _SAME_VALUE:
            value = node.get(key)
            subs = (
                value
                if isinstance(value, list)
                else value.values()
                if key == "dependentSchemas" and isinstance(value, Mapping)
                else [value]
            )
            found = found or any(walk(sub, res, stack) for sub in subs)
        stack.pop()
        if not found:
            done.add(id(node))
        return found

    for path, key, value in _schema_keywords(schema):
        if key in REF_KEYWORDS[:2] and isinstance(value, str):
            node = _at(schema, path)
            if walk(node, resolver, []):
                where = "/".join(str(p) for p in path) or _("the top level")
                message = _(
                    "%(key)s '%(value)s' at %(where)s leads back to itself without going into the data (a "
                    "loop every submission would run until the server gives up); point it at a schema",
                    key=key,
                    value=value,
                    where=where,
                )
                return path, key, message
    return None


def _at(schema: Any, path: Path) -> Any:
    for part in path:
        schema = schema[part]
    return schema


def _reference_problem(name: str, ref: str, forms: Mapping[str, Any], registry: Registry[Any]) -> Text | None:
    if not ref.startswith("#"):
        match = _FORM_REF.fullmatch(ref)
        if match is None:
            return _(
                "a form may refer only inside itself (#/...) or to another form of the same deployment "
                "(other.json#/...); no URL or file is fetched. Copy the schema into the deployment"
            )
        if match["file"] not in forms:
            return _(
                "%(file)s is not part of this deployment; add it to the deployment or fix the name",
                file=match["file"],
            )
    try:
        registry.resolver(base_uri=name).lookup(ref)
    except Unresolvable:
        return _("it points to nothing in the form; fix the path after #")
    return None


def _bundle_registry(forms: Mapping[str, Any]) -> Registry[Any]:
    resources = [
        (form_name, Resource.from_contents(schema, default_specification=DRAFT202012))
        for form_name, schema in forms.items()
        if isinstance(schema, (Mapping, bool))
    ]
    return NO_RETRIEVAL.with_resources(resources).crawl()


def _enum_title_problems(
    file: str, line: int, where: str, key: str, titles: Any, owner: Any
) -> Iterator[Problem]:
    """`enum_titles` / `enum_titles_zh`: {enum value: non-empty title} for values of the field's enum."""
    # A label's key is a JSON object key, a string: "1" names the number 1 (forms.enum_key).
    values = {enum_key(v) for v in owner.get("enum", [])} if isinstance(owner, Mapping) else set()
    if not isinstance(titles, Mapping):
        message = _("%(key)s at %(where)s must map each enum value to its title", key=key, where=where)
        yield Problem(file, line, "-", message)
        return
    for value, title in titles.items():
        if value not in values:
            message = _(
                "%(key)s at %(where)s names '%(value)s', which is not a value of the field's enum",
                key=key,
                where=where,
                value=value,
            )
            yield Problem(file, line, "-", message)
        elif not isinstance(title, str) or not title.strip():
            message = _(
                "%(key)s at %(where)s: the title of '%(value)s' is empty", key=key, where=where, value=value
            )
            yield Problem(file, line, "-", message)


def _pattern_problems(name: str, line: int, where: str, patterns: list[str]) -> Iterator[Problem]:
    for pattern in patterns:
        try:
            compile_pattern(pattern)
        except re2.error as exc:
            reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
            message = _(
                "pattern '%(pattern)s' at %(where)s cannot be used (%(reason)s); forms match with RE2, which "
                "has no back-references or look-arounds: rewrite the pattern",
                pattern=pattern,
                where=where,
                reason=reason,
            )
            yield Problem(name, line, "-", message)


def _schema_keywords(schema: Any, path: Path = ()) -> Iterator[tuple[Path, str, Any]]:
    """(path to the object, keyword, value) for every keyword of every (sub)schema, data keywords skipped."""
    if isinstance(schema, Mapping):
        for key, value in schema.items():
            yield path, key, value
            if key not in _DATA_KEYWORDS:
                yield from _schema_keywords(value, (*path, key))
    elif isinstance(schema, list):
        for index, item in enumerate(schema):
            yield from _schema_keywords(item, (*path, index))


def bundle_form(name: str, schema: dict[str, Any], load: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """The form with the deployment's forms it refers to (transitively) embedded: it is self-contained.

    Embedded forms sit under `$defs["creditflow:<name>"]` with `$id: <name>` (JSON Schema 2020-12 bundling),
    so `other.json#/...` resolves without any retrieval. A form without such references is returned as it is.
    """
    needed: dict[str, dict[str, Any]] = {}
    pending = _referenced_forms(schema)
    while pending:
        other = pending.pop()
        if other == name or other in needed:
            continue
        needed[other] = load(other)
        pending |= _referenced_forms(needed[other])
    if not needed:
        return schema
    defs = dict(schema.get("$defs", {}))
    defs.update({f"{BUNDLE_PREFIX}{other}": {**needed[other], "$id": other} for other in sorted(needed)})
    return {**schema, "$id": name, "$defs": defs}


def _referenced_forms(schema: Any) -> set[str]:
    found = set()
    for _path, key, value in _schema_keywords(schema):
        if key in REF_KEYWORDS and isinstance(value, str) and (match := _FORM_REF.fullmatch(value)):
            found.add(match["file"])
    return found


def json_line(data: bytes, path: list[Any]) -> int:
    """Best-effort line of a JSON path: follow each key's first quoted occurrence in order."""
    text = data.decode("utf-8", errors="replace")
    position = 0
    for key in path:
        if isinstance(key, str):
            found = text.find(json.dumps(key), position)
            position = found if found >= 0 else position
    return text.count("\n", 0, position) + 1
