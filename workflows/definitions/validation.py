"""Validate a bundle of BPMN, DMN and JSON-schema form files before it is deployed.

Every problem is reported as FILE:LINE: ELEMENT_ID: message. SpiffWorkflow stops at the first
error and rarely knows a line number, so most checks run on our own lxml tree (which keeps
`sourceline`) and SpiffWorkflow's exceptions are mapped back to elements by id.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from jsonschema.exceptions import SchemaError
from jsonschema.validators import validator_for
from lxml import etree
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from workflows.definitions.bpmn_checks import check_bpmn
from workflows.definitions.dmn_checks import check_and_load_dmn
from workflows.definitions.form_checks import check_form_schema, json_line
from workflows.definitions.problems import BPMN_NS, NS, Document, Problem, exception_problem, owner_id
from workflows.messages import _

__all__ = ["InvalidBundle", "Problem", "ValidatedBundle", "make_parser", "validate_bundle"]

# SpiffWorkflow's VALIDATOR is one shared lxml XMLSchema whose error_log is overwritten by every
# validation; serialize its use so concurrent deploys do not read each other's errors.
_XSD_LOCK = threading.Lock()
MAX_FORM_DEPTH = 32  # objects and arrays inside each other in a form file; the shipped forms nest 7


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
    bpmn_docs: list[Document] = []
    for name, data in files.items():
        suffix = PurePosixPath(name).suffix.lower()
        if suffix == ".json":
            continue
        if suffix not in (".bpmn", ".dmn"):
            message = _("unsupported file type; deploy only .bpmn, .dmn and .json files")
            problems.append(Problem(name, 0, "-", message))
            continue
        doc = _parse_xml(name, data, problems)
        if doc is None:
            continue
        if suffix == ".bpmn":
            bpmn_docs.append(doc)
            problems += check_bpmn(doc, files, operations)
            problems += _load_bpmn(parser, doc, bpmn_docs)
        else:
            problems += check_and_load_dmn(parser, doc)
    process_ids = [pid for doc in bpmn_docs for pid, _process in _executable_processes(doc)]
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


def _parse_xml(name: str, data: bytes, problems: list[Problem]) -> Document | None:
    """Parse untrusted XML without entity expansion or network access; report a syntax error."""
    xml_parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(data, parser=xml_parser)
    except etree.XMLSyntaxError as exc:
        message = _(
            "the file is not well-formed XML (%(error)s); fix the XML or export the diagram again",
            error=exc.msg,
        )
        problems.append(Problem(name, exc.lineno or 0, "-", message))
        return None
    except ValueError as exc:  # e.g. a str with an encoding declaration instead of bytes
        message = _("the file cannot be read as XML (%(error)s); upload the raw file", error=str(exc))
        problems.append(Problem(name, 0, "-", message))
        return None
    if root.getroottree().docinfo.internalDTD is not None:
        # Modelers never write a DOCTYPE; entity declarations are how XML bombs and file reads start.
        message = _("DOCTYPE declarations are not allowed in deployed files; remove the <!DOCTYPE ...> block")
        problems.append(Problem(name, 1, "-", message))
        return None
    doc = Document(name, root)
    for element in root.iter(etree.Element):
        element_id = element.get("id")
        if element_id:
            doc.by_id.setdefault(element_id, element)
    return doc


def _load_forms(files: Mapping[str, bytes], problems: list[Problem]) -> dict[str, dict[str, Any]]:
    """Parse every .json file as a JSON Schema; keyed by base name."""
    forms: dict[str, dict[str, Any]] = {}
    parsed: dict[str, dict[str, Any]] = {}
    for name, data in files.items():
        if PurePosixPath(name).suffix.lower() != ".json":
            continue
        schema_or_problem = _parse_form(name, data)
        if isinstance(schema_or_problem, Problem):
            problems.append(schema_or_problem)
        else:
            forms[PurePosixPath(name).name] = parsed[name] = schema_or_problem
    # References are checked once every form is known: a form may refer to another of the bundle.
    for name, schema in parsed.items():
        problems += check_form_schema(name, files[name], schema, forms)
    return forms


def _parse_form(name: str, data: bytes) -> dict[str, Any] | Problem:
    try:
        schema = json.loads(data)
    except RecursionError:  # the C parser's own limit, near 1,000 levels
        return _too_deep(name)
    except json.JSONDecodeError as exc:
        message = _("the form is not valid JSON (%(error)s); fix the JSON syntax", error=exc.msg)
        return Problem(name, exc.lineno, "-", message)
    except ValueError as exc:  # undecodable bytes
        return Problem(
            name, 0, "-", _("the form cannot be read (%(error)s); save it as UTF-8 JSON", error=str(exc))
        )
    if _deeper_than(schema, MAX_FORM_DEPTH):
        # jsonschema's check_schema (and each form's rendering and validation after it) recurse per level:
        # a schema a few hundred levels deep was a RecursionError, a 500 on validate and deploy.
        return _too_deep(name)
    if not isinstance(schema, dict):
        message = _("a form file must hold one JSON Schema object ({...}); wrap the schema in braces")
        return Problem(name, 1, "-", message)
    # Without default=None, validator_for warns (and will later fail) on an unknown $schema.
    meta = schema.get("$schema")
    # A $schema that is not text is unknown too: validator_for looked it up as a dict key (a TypeError, 500).
    validator = validator_for(schema, default=None) if isinstance(meta, str) else None
    if "$schema" not in schema:
        validator = validator_for(schema)
    elif validator is None:
        message = _(
            "unknown $schema '%(schema)s'; use \"https://json-schema.org/draft/2020-12/schema\""
            " or leave it out",
            schema=meta if isinstance(meta, str) else str(meta)[:80],
        )
        return Problem(name, json_line(data, ["$schema"]), "-", message)
    try:
        validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or _("the top level")
        message = _(
            "the form is not a valid JSON Schema at %(where)s: %(error)s; fix that keyword",
            where=where,
            error=exc.message,
        )
        return Problem(name, json_line(data, list(exc.path)), "-", message)
    return schema


def _too_deep(name: str) -> Problem:
    message = _(
        "the form is nested more than %(most)s levels deep; a form's fields nest a few levels",
        most=MAX_FORM_DEPTH,
    )
    return Problem(name, 1, "-", message)


def _deeper_than(value: Any, most: int) -> bool:
    """Whether JSON objects and arrays nest more than `most` levels (walked without recursion)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= most:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


# --- loading into SpiffWorkflow ------------------------------------------------------------------


def _load_bpmn(parser: SpiffBpmnParser, doc: Document, docs: list[Document]) -> list[Problem]:
    """XSD-check (reporting every error) and add the document to the parser."""
    try:
        with _XSD_LOCK:
            VALIDATOR.preprocess(doc.root)  # the same bpmn-js workaround add_bpmn_xml applies
            valid = VALIDATOR.validator.validate(doc.root)
            errors = [(e.line, e.message) for e in VALIDATOR.validator.error_log]
    except etree.LxmlError as exc:  # libxml2 gives up on some malformed trees ("Internal error")
        return [exception_problem(exc, docs, doc)]
    if not valid:
        by_line: dict[int, etree._Element] = {}
        for element in doc.root.iter(etree.Element):
            by_line.setdefault(element.sourceline or 0, element)
        return [_xsd_problem(doc, by_line.get(line), line, message) for line, message in errors]
    try:
        with _XSD_LOCK:
            parser.add_bpmn_xml(doc.root, filename=doc.name)
    except Exception as exc:  # untrusted input: any parser failure is a problem in this file
        return [exception_problem(exc, docs, doc)]
    doc.loaded = True
    return []


def _xsd_problem(doc: Document, element: etree._Element | None, line: int, message: str) -> Problem:
    owner = owner_id(element, include_self=True) if element is not None else "-"
    text = message.replace(f"{{{BPMN_NS}}}", "bpmn:").rstrip(".")
    message = _("not valid BPMN 2.0: %(error)s; fix this element or export the diagram again", error=text)
    return Problem(doc.name, line, owner, message)


# --- SpiffWorkflow specs --------------------------------------------------------------------------


def _executable_processes(doc: Document) -> Iterator[tuple[str, etree._Element]]:
    """Processes marked isExecutable="true" (SpiffWorkflow would also run unmarked ones)."""
    for process in doc.root.iterfind("bpmn:process", NS):
        if process.get("isExecutable") == "true" and process.get("id"):
            yield process.get("id"), process


def _no_executable_problem(docs: list[Document], files: Mapping[str, bytes]) -> Problem:
    if not docs:
        return Problem(
            next(iter(files), "-"), 0, "-", _("the bundle has no BPMN diagram; add the .bpmn file")
        )
    message = _(
        'no process in the bundle is executable; set isExecutable="true" on the process to deploy '
        "(the modeler's 'Executable' checkbox)"
    )
    return docs[0].problem(docs[0].root, message, "-")


def _spec_problems(parser: SpiffBpmnParser, docs: list[Document], known: list[Problem]) -> list[Problem]:
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
                problem = exception_problem(exc, docs, doc, process)
                if (problem.file, problem.element_id) not in reported:
                    problems.append(problem)
    return problems
