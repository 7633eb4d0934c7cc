"""Checks of a BPMN diagram on our own lxml tree, which keeps line numbers SpiffWorkflow does not.

Flows, scripts and conditions (through the sandbox), service operations, timers (timer_checks.py) and the
user-task properties the engine reads; each problem names its element and line. The sentences are
workflows.messages Texts: the web UI says them in the reader's language.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from pathlib import PurePosixPath

from lxml import etree

from workflows.credit.roles import GROUPS, READ_ALL
from workflows.definitions.problems import (
    BPMN_NS,
    NS,
    SPIFF_NS,
    Document,
    Problem,
    code_problems,
    owner_id,
)
from workflows.definitions.timer_checks import check_timers, iso_problem
from workflows.engine.sandbox import Mode, check_code
from workflows.languages import LANGUAGES
from workflows.messages import _

FORM_PROPERTY = "formJsonSchemaFilename"

# Code-bearing elements: (XPath, compile mode, what to call it in messages).
_CODE_PATHS: tuple[tuple[str, Mode, str], ...] = (
    ("//spiffworkflow:preScript", "exec", _("pre-script")),
    ("//spiffworkflow:postScript", "exec", _("post-script")),
    ("//bpmn:sequenceFlow/bpmn:conditionExpression", "eval", _("condition")),
    ("//bpmn:conditionalEventDefinition/bpmn:condition", "eval", _("condition")),
    ("//bpmn:standardLoopCharacteristics/bpmn:loopCondition", "eval", _("loop condition")),
    ("//bpmn:multiInstanceLoopCharacteristics/bpmn:completionCondition", "eval", _("completion condition")),
    ("//bpmn:multiInstanceLoopCharacteristics/bpmn:loopCardinality", "eval", _("loop cardinality")),
    ("//spiffworkflow:messagePayload", "eval", _("message payload")),
)


def check_bpmn(doc: Document, files: Mapping[str, bytes], operations: Collection[str]) -> list[Problem]:
    """Run every XML-level check of one BPMN document."""
    flow_problems = _check_sequence_flows(doc)
    doc.spec_ready = not flow_problems  # SpiffWorkflow's message for these is misleading
    return [
        *flow_problems,
        *_check_processes(doc),
        *_check_scripts(doc),
        *_check_service_tasks(doc, operations),
        *check_timers(doc),
        *_check_task_properties(doc, files),
        *_check_message_properties(doc, files),
        *_check_read_only_groups(doc),
        *_check_known_groups(doc),
        *_check_stored_lengths(doc),
        *_check_translated_names(doc),
    ]


def _check_processes(doc: Document) -> Iterator[Problem]:
    for process in doc.root.iterfind("bpmn:process", NS):
        if process.get("isExecutable") == "true" and not process.get("id"):
            yield doc.problem(process, _("the executable process has no id; give it a snake_case id"), "-")


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
                message = _(
                    "the sequence flow's %(attribute)s '%(ref)s' names no element in this process; "
                    "reconnect or delete the flow in the modeler",
                    attribute=attribute,
                    ref=ref,
                )
                problems.append(doc.problem(flow, message))
    return problems


def _check_scripts(doc: Document) -> Iterator[Problem]:
    """Script tasks, pre/post scripts, conditions and other Python expressions."""
    for task in doc.root.iter(f"{{{BPMN_NS}}}scriptTask"):
        script = task.find("bpmn:script", NS)
        if script is None or script.text is None:
            message = _("the script task has no script; add one or make it a plain task")
            yield doc.problem(script if script is not None else task, message, task.get("id") or "-")
        else:
            yield from code_problems(doc, script, script.text, "exec", _("script"))
    for path, mode, label in _CODE_PATHS:
        for element in doc.root.xpath(path, namespaces=NS):
            if element.text is not None:  # SpiffWorkflow treats an empty element as absent
                yield from code_problems(doc, element, element.text, mode, label)


def _check_service_tasks(doc: Document, operations: Collection[str]) -> Iterator[Problem]:
    known = (
        _("use one of: %(operations)s", operations=", ".join(sorted(operations)))
        if operations
        else _("no service operations are registered")
    )
    for task in doc.root.iter(f"{{{BPMN_NS}}}serviceTask"):
        operator = task.find("bpmn:extensionElements/spiffworkflow:serviceTaskOperator", NS)
        if operator is None:
            message = _("the service task has no spiffworkflow:serviceTaskOperator; %(known)s", known=known)
            yield doc.problem(task, message)
            continue
        name = operator.get("id")
        if name is None:
            message = _("the service task operator has no id; %(known)s", known=known)
            yield doc.problem(operator, message, owner_id(operator))
        elif name not in operations:
            message = _("unknown service operation '%(name)s'; %(known)s", name=name, known=known)
            yield doc.problem(operator, message, owner_id(operator))
        for parameter in operator.iterfind(".//spiffworkflow:parameter", NS):
            yield from _parameter_problems(doc, parameter)


def _parameter_problems(doc: Document, parameter: etree._Element) -> Iterator[Problem]:
    value = parameter.get("value")
    if value is None:
        return  # SpiffWorkflow skips parameters without a value
    label = _("service parameter %(id)r (a Python expression)", id=parameter.get("id"))
    if parameter.get("id") is None or parameter.get("type") is None:
        message = _("%(label)s needs both an id and a type attribute; set them in the modeler", label=label)
        yield doc.problem(parameter, message, owner_id(parameter))
    yield from code_problems(doc, parameter, value, "eval", label)


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
                yield doc.problem(prop, _("spiffworkflow:property needs a name and a value; set both"), owner)
            elif name == FORM_PROPERTY and value not in available:
                message = _(
                    "the form file '%(file)s' is not in the bundle; deploy it with the diagram "
                    "or fix %(name)s",
                    file=value,
                    name=name,
                )
                yield doc.problem(prop, message, owner)
            elif name == "subject":
                for problem in check_code(value, "eval"):
                    yield doc.problem(prop, _("subject: %(problem)s", problem=problem.message), owner)
            elif name == "dueIn" and (due_problem := iso_problem("timeDuration", value)):
                yield doc.problem(prop, _("dueIn: %(problem)s", problem=due_problem), owner)
            elif name == "fourEyes":
                unknown = [
                    step for step in value.split(",") if step.strip() not in user_tasks | {"initiator"}
                ]
                if unknown:
                    message = _(
                        "fourEyes names %(steps)s: use user task ids of this diagram or initiator",
                        steps=", ".join(unknown),
                    )
                    yield doc.problem(prop, message, owner)
            elif name in ("assignee", "candidateGroups") and not value.strip():
                message = _("%(name)s is empty; name a user (or initiator) / groups, or remove it", name=name)
                yield doc.problem(prop, message, owner)


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
                    message = _(
                        "senderGroups is empty; name the groups that may send the message, or remove it"
                    )
                    yield doc.problem(prop, message, owner)
                elif name == "messageJsonSchemaFilename" and value not in available:
                    message = _(
                        "the message schema '%(file)s' is not in the bundle; deploy it with the diagram",
                        file=value,
                    )
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
            message = _(
                "%(name)s names no language creditflow speaks; use %(others)s", name=name, others=others
            )
            yield doc.problem(prop, message, owner_id(prop))
        elif not value:
            message = _(
                "%(name)s is empty; give the element's name in that language, or remove the property",
                name=name,
            )
            yield doc.problem(prop, message, owner_id(prop))
        elif len(value) > _TITLE_CHARS:
            message = _(
                "%(name)s has %(count)s characters; use at most %(limit)s",
                name=name,
                count=len(value),
                limit=_TITLE_CHARS,
            )
            yield doc.problem(prop, message, owner_id(prop))


# The properties that give a group the right to act: start, work on a task, send a message.
_ACTING_PROPERTIES = ("startGroups", "candidateGroups", "senderGroups")


def _check_read_only_groups(doc: Document) -> Iterator[Problem]:
    """Auditors read everything and change nothing: no lane or acting property may name their group."""
    fix = _("it reads everything and changes nothing; name a group that does the work")
    for lane in doc.root.iter(f"{{{BPMN_NS}}}lane"):
        if (lane.get("name") or "").strip() in READ_ALL:
            message = _("the lane '%(lane)s' is the auditors' group: %(fix)s", lane=lane.get("name"), fix=fix)
            yield doc.problem(lane, message, lane.get("id") or "-")
    for prop in doc.root.iter(f"{{{SPIFF_NS}}}property"):
        if prop.get("name") in _ACTING_PROPERTIES:
            named = sorted({g.strip() for g in (prop.get("value") or "").split(",")} & READ_ALL)
            if named:
                message = _(
                    "%(name)s names %(groups)s, the auditors' group: %(fix)s",
                    name=prop.get("name"),
                    groups=", ".join(named),
                    fix=fix,
                )
                yield doc.problem(prop, message, owner_id(prop))


# The properties naming groups a task or message is offered to: a group outside the catalogue
# (workflows/credit/roles.GROUPS, the groups users are given) would leave the task with nobody to take it.
_OFFERED_TO = ("candidateGroups", "senderGroups")


def _check_known_groups(doc: Document) -> Iterator[Problem]:
    """`candidateGroups` and `senderGroups` name groups of the catalogue (a typo would strand the task)."""
    for prop in doc.root.iter(f"{{{SPIFF_NS}}}property"):
        if prop.get("name") not in _OFFERED_TO:
            continue
        named = [g.strip() for g in (prop.get("value") or "").split(",") if g.strip()]
        unknown = [g for g in dict.fromkeys(named) if g not in GROUPS]
        if unknown:
            message = _(
                "%(name)s names %(groups)s, not a known group; use one of: %(known)s",
                name=prop.get("name"),
                groups=", ".join(g[:40] for g in unknown),
                known=", ".join(sorted(GROUPS)),
            )
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
            message = _(
                "the id has %(count)s characters; use at most %(limit)s",
                count=len(element_id),
                limit=_ID_CHARS,
            )
            yield doc.problem(element, message, element_id[:40] + "...")
        name, limit = element.get("name") or "", _NAME_LIMITS.get(kind)
        if limit is not None and len(name) > limit:
            message = _(
                "the %(kind)s name has %(count)s characters; use at most %(limit)s",
                kind=kind,
                count=len(name),
                limit=limit,
            )
            yield doc.problem(element, message)
    for prop in doc.root.iter(f"{{{SPIFF_NS}}}property"):
        limit = _PROPERTY_LIMITS.get(prop.get("name") or "")
        values = (prop.get("value") or "").split(",") if limit is not None else []
        for value in (v.strip() for v in values):
            if limit is not None and len(value) > limit:
                message = _(
                    "%(name)s names %(value)s... (%(count)s characters; at most %(limit)s)",
                    name=prop.get("name"),
                    value=value[:40],
                    count=len(value),
                    limit=limit,
                )
                yield doc.problem(prop, message, owner_id(prop))
    # The decision log stores the decision a business rule task calls (decision_log.decision_id, 120).
    for called in doc.root.iter(f"{{{SPIFF_NS}}}calledDecisionId"):
        decision = (called.text or "").strip()
        if len(decision) > _ID_CHARS:
            message = _(
                "calledDecisionId names %(value)s... (%(count)s characters; at most %(limit)s)",
                value=decision[:40],
                count=len(decision),
                limit=_ID_CHARS,
            )
            yield doc.problem(called, message, owner_id(called))
