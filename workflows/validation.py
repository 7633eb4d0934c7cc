"""Validate a bundle of BPMN, DMN and JSON-schema form files before it is deployed.

Every problem is reported as FILE:LINE: ELEMENT_ID: message. SpiffWorkflow stops at the first
error and rarely knows a line number, so most checks run on our own lxml tree (which keeps
`sourceline`) and SpiffWorkflow's exceptions are mapped back to elements by id.
"""

from __future__ import annotations

import ast
import json
import logging
import re
import threading
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from jsonschema.exceptions import SchemaError
from jsonschema.validators import validator_for
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS as DMN_SCHEMAS
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from workflows.sandbox import Mode, check_code, parses, prepare_source

logger = logging.getLogger(__name__)

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}
FORM_PROPERTY = "formJsonSchemaFilename"
DMN_NAMESPACES = frozenset(DMN_SCHEMAS)

# SpiffWorkflow's VALIDATOR is one shared lxml XMLSchema whose error_log is overwritten by every
# validation; serialize its use so concurrent deploys do not read each other's errors.
_XSD_LOCK = threading.Lock()

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
# (substring of a SpiffWorkflow message, how to fix it)
_HINTS = (
    ('id "None"', "set spiffworkflow:calledDecisionId on the business rule task"),
    (
        "No DMN Diagram available",
        "add the DMN file with this decision to the bundle, or fix calledDecisionId",
    ),
    ("was not found", "add the BPMN file that defines the called process, or fix calledElement"),
    (
        "without condition",
        "give every outgoing flow of this gateway a condition, or make one the default flow",
    ),
    ("No start event found", "add a start event to the process"),
    ("start event is required", "add exactly one start event to the subprocess"),
    ("Multiple outgoing flows are not supported", "split the flow with a gateway after this task"),
    ("has no implementation", "remove the data store; keep data in task data and service handlers"),
    ("Duplicate process ID", "give each process in the bundle a unique id"),
    ("Time Specification", 'give the timer a quoted timeDate, timeDuration or timeCycle, e.g. "P7D"'),
)


@dataclass(frozen=True)
class Problem:
    """One defect in a deployed file, located as precisely as the XML allows."""

    file: str
    line: int
    element_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.element_id}: {self.message}"


@dataclass
class ValidatedBundle:
    """A bundle that passed validation: the loaded parser, what to deploy, and the forms."""

    parser: SpiffBpmnParser
    process_ids: list[str]
    forms: dict[str, dict[str, Any]]  # keyed by base name, as user tasks reference them


class InvalidBundle(Exception):
    """The bundle has problems; `problems` lists all of them, str() one per line."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass
class _Document:
    """A parsed XML file with an id index; `spec_ready` is False when SpiffWorkflow would mislead."""

    name: str
    root: etree._Element
    by_id: dict[str, etree._Element] = field(default_factory=dict)
    loaded: bool = False
    spec_ready: bool = True

    def problem(self, element: etree._Element | None, message: str, element_id: str | None = None) -> Problem:
        """A problem at an element (its start-tag line), owned by the nearest element with an id."""
        node = element if element is not None else self.root
        owner = element_id if element_id is not None else _owner_id(node, include_self=True)
        return Problem(self.name, node.sourceline or 0, owner, message)


def make_parser() -> SpiffBpmnParser:
    """Build the SpiffWorkflow parser with XSD validation; the only place a parser is made."""
    return SpiffBpmnParser(validator=VALIDATOR)


def validate_bundle(files: Mapping[str, bytes], operations: Collection[str]) -> ValidatedBundle:
    """Check every file of a deployment and load it into one parser.

    Raises:
        InvalidBundle: with every problem found, never any other exception.
    """
    problems: list[Problem] = []
    parser = make_parser()
    forms = _load_forms(files, problems)
    bpmn_docs: list[_Document] = []
    for name, data in files.items():
        suffix = PurePosixPath(name).suffix.lower()
        if suffix == ".json":
            continue
        if suffix not in (".bpmn", ".dmn"):
            message = "unsupported file type; deploy only .bpmn, .dmn and .json files"
            problems.append(Problem(name, 0, "-", message))
            continue
        doc = _parse_xml(name, data, problems)
        if doc is None:
            continue
        if suffix == ".bpmn":
            bpmn_docs.append(doc)
            problems += _check_bpmn(doc, files, operations)
            problems += _load_bpmn(parser, doc, bpmn_docs)
        else:
            problems += _check_and_load_dmn(parser, doc)
    process_ids = [pid for doc in bpmn_docs for pid, _ in _executable_processes(doc)]
    has_bpmn_files = any(PurePosixPath(name).suffix.lower() == ".bpmn" for name in files)
    # When every .bpmn file was broken XML, its syntax error already explains the missing process.
    if not process_ids and (bpmn_docs or not has_bpmn_files):
        problems.append(_no_executable_problem(bpmn_docs, files))
    problems += _spec_problems(parser, bpmn_docs, problems)
    if problems:
        order = {name: index for index, name in enumerate(files)}
        raise InvalidBundle(sorted(problems, key=lambda p: (order.get(p.file, len(order)), p.line)))
    return ValidatedBundle(parser=parser, process_ids=process_ids, forms=forms)


# --- files ----------------------------------------------------------------------------------------


def _parse_xml(name: str, data: bytes, problems: list[Problem]) -> _Document | None:
    """Parse untrusted XML without entity expansion or network access; report a syntax error."""
    xml_parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(data, parser=xml_parser)
    except etree.XMLSyntaxError as exc:
        message = f"the file is not well-formed XML ({exc.msg}); fix the XML or export the diagram again"
        problems.append(Problem(name, exc.lineno or 0, "-", message))
        return None
    except ValueError as exc:  # e.g. a str with an encoding declaration instead of bytes
        problems.append(Problem(name, 0, "-", f"the file cannot be read as XML ({exc}); upload the raw file"))
        return None
    if root.getroottree().docinfo.internalDTD is not None:
        # Modelers never write a DOCTYPE; entity declarations are how XML bombs and file reads start.
        message = "DOCTYPE declarations are not allowed in deployed files; remove the <!DOCTYPE ...> block"
        problems.append(Problem(name, 1, "-", message))
        return None
    doc = _Document(name, root)
    for element in root.iter(etree.Element):
        element_id = element.get("id")
        if element_id:
            doc.by_id.setdefault(element_id, element)
    return doc


def _load_forms(files: Mapping[str, bytes], problems: list[Problem]) -> dict[str, dict[str, Any]]:
    """Parse every .json file as a JSON Schema; keyed by base name."""
    forms: dict[str, dict[str, Any]] = {}
    for name, data in files.items():
        if PurePosixPath(name).suffix.lower() != ".json":
            continue
        schema_or_problem = _parse_form(name, data)
        if isinstance(schema_or_problem, Problem):
            problems.append(schema_or_problem)
        else:
            forms[PurePosixPath(name).name] = schema_or_problem
    return forms


def _parse_form(name: str, data: bytes) -> dict[str, Any] | Problem:
    try:
        schema = json.loads(data)
    except json.JSONDecodeError as exc:
        return Problem(name, exc.lineno, "-", f"the form is not valid JSON ({exc.msg}); fix the JSON syntax")
    except ValueError as exc:  # undecodable bytes
        return Problem(name, 0, "-", f"the form cannot be read ({exc}); save it as UTF-8 JSON")
    if not isinstance(schema, dict):
        message = "a form file must hold one JSON Schema object ({...}); wrap the schema in braces"
        return Problem(name, 1, "-", message)
    # Without default=None, validator_for warns (and will later fail) on an unknown $schema.
    meta = schema.get("$schema")
    validator = validator_for(schema, default=None) if isinstance(meta, str) else validator_for(schema)
    if "$schema" in schema and (not isinstance(meta, str) or validator is None):
        message = (
            f'unknown $schema {meta!r}; use "https://json-schema.org/draft/2020-12/schema" or leave it out'
        )
        return Problem(name, _json_line(data, ["$schema"]), "-", message)
    try:
        validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "the top level"
        message = f"the form is not a valid JSON Schema at {where}: {exc.message}; fix that keyword"
        return Problem(name, _json_line(data, list(exc.path)), "-", message)
    return schema


def _json_line(data: bytes, path: list[Any]) -> int:
    """Best-effort line of a JSON path: follow each key's first quoted occurrence in order."""
    text = data.decode("utf-8", errors="replace")
    position = 0
    for key in path:
        if isinstance(key, str):
            found = text.find(json.dumps(key), position)
            position = found if found >= 0 else position
    return text.count("\n", 0, position) + 1


# --- BPMN checks on our own tree -----------------------------------------------------------------


def _check_bpmn(doc: _Document, files: Mapping[str, bytes], operations: Collection[str]) -> list[Problem]:
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
    ]


def _check_processes(doc: _Document) -> Iterator[Problem]:
    for process in doc.root.iterfind("bpmn:process", NS):
        if process.get("isExecutable") == "true" and not process.get("id"):
            yield doc.problem(process, "the executable process has no id; give it a snake_case id", "-")


def _check_sequence_flows(doc: _Document) -> list[Problem]:
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


def _check_scripts(doc: _Document) -> Iterator[Problem]:
    """Script tasks, pre/post scripts, conditions and other Python expressions."""
    for task in doc.root.iter(f"{{{BPMN_NS}}}scriptTask"):
        script = task.find("bpmn:script", NS)
        if script is None or script.text is None:
            message = "the script task has no script; add one or make it a plain task"
            yield doc.problem(script if script is not None else task, message, task.get("id") or "-")
        else:
            yield from _code_problems(doc, script, script.text, "exec", "script")
    for path, mode, label in _CODE_PATHS:
        for element in doc.root.xpath(path, namespaces=NS):
            if element.text is not None:  # SpiffWorkflow treats an empty element as absent
                yield from _code_problems(doc, element, element.text, mode, label)


def _code_problems(
    doc: _Document, element: etree._Element, source: str, mode: Mode, label: str, hint: str = ""
) -> Iterator[Problem]:
    """Sandbox problems of a snippet at XML lines: element text starts on the start tag's line."""
    owner = _owner_id(element)
    for problem in check_code(source, mode):
        line = (element.sourceline or 0) + problem.line - 1
        yield Problem(doc.name, line, owner, f"{label}: {problem.message}{hint}")


def _check_service_tasks(doc: _Document, operations: Collection[str]) -> Iterator[Problem]:
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
            yield doc.problem(operator, f"the service task operator has no id; {known}", _owner_id(operator))
        elif name not in operations:
            yield doc.problem(operator, f"unknown service operation {name!r}; {known}", _owner_id(operator))
        for parameter in operator.iterfind(".//spiffworkflow:parameter", NS):
            yield from _parameter_problems(doc, parameter)


def _parameter_problems(doc: _Document, parameter: etree._Element) -> Iterator[Problem]:
    value = parameter.get("value")
    if value is None:
        return  # SpiffWorkflow skips parameters without a value
    label = f"service parameter {parameter.get('id')!r} (a Python expression)"
    if parameter.get("id") is None or parameter.get("type") is None:
        message = f"{label} needs both an id and a type attribute; set them in the modeler"
        yield doc.problem(parameter, message, _owner_id(parameter))
    yield from _code_problems(doc, parameter, value, "eval", label)


def _check_timers(doc: _Document) -> Iterator[Problem]:
    for definition in doc.root.iter(f"{{{BPMN_NS}}}timerEventDefinition"):
        specs = (definition.find(f"bpmn:{kind}", NS) for kind in _TIMER_KINDS)
        spec = next((s for s in specs if s is not None), None)
        if spec is None or not (spec.text or "").strip():
            message = (
                "the timer is empty; set a timeDate, timeDuration or timeCycle, "
                'e.g. "P7D" (quoted: timer expressions are Python)'
            )
            yield doc.problem(spec if spec is not None else definition, message, _owner_id(definition))
            continue
        kind = etree.QName(spec).localname
        hint = '; quote ISO 8601 literals, e.g. "P7D", because timer expressions are Python'
        code_problems = list(_code_problems(doc, spec, spec.text or "", "eval", kind, hint))
        yield from code_problems or _timer_value_problems(doc, spec, kind)


def _timer_value_problems(doc: _Document, spec: etree._Element, kind: str) -> Iterator[Problem]:
    """A bare ISO literal is a Python name; a quoted one must parse the way SpiffWorkflow parses it."""
    body = ast.parse(prepare_source(spec.text or "", "eval"), mode="eval").body
    for node in ast.walk(body):
        if isinstance(node, ast.Name) and _ISO_LOOKING_NAME.fullmatch(node.id):
            text = (spec.text or "").strip()
            literal = text if re.fullmatch(r"[\w/:.,+-]+", text) else node.id
            message = f'{kind}: {node.id} is read as a Python variable name; quote the literal: "{literal}"'
            yield doc.problem(spec, message, _owner_id(spec))
            return
    if isinstance(body, ast.Constant) and (problem := _iso_problem(kind, body.value)):
        yield doc.problem(spec, problem, _owner_id(spec))


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


def _check_task_properties(doc: _Document, files: Mapping[str, bytes]) -> Iterator[Problem]:
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


# --- loading into SpiffWorkflow ------------------------------------------------------------------


def _load_bpmn(parser: SpiffBpmnParser, doc: _Document, docs: list[_Document]) -> list[Problem]:
    """XSD-check (reporting every error) and add the document to the parser."""
    try:
        with _XSD_LOCK:
            VALIDATOR.preprocess(doc.root)  # the same bpmn-js workaround add_bpmn_xml applies
            valid = VALIDATOR.validator.validate(doc.root)
            errors = [(e.line, e.message) for e in VALIDATOR.validator.error_log]
    except etree.LxmlError as exc:  # libxml2 gives up on some malformed trees ("Internal error")
        return [_exception_problem(exc, docs, doc)]
    if not valid:
        by_line: dict[int, etree._Element] = {}
        for element in doc.root.iter(etree.Element):
            by_line.setdefault(element.sourceline or 0, element)
        return [_xsd_problem(doc, by_line.get(line), line, message) for line, message in errors]
    try:
        with _XSD_LOCK:
            parser.add_bpmn_xml(doc.root, filename=doc.name)
    except Exception as exc:  # untrusted input: any parser failure is a problem in this file
        return [_exception_problem(exc, docs, doc)]
    doc.loaded = True
    return []


def _xsd_problem(doc: _Document, element: etree._Element | None, line: int, message: str) -> Problem:
    owner = _owner_id(element, include_self=True) if element is not None else "-"
    text = message.replace(f"{{{BPMN_NS}}}", "bpmn:").rstrip(".")
    return Problem(
        doc.name, line, owner, f"not valid BPMN 2.0: {text}; fix this element or export the diagram again"
    )


def _check_and_load_dmn(parser: SpiffBpmnParser, doc: _Document) -> list[Problem]:
    """Check the DMN shape SpiffWorkflow 3.2 can read, the Python cells, then load the decision."""
    structure = _dmn_structure_problems(parser, doc)
    if structure:
        return structure
    problems = list(_dmn_cell_problems(doc))
    try:
        parser.add_dmn_xml(doc.root, filename=doc.name)
        decision_id = next(doc.root.iter(f"{{{_dmn_namespace(doc.root)}}}decision")).get("id")
        parser.dmn_parsers[decision_id].parse()
    except Exception as exc:  # untrusted input: any parser failure is a problem in this file
        problems.append(_exception_problem(exc, [doc], doc))
    return problems


def _dmn_namespace(root: etree._Element) -> str | None:
    """The namespace SpiffWorkflow binds to its 'dmn' prefix: the default one, else 'dmn:'."""
    namespace: str | None = root.nsmap.get(None, root.nsmap.get("dmn"))
    return namespace


def _dmn_structure_problems(parser: SpiffBpmnParser, doc: _Document) -> list[Problem]:
    namespace = etree.QName(doc.root).namespace
    if etree.QName(doc.root).localname != "definitions" or namespace not in DMN_NAMESPACES:
        return [doc.problem(doc.root, "not a DMN 1.1-1.3 document; export the decision table as DMN", "-")]
    if _dmn_namespace(doc.root) != namespace:
        message = (
            "the DMN elements use a namespace prefix SpiffWorkflow 3.2 cannot read; "
            "make the DMN namespace the default one (xmlns=...) and export again"
        )
        return [doc.problem(doc.root, message, "-")]
    decisions = list(doc.root.iter(f"{{{namespace}}}decision"))
    if len(decisions) != 1:
        message = (
            f"the file holds {len(decisions)} decisions; SpiffWorkflow 3.2 reads exactly one decision "
            "per DMN file, so split it into one file per decision"
        )
        return [doc.problem(decisions[1] if len(decisions) > 1 else doc.root, message)]
    decision = decisions[0]
    if decision.find(f"{{{namespace}}}decisionTable") is None:
        message = (
            "the decision has no decision table; SpiffWorkflow only runs decision tables, "
            "not literal expressions or boxed FEEL"
        )
        return [doc.problem(decision, message)]
    if decision.get("id") in parser.dmn_parsers:
        message = (
            f"decision id {decision.get('id')!r} is already defined by another DMN file; make ids unique"
        )
        return [doc.problem(decision, message)]
    return []


def _dmn_cell_problems(doc: _Document) -> Iterator[Problem]:
    """Input expressions, input entries and output entries are Python, built as DMNEngine builds them."""
    ns = etree.QName(doc.root).namespace
    for table in doc.root.iter(f"{{{ns}}}decisionTable"):
        inputs: list[str] = []
        for column in table.iterfind(f"{{{ns}}}input"):
            text = column.find(f"{{{ns}}}inputExpression/{{{ns}}}text")
            source = text.text if text is not None else None
            clean = source is not None and not check_code(source, "eval")
            if text is not None and source is not None:
                yield from _code_problems(doc, text, source, "eval", "input expression")
            inputs.append(source if clean and source else "dmninput")
        for rule in table.iterfind(f"{{{ns}}}rule"):
            # Cells pair with columns by position, as in DMNParser.
            for index, entry in enumerate(rule.iterfind(f"{{{ns}}}inputEntry")):
                text = entry.find(f"{{{ns}}}text")
                if text is not None and text.text and text.text != "-":
                    column = inputs[index] if index < len(inputs) else "dmninput"
                    expression = _input_entry_expression(column, text.text)
                    yield from _code_problems(doc, text, expression, "eval", "input entry")
            for text in rule.iterfind(f"{{{ns}}}outputEntry/{{{ns}}}text"):
                if text.text:
                    yield from _code_problems(doc, text, text.text, "eval", "output entry")


def _input_entry_expression(column: str, cell: str) -> str:
    """The expression DMNEngine.evaluate runs for a cell: '?' tests, equality, or 'input' + operator."""
    replaced = re.sub(r"(\?)(?=(?:[^'\"]|['\"][^'\"]*['\"])*$)", "dmninputexpr", cell)
    if "dmninputexpr" in replaced:
        return replaced
    if parses(cell, "exec"):
        return f"({column}) == ({cell})"
    return column + cell  # e.g. "> 500"; DMNEngine concatenates without a space


# --- SpiffWorkflow specs --------------------------------------------------------------------------


def _executable_processes(doc: _Document) -> Iterator[tuple[str, etree._Element]]:
    """Processes marked isExecutable="true" (SpiffWorkflow would also run unmarked ones)."""
    for process in doc.root.iterfind("bpmn:process", NS):
        if process.get("isExecutable") == "true" and process.get("id"):
            yield process.get("id"), process


def _no_executable_problem(docs: list[_Document], files: Mapping[str, bytes]) -> Problem:
    if not docs:
        return Problem(next(iter(files), "-"), 0, "-", "the bundle has no BPMN diagram; add the .bpmn file")
    message = (
        'no process in the bundle is executable; set isExecutable="true" on the process to deploy '
        "(the modeler's 'Executable' checkbox)"
    )
    return docs[0].problem(docs[0].root, message, "-")


def _spec_problems(parser: SpiffBpmnParser, docs: list[_Document], known: list[Problem]) -> list[Problem]:
    """Build each executable process spec; skip elements that already have a problem."""
    reported = {(p.file, p.element_id) for p in known}
    problems = []
    for doc in docs:
        if not (doc.loaded and doc.spec_ready):
            continue
        for pid, process in _executable_processes(doc):
            try:
                parser.get_spec(pid)
                parser.get_subprocess_specs(pid)
            except Exception as exc:  # untrusted input: any SpiffWorkflow failure is a problem in the diagram
                problem = _exception_problem(exc, docs, doc, process)
                if (problem.file, problem.element_id) not in reported:
                    problems.append(problem)
    return problems


def _exception_problem(
    exc: Exception, docs: list[_Document], doc: _Document, fallback: etree._Element | None = None
) -> Problem:
    """Map a SpiffWorkflow/lxml exception to the element it names (by id, else by its message)."""
    if not isinstance(exc, ValidationException):
        logger.debug("unexpected exception validating %s", doc.name, exc_info=True)
        message = (
            f"SpiffWorkflow cannot load this ({type(exc).__name__}: {' '.join(str(exc).split())}); "
            "fix or simplify the element, or export the diagram again"
        )
        return doc.problem(fallback, message, None if fallback is not None else "-")
    message = str(exc.args[0]) if exc.args else type(exc).__name__
    found_doc, element = _locate(exc, message, docs, doc)
    problem = found_doc.problem(element if element is not None else fallback, _explain(message))
    # Only XSD errors raised through SpiffWorkflow carry a line number.
    if isinstance(exc.line_number, int) and exc.line_number > 0:
        return Problem(problem.file, exc.line_number, problem.element_id, problem.message)
    return problem


def _locate(
    exc: ValidationException, message: str, docs: list[_Document], doc: _Document
) -> tuple[_Document, etree._Element | None]:
    """Find the element an exception is about: its id (preferring its file), else a name in the message."""
    ordered = sorted(docs, key=lambda d: d.name != (exc.file_name or doc.name))
    # Generated task spec names such as "review.BoundaryEventSplit" or "review [child]" start with the id.
    candidates_ids = [exc.id, re.split(r"[. \[]", exc.id)[0]] if exc.id else []
    for element_id in candidates_ids:
        for candidate in ordered:
            if element_id in candidate.by_id:
                return candidate, candidate.by_id[element_id]
    by_message = (
        (r"The process '([^']+)' was not found", "//bpmn:callActivity[@calledElement=$ref]"),
        (r"Data Store with name (.+) has no implementation", "//bpmn:dataStore[@name=$ref]"),
    )
    for pattern, path in by_message:
        match = re.search(pattern, message, re.DOTALL)
        if match is None:
            continue
        for candidate in ordered:
            hits = candidate.root.xpath(path, namespaces=NS, ref=match.group(1))
            if hits:
                return candidate, hits[0]
    return doc, None


def _explain(message: str) -> str:
    """SpiffWorkflow's message plus how to fix it."""
    text = " ".join(message.split()).rstrip(".")  # one line per problem, even for names with line breaks
    text = f"{text} none" if text.endswith(":") else text  # "Available DMN ids are:" with nothing after
    hint = next((fix for needle, fix in _HINTS if needle in text), "fix this element and validate again")
    return f"{text}; {hint}"


def _owner_id(element: etree._Element, include_self: bool = False) -> str:
    """Id of the nearest BPMN/DMN element a modeler user can click (not event definitions or extensions)."""
    node = element if include_self else element.getparent()
    while node is not None:
        qname = etree.QName(node)
        if (
            node.get("id")
            and qname.namespace != SPIFF_NS
            and qname.localname != "definitions"
            and not qname.localname.endswith(("EventDefinition", "LoopCharacteristics", "Expression"))
        ):
            return str(node.get("id"))
        node = node.getparent()
    return "-"
