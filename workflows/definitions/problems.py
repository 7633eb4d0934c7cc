"""Where a deployment problem is: FILE:LINE: ELEMENT_ID: message, and how SpiffWorkflow's errors map there.

Shared by the BPMN checks, the DMN checks and the bundle validation that runs them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException

from workflows.engine.sandbox import Mode, check_code
from workflows.languages import clauses_joined
from workflows.messages import Text, _, translated

logger = logging.getLogger(__name__)

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}

# (substring of a SpiffWorkflow message, how to fix it)
_HINTS = (
    ('id "None"', _("set spiffworkflow:calledDecisionId on the business rule task")),
    (
        "No DMN Diagram available",
        _("add the DMN file with this decision to the bundle, or fix calledDecisionId"),
    ),
    ("was not found", _("add the BPMN file that defines the called process, or fix calledElement")),
    (
        "without condition",
        _("give every outgoing flow of this gateway a condition, or make one the default flow"),
    ),
    ("No start event found", _("add a start event to the process")),
    ("start event is required", _("add exactly one start event to the subprocess")),
    ("Multiple outgoing flows are not supported", _("split the flow with a gateway after this task")),
    ("has no implementation", _("remove the data store; keep data in task data and service handlers")),
    ("Duplicate process ID", _("give each process in the bundle a unique id")),
    ("Time Specification", _('give the timer a quoted timeDate, timeDuration or timeCycle, e.g. "P7D"')),
)


@dataclass(frozen=True)
class Problem:
    """One defect in a deployed file, located as precisely as the XML allows."""

    file: str
    line: int
    element_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.element_id}: {message_said(self.message, str)}"

    def said(self, gettext: Callable[[str], str]) -> str:
        """FILE:LINE: ELEMENT_ID: message with the message in the language of `gettext` (the web UI's):
        the location and id stay as they are, a reader finds the element by them."""
        return f"{self.file}:{self.line}: {self.element_id}: {message_said(self.message, gettext)}"

    def as_json(self, gettext: Callable[[str], str]) -> dict[str, str | int]:
        """The problem for a JSON answer: where it is, and the message (alone and in `said`) in the language
        of `gettext`."""
        return {
            "file": self.file,
            "line": self.line,
            "element_id": self.element_id,
            "message": message_said(self.message, gettext),
            "text": self.said(gettext),
        }


# A problem and how to fix it, joined as clauses: the catalogue says the separator ("; ", zh "；").
HINTED = _("%(problem)s; %(hint)s")


def message_said(message: str, gettext: Callable[[str], str]) -> str:
    """A problem's message in the language of `gettext`; a problem with its hint is joined by
    workflows.languages.clauses_joined, so SpiffWorkflow's question keeps one mark ("…credit_hold？请加入…",
    not "？；")."""
    if not (isinstance(message, Text) and message.msgid == HINTED.msgid):
        return translated(message, gettext)
    separator = gettext(HINTED.msgid) % {"problem": "", "hint": ""}
    parts = [translated(message.params[name], gettext) for name in ("problem", "hint")]
    return clauses_joined(parts, separator)


@dataclass
class Document:
    """A parsed XML file with an id index; `spec_ready` is False when SpiffWorkflow would mislead."""

    name: str
    root: etree._Element
    by_id: dict[str, etree._Element] = field(default_factory=dict)
    loaded: bool = False
    spec_ready: bool = True

    def problem(self, element: etree._Element | None, message: str, element_id: str | None = None) -> Problem:
        """A problem at an element (its start-tag line), owned by the nearest element with an id."""
        node = element if element is not None else self.root
        owner = element_id if element_id is not None else owner_id(node, include_self=True)
        return Problem(self.name, node.sourceline or 0, owner, message)


def code_problems(
    doc: Document, element: etree._Element, source: str, mode: Mode, label: str, hint: str = ""
) -> Iterator[Problem]:
    """Sandbox problems of a snippet at XML lines: element text starts on the start tag's line."""
    owner = owner_id(element)
    for problem in check_code(source, mode):
        line = (element.sourceline or 0) + problem.line - 1
        said = _("%(where)s: %(problem)s", where=label, problem=problem.message)
        yield Problem(doc.name, line, owner, Text(HINTED.msgid, problem=said, hint=hint) if hint else said)


def exception_problem(
    exc: Exception, docs: list[Document], doc: Document, fallback: etree._Element | None = None
) -> Problem:
    """Map a SpiffWorkflow/lxml exception to the element it names (by id, else by its message)."""
    if not isinstance(exc, ValidationException):
        logger.debug("unexpected exception validating %s", doc.name, exc_info=True)
        unloadable = _(
            "SpiffWorkflow cannot load this (%(error)s); "
            "fix or simplify the element, or export the diagram again",
            error=f"{type(exc).__name__}: {' '.join(str(exc).split())}",
        )
        return doc.problem(fallback, unloadable, None if fallback is not None else "-")
    message = str(exc.args[0]) if exc.args else type(exc).__name__
    found_doc, element = _locate(exc, message, docs, doc)
    problem = found_doc.problem(element if element is not None else fallback, _explain(message))
    # Only XSD errors raised through SpiffWorkflow carry a line number.
    if isinstance(exc.line_number, int) and exc.line_number > 0:
        return Problem(problem.file, exc.line_number, problem.element_id, problem.message)
    return problem


def _locate(
    exc: ValidationException, message: str, docs: list[Document], doc: Document
) -> tuple[Document, etree._Element | None]:
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


# SpiffWorkflow's sentences (3.2) that a deploy often meets, as msgids that say them word for word (made with
# _ for `make messages`; placeholders unfilled): what the regular expression captures fills them. A sentence
# none of them says exactly stays English.
_SPIFF_SENTENCES = (
    (r"No start event found", _("No start event found")),
    (
        r"Non-default exclusive outgoing sequence flow without condition",
        _("Non-default exclusive outgoing sequence flow without condition"),
    ),
    (
        r"Exactly one start event is required in a SubWorkflow Task; found (?P<count>\d+)",
        _("Exactly one start event is required in a SubWorkflow Task; found %(count)s"),
    ),
    (
        r"Data Store with name (?P<name>.+) has no implementation",
        _("Data Store with name %(name)s has no implementation"),
    ),
    (r"Duplicate process ID: (?P<id>.+)", _("Duplicate process ID: %(id)s")),
    (
        r"The process '(?P<id>[^']*)' was not found\. Did you mean one of the following: (?P<ids>.*)\?",
        _("The process '%(id)s' was not found. Did you mean one of the following: %(ids)s?"),
    ),
    (
        r'No DMN Diagram available with id "(?P<id>[^"]*)", Available DMN ids are: (?P<ids>.*)',
        _('No DMN Diagram available with id "%(id)s", Available DMN ids are: %(ids)s'),
    ),
    (r"Unknown Time Specification", _("Unknown Time Specification")),
    (r"Time Specification Error\. (?P<error>.*)", _("Time Specification Error. %(error)s")),
)


def _spiff_sentence(text: str) -> str:
    """SpiffWorkflow's sentence as a Text when one of _SPIFF_SENTENCES says it exactly, else as it is."""
    for pattern, msgid in _SPIFF_SENTENCES:
        found = re.fullmatch(pattern, text, re.DOTALL)
        if found is not None:
            said = Text(msgid.msgid, **found.groupdict())
            return said if said == text else text
    return text


def _explain(message: str) -> str:
    """SpiffWorkflow's message plus how to fix it."""
    text = " ".join(message.split()).rstrip(".")  # one line per problem, even for names with line breaks
    text = f"{text} none" if text.endswith(":") else text  # "Available DMN ids are:" with nothing after
    hint = next((fix for needle, fix in _HINTS if needle in text), _("fix this element and validate again"))
    return Text(HINTED.msgid, problem=_spiff_sentence(text), hint=hint)


def owner_id(element: etree._Element, include_self: bool = False) -> str:
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
