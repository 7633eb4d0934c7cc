"""Checks of a BPMN diagram's timers: the expression is Python (through the sandbox), and a literal value must
be an ISO 8601 date, duration or cycle that SpiffWorkflow parses the same way, no longer than 100 years."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from datetime import datetime

from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from workflows.definitions.problems import BPMN_NS, NS, Document, Problem, code_problems, owner_id
from workflows.engine.sandbox import prepare_source
from workflows.messages import Text, _

_TIMER_KINDS = ("timeDate", "timeDuration", "timeCycle")  # SpiffWorkflow's lookup order


# SpiffWorkflow adds calendar months one at a time, so "P99999999Y" would hang validation and the engine.
_MAX_TIMER_MONTHS = 100 * 12


_ISO_LOOKING_NAME = re.compile(r"R\d+|P(?=\w*\d)(\d+[YMWD])*(T(\d+[HMS])+)?")


def check_timers(doc: Document) -> Iterator[Problem]:
    for definition in doc.root.iter(f"{{{BPMN_NS}}}timerEventDefinition"):
        specs = (definition.find(f"bpmn:{kind}", NS) for kind in _TIMER_KINDS)
        spec = next((s for s in specs if s is not None), None)
        if spec is None or not (spec.text or "").strip():
            message = _(
                "the timer is empty; set a timeDate, timeDuration or timeCycle, "
                'e.g. "P7D" (quoted: timer expressions are Python)'
            )
            yield doc.problem(spec if spec is not None else definition, message, owner_id(definition))
            continue
        kind = etree.QName(spec).localname
        hint = _('quote ISO 8601 literals, e.g. "P7D", because timer expressions are Python')
        snippet_problems = list(code_problems(doc, spec, spec.text or "", "eval", kind, hint))
        yield from snippet_problems or _timer_value_problems(doc, spec, kind)


def _timer_value_problems(doc: Document, spec: etree._Element, kind: str) -> Iterator[Problem]:
    """A bare ISO literal is a Python name; a quoted one must parse the way SpiffWorkflow parses it."""
    body = ast.parse(prepare_source(spec.text or "", "eval"), mode="eval").body
    for node in ast.walk(body):
        if isinstance(node, ast.Name) and _ISO_LOOKING_NAME.fullmatch(node.id):
            text = (spec.text or "").strip()
            literal = text if re.fullmatch(r"[\w/:.,+-]+", text) else node.id
            message = _(
                '%(kind)s: %(name)s is read as a Python variable name; quote the literal: "%(literal)s"',
                kind=kind,
                name=node.id,
                literal=literal,
            )
            yield doc.problem(spec, message, owner_id(spec))
            return
    if isinstance(body, ast.Constant) and (problem := iso_problem(kind, body.value)):
        yield doc.problem(spec, problem, owner_id(spec))


def iso_problem(kind: str, value: object) -> Text | None:
    """Check a literal timer value with SpiffWorkflow's own ISO 8601 helpers."""
    examples = {
        "timeDate": '"2026-01-31T09:00:00+01:00"',
        "timeDuration": '"P7D" or "PT1H"',
        "timeCycle": '"R3/PT1H"',
    }
    if not isinstance(value, str):
        return _(
            "%(kind)s: the timer value must be a string such as %(example)s",
            kind=kind,
            example=examples[kind],
        )
    try:
        if any(_months(part) > _MAX_TIMER_MONTHS for part in _durations_in(kind, value)):
            return _(
                "%(kind)s: '%(value)s' is longer than 100 years; use a shorter period", kind=kind, value=value
            )
        if kind == "timeDate":
            parsed = TimerEventDefinition.parse_time_or_duration(value)
            valid = isinstance(parsed, datetime)
        elif kind == "timeDuration":
            TimerEventDefinition.get_timedelta_from_start(TimerEventDefinition.parse_iso_duration(value))
            valid = True
        else:
            TimerEventDefinition.parse_iso_recurring_interval(value)
            valid = True
    except Exception:  # the helpers raise bare Exception, ValueError, AttributeError, IndexError...
        valid = False
    return (
        None
        if valid
        else _(
            "%(kind)s: '%(value)s' is not a valid ISO 8601 %(kind)s value; use e.g. %(example)s",
            kind=kind,
            value=value,
            example=examples[kind],
        )
    )


def _durations_in(kind: str, value: str) -> list[str]:
    """The ISO durations inside a timer value, split the way SpiffWorkflow splits cycles."""
    if kind == "timeDuration":
        return [value]
    parts = value.upper().replace("--", "/").strip("R").split("/")[1:] if kind == "timeCycle" else []
    return [part for part in parts if part.startswith("P")]


def _months(duration: str) -> float:
    parsed = TimerEventDefinition.parse_iso_duration(duration)
    return float(parsed.get("years", 0)) * 12 + float(parsed.get("months", 0))
