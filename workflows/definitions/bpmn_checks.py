"""Checks of a BPMN diagram on our own lxml tree, which keeps line numbers SpiffWorkflow does not.

Flows, scripts and conditions (through the sandbox), service operations, timers and the user-task
properties the engine reads; each problem names its element and line.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Collection, Iterator, Mapping
from datetime import datetime
from pathlib import PurePosixPath

from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from workflows.credit.roles import READ_ALL
from workflows.definitions.problems import (
    BPMN_NS,
    NS,
    SPIFF_NS,
    Document,
    Problem,
    code_problems,
    owner_id,
)
from workflows.engine.sandbox import Mode, check_code, prepare_source
from workflows.languages import LANGUAGES

FORM_PROPERTY = "formJsonSchemaFilename"

# Code-bearing elements: (XPath, compile mode, what to call it in messages).
_CODE_PATHS: tuple[tuple[str, Mode, str], ...] = (
    ("//spiffworkflow:preScript", "exec", "pre-script"),
    ("//spiffworkflow:postScript", "exec", "post-script"),
    ("//bpmn:sequenceFlow/bpmn:conditionExpression", "eval", "condition"),
    ("//bpmn:conditionalEventDefinition/bpmn:condition", "eval", "condition"),
    ("//bpmn:standardLoopCharacteristics/bpmn:loopCondition", "eval", "loop condition"),
    ("//bpmn:multiInstanceLoopCharacteristics/bpmn:completionCondition", "eval", "completion condition"),
    ("//bpmn:multiInstanceLoopCharacteristics/bpmn:loopCardinality", "eval", "loop cardinality"),
    ("//spiffworkflow:messagePayload", "eval", "message payload"),
)


_TIMER_KINDS = ("timeDate", "timeDuration", "timeCycle")  # SpiffWorkflow's lookup order


# SpiffWorkflow adds calendar months one at a time, so "P99999999Y" would hang validation and the engine.
_MAX_TIMER_MONTHS = 100 * 12


_ISO_LOOKING_NAME = re.compile(r"R\d+|P(?=\w*\d)(\d+[YMWD])*(T(\d+[HMS])+)?")


def check_bpmn(doc: Document, files: Mapping[str, bytes], operations: Collection[str]) -> list[Problem]:
    """Run every XML-level check of one BPMN document."""
    flow_problems = _check_sequence_flows(doc)
    doc.spec_ready = not flow_problems  # SpiffWorkflow's message for these is misleading
    return [
        *flow_problems,
        *_check_processes(doc),
        *_check_scripts(doc),
        *_check_service_tasks(doc, operations),
        *_check_timers(doc),
        *_check_task_properties(doc, files),
        *_check_message_properties(doc, files),
        *_check_read_only_groups(doc),
        *_check_stored_lengths(doc),
        *_check_translated_names(doc),
    ]


def _check_processes(doc: Document) -> Iterator[Problem]:
    for process in doc.root.iterfind("bpmn:process", NS):
        if process.get("isExecutable") == "true" and not process.get("id"):
            yield doc.problem(process, "the executable process has no id; give it a snake_case id", "-")


def _check_sequence_flows(doc: Document) -> list[Problem]:
    """Flows must connect elements of their own process; SpiffWorkflow ignores or misreports them."""
    problems = []
    ids_by_container: dict[etree._Element, set[str]] = {}
    for flow in doc.root.iter(f"{{{BPMN_NS}}}sequenceFlow"):
        container = flow.getparent()
        if container not in ids_by_container:
            ids_by_container[container] = {e.get("id") for e in container.iter(etree.Element) if e.get("id")}
        for attribute in ("sourceRef", "targetRef"):
            ref = flow.get(attribute)
            if ref not in ids_by_container[container]:
                message = (
                    f"the sequence flow's {attribute} {ref!r} names no element in this process; "
                    "reconnect or delete the flow in the modeler"
                )
                problems.append(doc.problem(flow, message))
    return problems


def _check_scripts(doc: Document) -> Iterator[Problem]:
    """Script tasks, pre/post scripts, conditions and other Python expressions."""
    for task in doc.root.iter(f"{{{BPMN_NS}}}scriptTask"):
        script = task.find("bpmn:script", NS)
        if script is None or script.text is None:
            message = "the script task has no script; add one or make it a plain task"
            yield doc.problem(script if script is not None else task, message, task.get("id") or "-")
        else:
            yield from code_problems(doc, script, script.text, "exec", "script")
    for path, mode, label in _CODE_PATHS:
        for element in doc.root.xpath(path, namespaces=NS):
            if element.text is not None:  # SpiffWorkflow treats an empty element as absent
                yield from code_problems(doc, element, element.text, mode, label)


def _check_service_tasks(doc: Document, operations: Collection[str]) -> Iterator[Problem]:
    known = (
        f"use one of: {', '.join(sorted(operations))}"
        if operations
        else "no service operations are registered"
    )
    for task in doc.root.iter(f"{{{BPMN_NS}}}serviceTask"):
        operator = task.find("bpmn:extensionElements/spiffworkflow:serviceTaskOperator", NS)
        if operator is None:
            yield doc.problem(task, f"the service task has no spiffworkflow:serviceTaskOperator; {known}")
            continue
        name = operator.get("id")
        if name is None:
            yield doc.problem(operator, f"the service task operator has no id; {known}", owner_id(operator))
        elif name not in operations:
            yield doc.problem(operator, f"unknown service operation {name!r}; {known}", owner_id(operator))
        for parameter in operator.iterfind(".//spiffworkflow:parameter", NS):
            yield from _parameter_problems(doc, parameter)


def _parameter_problems(doc: Document, parameter: etree._Element) -> Iterator[Problem]:
    value = parameter.get("value")
    if value is None:
        return  # SpiffWorkflow skips parameters without a value
    label = f"service parameter {parameter.get('id')!r} (a Python expression)"
    if parameter.get("id") is None or parameter.get("type") is None:
        message = f"{label} needs both an id and a type attribute; set them in the modeler"
        yield doc.problem(parameter, message, owner_id(parameter))
    yield from code_problems(doc, parameter, value, "eval", label)


def _check_timers(doc: Document) -> Iterator[Problem]:
    for definition in doc.root.iter(f"{{{BPMN_NS}}}timerEventDefinition"):
        specs = (definition.find(f"bpmn:{kind}", NS) for kind in _TIMER_KINDS)
        spec = next((s for s in specs if s is not None), None)
        if spec is None or not (spec.text or "").strip():
            message = (
                "the timer is empty; set a timeDate, timeDuration or timeCycle, "
                'e.g. "P7D" (quoted: timer expressions are Python)'
            )
            yield doc.problem(spec if spec is not None else definition, message, owner_id(definition))
            continue
        kind = etree.QName(spec).localname
        hint = '; quote ISO 8601 literals, e.g. "P7D", because timer expressions are Python'
        snippet_problems = list(code_problems(doc, spec, spec.text or "", "eval", kind, hint))
        yield from snippet_problems or _timer_value_problems(doc, spec, kind)


def _timer_value_problems(doc: Document, spec: etree._Element, kind: str) -> Iterator[Problem]:
    """A bare ISO literal is a Python name; a quoted one must parse the way SpiffWorkflow parses it."""
    body = ast.parse(prepare_source(spec.text or "", "eval"), mode="eval").body
    for node in ast.walk(body):
        if isinstance(node, ast.Name) and _ISO_LOOKING_NAME.fullmatch(node.id):
            text = (spec.text or "").strip()
            literal = text if re.fullmatch(r"[\w/:.,+-]+", text) else node.id
            message = f'{kind}: {node.id} is read as a Python variable name; quote the literal: "{literal}"'
            yield doc.problem(spec, message, owner_id(spec))
            return
    if isinstance(body, ast.Constant) and (problem := _iso_problem(kind, body.value)):
        yield doc.problem(spec, problem, owner_id(spec))


def _iso_problem(kind: str, value: object) -> str | None:
    """Check a literal timer value with SpiffWorkflow's own ISO 8601 helpers."""
    examples = {
        "timeDate": '"2026-01-31T09:00:00+01:00"',
        "timeDuration": '"P7D" or "PT1H"',
        "timeCycle": '"R3/PT1H"',
    }
    if not isinstance(value, str):
        return f"{kind}: the timer value must be a string such as {examples[kind]}"
    try:
        if any(_months(part) > _MAX_TIMER_MONTHS for part in _durations_in(kind, value)):
            return f"{kind}: {value!r} is longer than 100 years; use a shorter period"
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
        else f"{kind}: {value!r} is not a valid ISO 8601 {kind} value; use e.g. {examples[kind]}"
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


def _check_task_properties(doc: Document, files: Mapping[str, bytes]) -> Iterator[Problem]:
    """Check the user-task properties the engine reads (form, subject, dueIn, fourEyes, assignee, groups)."""
    available = {PurePosixPath(name).name for name in files}
    user_tasks = {task.get("id") for task in doc.root.iter(f"{{{BPMN_NS}}}userTask")}
    path = "bpmn:extensionElements/spiffworkflow:properties//spiffworkflow:property"
    for task in doc.root.iter(f"{{{BPMN_NS}}}userTask"):
        owner = task.get("id") or "-"
        for prop in task.iterfind(path, NS):
            name, value = prop.get("name"), prop.get("value")
            if name is None or value is None:
                yield doc.problem(prop, "spiffworkflow:property needs a name and a value; set both", owner)
            elif name == FORM_PROPERTY and value not in available:
                message = (
                    f"the form file {value!r} is not in the bundle; deploy it with the diagram or fix {name}"
                )
                yield doc.problem(prop, message, owner)
            elif name == "subject":
                for problem in check_code(value, "eval"):
                    yield doc.problem(prop, f"subject: {problem.message}", owner)
            elif name == "dueIn" and (due_problem := _iso_problem("timeDuration", value)):
                yield doc.problem(prop, f"dueIn: {due_problem}", owner)
            elif name == "fourEyes":
                unknown = [
                    step for step in value.split(",") if step.strip() not in user_tasks | {"initiator"}
                ]
                if unknown:
                    message = (
                        f"fourEyes names {', '.join(unknown)}: use user task ids of this diagram or initiator"
                    )
                    yield doc.problem(prop, message, owner)
            elif name in ("assignee", "candidateGroups") and not value.strip():
                yield doc.problem(
                    prop, f"{name} is empty; name a user (or initiator) / groups, or remove it", owner
                )


_CATCH_EVENTS = ("receiveTask", "intermediateCatchEvent", "boundaryEvent", "startEvent")


def _check_message_properties(doc: Document, files: Mapping[str, bytes]) -> Iterator[Problem]:
    """A catch event's `senderGroups` names groups, and its `messageJsonSchemaFilename` is in the bundle."""
    available = {PurePosixPath(name).name for name in files}
    path = "bpmn:extensionElements/spiffworkflow:properties//spiffworkflow:property"
    for kind in _CATCH_EVENTS:
        for event in doc.root.iter(f"{{{BPMN_NS}}}{kind}"):
            owner = event.get("id") or "-"
            for prop in event.iterfind(path, NS):
                name, value = prop.get("name"), prop.get("value") or ""
                if name == "senderGroups" and not value.strip():
                    message = "senderGroups is empty; name the groups that may send the message, or remove it"
                    yield doc.problem(prop, message, owner)
                elif name == "messageJsonSchemaFilename" and value not in available:
                    message = f"the message schema {value!r} is not in the bundle; deploy it with the diagram"
                    yield doc.problem(prop, message, owner)


def _check_translated_names(doc: Document) -> Iterator[Problem]:
    """A `name_<language>` property (bilingual diagrams, workflows/definitions/display_names.py) names a
    language creditflow speaks and gives a name that fits the task title's column."""
    for prop in doc.root.iter(f"{{{SPIFF_NS}}}property"):
        name = prop.get("name") or ""
        if not name.startswith("name_"):
            continue
        language, value = name.removeprefix("name_"), (prop.get("value") or "").strip()
        if language not in LANGUAGES or language == "en":
            others = ", ".join(f"name_{code}" for code in LANGUAGES if code != "en")
            yield doc.problem(
                prop, f"{name} names no language creditflow speaks; use {others}", owner_id(prop)
            )
        elif not value:
            message = f"{name} is empty; give the element's name in that language, or remove the property"
            yield doc.problem(prop, message, owner_id(prop))
        elif len(value) > _TITLE_CHARS:
            message = f"{name} has {len(value)} characters; use at most {_TITLE_CHARS}"
            yield doc.problem(prop, message, owner_id(prop))


# The properties that give a group the right to act: start, work on a task, send a message.
_ACTING_PROPERTIES = ("startGroups", "candidateGroups", "senderGroups")


def _check_read_only_groups(doc: Document) -> Iterator[Problem]:
    """Auditors read everything and change nothing: no lane or acting property may name their group."""
    fix = "it reads everything and changes nothing; name a group that does the work"
    for lane in doc.root.iter(f"{{{BPMN_NS}}}lane"):
        if (lane.get("name") or "").strip() in READ_ALL:
            yield doc.problem(
                lane, f"the lane {lane.get('name')!r} is the auditors' group: {fix}", lane.get("id") or "-"
            )
    for prop in doc.root.iter(f"{{{SPIFF_NS}}}property"):
        if prop.get("name") in _ACTING_PROPERTIES:
            named = sorted({g.strip() for g in (prop.get("value") or "").split(",")} & READ_ALL)
            if named:
                message = f"{prop.get('name')} names {', '.join(named)}, the auditors' group: {fix}"
                yield doc.problem(prop, message, owner_id(prop))


# The columns that store what a diagram names (workflows/store/models.py): PostgreSQL refuses longer values.
_ID_CHARS, _GROUP_CHARS, _USER_CHARS, _TITLE_CHARS, _PROCESS_NAME_CHARS, _FILE_CHARS = (
    120,
    80,
    80,
    300,
    200,
    200,
)
_NAME_LIMITS = {
    "process": _PROCESS_NAME_CHARS,
    "userTask": _TITLE_CHARS,
    "lane": _GROUP_CHARS,
    "message": _ID_CHARS,
}
_PROPERTY_LIMITS = {
    "startGroups": _GROUP_CHARS,
    "candidateGroups": _GROUP_CHARS,
    "senderGroups": _GROUP_CHARS,
    "assignee": _USER_CHARS,
    FORM_PROPERTY: _FILE_CHARS,
    "messageJsonSchemaFilename": _FILE_CHARS,
}


def _check_stored_lengths(doc: Document) -> Iterator[Problem]:
    """Ids, names, groups, users and form files fit the columns that store them (SQLite would store more)."""
    for element in doc.root.iter(f"{{{BPMN_NS}}}*"):
        kind, element_id = etree.QName(element).localname, element.get("id") or ""
        if len(element_id) > _ID_CHARS and kind != "definitions":  # the definitions' id is not stored
            message = f"the id has {len(element_id)} characters; use at most {_ID_CHARS}"
            yield doc.problem(element, message, element_id[:40] + "...")
        name, limit = element.get("name") or "", _NAME_LIMITS.get(kind)
        if limit is not None and len(name) > limit:
            yield doc.problem(element, f"the {kind} name has {len(name)} characters; use at most {limit}")
    for prop in doc.root.iter(f"{{{SPIFF_NS}}}property"):
        limit = _PROPERTY_LIMITS.get(prop.get("name") or "")
        values = (prop.get("value") or "").split(",") if limit is not None else []
        for value in (v.strip() for v in values):
            if limit is not None and len(value) > limit:
                message = (
                    f"{prop.get('name')} names {value[:40]}... ({len(value)} characters; at most {limit})"
                )
                yield doc.problem(prop, message, owner_id(prop))
    # The decision log stores the decision a business rule task calls (decision_log.decision_id, 120).
    for called in doc.root.iter(f"{{{SPIFF_NS}}}calledDecisionId"):
        decision = (called.text or "").strip()
        if len(decision) > _ID_CHARS:
            message = (
                f"calledDecisionId names {decision[:40]}... ({len(decision)} characters; at most {_ID_CHARS})"
            )
            yield doc.problem(called, message, owner_id(called))
