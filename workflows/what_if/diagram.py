"""An edited diagram in a what-if: accepted when it changes decisions only.

A what-if replays decision tables over logged decisions; it cannot replay a changed flow (a new gateway, a
task's group or timer), since the log holds no run of the new flow. So an uploaded BPMN is compared with the
deployed one element by element: what does not run is ignored (the drawing, names, documentation, Chinese
labels, instructions), a business rule task's decision reference is collected, and anything else that differs
is refused with the elements named.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lxml import etree

from workflows.definitions.problems import Problem
from workflows.definitions.validation import InvalidBundle, _parse_xml
from workflows.errors import Invalid
from workflows.messages import _

MAX_NAMED = 5  # changed elements a refusal names
# What does not run: a diagram may differ in these and still take the same path with the same data.
IGNORED_ELEMENTS = frozenset({"BPMNDiagram", "documentation", "instructionsForEndUser"})
IGNORED_ATTRIBUTES = frozenset({"exporter", "exporterVersion"})
# A lane's name is its group, a message's, signal's or error's name is what is sent or caught: those run.
# Every other BPMN element's name is its label.
NAME_RUNS = frozenset({"lane", "message", "signal", "error", "escalation"})
BPMN_MODEL = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DECISION_REFERENCE = "calledDecisionId"


@dataclass(frozen=True)
class Repointed:
    """A business rule task that calls another decision in the edited diagram."""

    bpmn_id: str
    old_decision: str
    new_decision: str


def decision_changes(file: str, deployed: str, edited: bytes) -> list[Repointed]:
    """The business rule tasks whose decision the edited diagram changes (none: the same decisions).

    Raises:
        InvalidBundle: the edited file is not well-formed XML.
        Invalid: the edited diagram changes more than which decision a business rule task calls.
    """
    problems: list[Problem] = []
    doc = _parse_xml(file, edited, problems)
    if doc is None:
        raise InvalidBundle(problems)
    old = _elements(etree.fromstring(deployed.encode("utf-8"), etree.XMLParser(resolve_entities=False)))
    new = _elements(doc.root)
    changed = sorted(set(old) ^ set(new)) + sorted(
        i for i in set(old) & set(new) if old[i].shape != new[i].shape
    )
    if changed:
        named = ", ".join(changed[:MAX_NAMED]) + (" …" if len(changed) > MAX_NAMED else "")
        raise Invalid(
            _(
                "a what-if replays decision changes only; %(file)s also changes how the process runs "
                "(%(elements)s): deploy it to see its effect, or upload only the decision tables",
                file=file,
                elements=named,
            )
        )
    return [
        Repointed(i, old[i].decision or "", new[i].decision or "")
        for i in sorted(new)
        if old[i].decision != new[i].decision
    ]


@dataclass(frozen=True)
class _Element:
    shape: Any  # what runs: tag, attributes, texts and children (elements with an id by reference)
    decision: str | None  # a business rule task's calledDecisionId


def _elements(root: Any) -> dict[str, _Element]:
    """The diagram's BPMN elements by id; extension elements (spiffworkflow:*) are part of their element."""
    found: dict[str, _Element] = {}
    for element in root.iter(f"{{{BPMN_MODEL}}}*"):
        if element.get("id") is not None and _local(element.tag) not in IGNORED_ELEMENTS:
            decision: list[str] = []
            shape = _shape(element, decision, top=True)
            found[element.get("id")] = _Element(shape, decision[0] if decision else None)
    return found


def _shape(element: Any, decision: list[str], top: bool = False) -> Any:
    tag = _local(element.tag)
    if not top and element.get("id") is not None and element.tag.startswith(f"{{{BPMN_MODEL}}}"):
        return ("ref", element.get("id"))
    text = (element.text or "").strip()
    if tag == DECISION_REFERENCE:
        decision.append(text)
        text = ""  # compared apart: the one change a what-if replays
    if tag == "property" and element.get("name", "").endswith("_zh"):
        return ("label",)  # a Chinese name or instructions: shown, never run
    label = "name" if element.tag.startswith(f"{{{BPMN_MODEL}}}") and tag not in NAME_RUNS else None
    attributes = tuple(
        sorted(
            (_local(k), v)
            for k, v in element.attrib.items()
            if _local(k) not in IGNORED_ATTRIBUTES and _local(k) != label
        )
    )
    children = tuple(
        _shape(child, decision)
        for child in element
        if isinstance(child.tag, str) and _local(child.tag) not in IGNORED_ELEMENTS
    )
    return (tag, attributes, text, children)


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]
