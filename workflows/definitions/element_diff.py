"""Which elements of a BPMN diagram two versions add, remove or change, for the side-by-side compare view.

An element is anything the diagram draws (its id is the `bpmnElement` of a shape or edge) plus the processes.
It is *changed* when it keeps its id but differs in what makes it run or what it says: its type, name, other
attributes (flow source and target, default flow, attached-to, ...), extension elements (handler, form,
groups, due date, ...), condition, script, timer or other event definition, loop, documentation, or its lane.
Only the layout (the BPMNDI positions) and the bookkeeping of connections (`incoming`, `outgoing`, a lane's
`flowNodeRef`: the flows and the elements' lanes carry the same facts) are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from lxml import etree

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
# Children that repeat facts held elsewhere (the flows' sourceRef/targetRef, the element's lane).
_BOOKKEEPING = {f"{{{BPMN}}}{tag}" for tag in ("incoming", "outgoing", "flowNodeRef")}
# A child element's aspect, by local name; any other child counts as "properties".
_ASPECTS = {
    "extensionElements": "extensions",
    "conditionExpression": "condition",
    "script": "script",
    "timerEventDefinition": "timer",
    "documentation": "documentation",
    "multiInstanceLoopCharacteristics": "loop",
    "standardLoopCharacteristics": "loop",
}
ASPECT_ORDER = (
    "type", "name", "lane", "flow", "properties", "extensions", "condition", "script", "timer", "event",
    "loop", "documentation",
)  # fmt: skip
_TRANSLATED_NAMES = f"{{{BPMN}}}extensionElements/{{{SPIFF}}}properties/{{{SPIFF}}}property"
_FRAMES = {"participant", "lane"}
Status = Literal["added", "removed", "changed"]


@dataclass(frozen=True)
class ElementChange:
    element_id: str
    kind: str  # the BPMN type's local name: userTask, sequenceFlow, lane, ...
    name: str  # the newer version's name (the older one's when removed); may be empty
    status: Status
    aspects: tuple[str, ...] = ()  # what differs, in ASPECT_ORDER (changed elements only)

    def as_json(self) -> dict[str, Any]:
        return {
            "element_id": self.element_id,
            "kind": self.kind,
            "name": self.name,
            "status": self.status,
            "aspects": list(self.aspects),
        }


@dataclass(frozen=True)
class DiagramDiff:
    changes: list[ElementChange] = field(default_factory=list)

    def ids(self, status: Status) -> list[str]:
        return [c.element_id for c in self.changes if c.status == status]

    def markers(self) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        """bpmn-js markers (CSS classes → element ids) for the older and the newer diagram. Pools and lanes
        also get `cf-frame`: they are outlined, not filled, so the tasks inside them keep their own colour."""
        changed = self.ids("changed")
        frames = [c.element_id for c in self.changes if c.kind in _FRAMES]
        return (
            {"cf-removed": self.ids("removed"), "cf-changed": changed, "cf-frame": frames},
            {"cf-added": self.ids("added"), "cf-changed": changed, "cf-frame": frames},
        )


def compare_bpmn(old_xml: str | bytes, new_xml: str | bytes) -> DiagramDiff:
    """The elements added, removed and changed from `old_xml` to `new_xml`, in document order.

    Raises:
        ValueError: a text is not well-formed XML (deployed diagrams always are).
    """
    old, new = _elements(old_xml), _elements(new_xml)
    changes = []
    for element_id, (kind, name, aspects) in new.items():
        if element_id not in old:
            changes.append(ElementChange(element_id, kind, name, "added"))
            continue
        old_kind, _old_name, old_aspects = old[element_id]
        differ = [a for a in ASPECT_ORDER if aspects.get(a) != old_aspects.get(a)]
        if old_kind != kind:
            differ = ["type", *[a for a in differ if a != "type"]]
        if differ:
            changes.append(ElementChange(element_id, kind, name, "changed", tuple(differ)))
    changes += [
        ElementChange(element_id, kind, name, "removed")
        for element_id, (kind, name, _aspects) in old.items()
        if element_id not in new
    ]
    return DiagramDiff(changes)


def _elements(xml: str | bytes) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """id → (kind, name, aspect → comparable value) of every drawn element and process."""
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    try:
        root = etree.fromstring(data, parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"not well-formed XML: {exc.msg}") from exc
    drawn = {
        ref
        for di in root.iter(f"{{{BPMNDI}}}BPMNShape", f"{{{BPMNDI}}}BPMNEdge")
        if (ref := di.get("bpmnElement"))
    }
    lane_of = {
        (ref.text or "").strip(): lane.get("id", "")
        for lane in root.iter(f"{{{BPMN}}}lane")
        for ref in lane.iterfind(f"{{{BPMN}}}flowNodeRef")
    }
    found: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for element in root.iter(etree.Element):
        element_id = element.get("id")
        if not element_id or element_id in found:
            continue
        local = etree.QName(element).localname
        if element_id not in drawn and not (local == "process" and etree.QName(element).namespace == BPMN):
            continue
        aspects = _aspects(element, drawn)
        if element_id in lane_of:
            aspects["lane"] = lane_of[element_id]
        found[element_id] = (local, element.get("name") or "", aspects)
    return found


def _aspects(element: etree._Element, drawn: set[str]) -> dict[str, Any]:
    aspects: dict[str, Any] = {"name": element.get("name") or ""}
    attributes = {k: v for k, v in element.attrib.items() if k not in ("id", "name")}
    aspects["flow"] = (attributes.pop("sourceRef", None), attributes.pop("targetRef", None))
    aspects["properties"] = tuple(sorted(attributes.items()))
    # The name in other languages (name_zh, display_names.py) is part of the name, not of the extensions.
    translations = tuple(
        sorted((p.get("name") or "", p.get("value") or "") for p in element.iterfind(_TRANSLATED_NAMES))
    )
    aspects["name"] = (aspects["name"], tuple(t for t in translations if t[0].startswith("name_")))
    for child in element.iterchildren(etree.Element):
        if child.tag in _BOOKKEEPING or child.get("id") in drawn or child.tag == f"{{{BPMN}}}laneSet":
            continue  # nested drawn elements (a subprocess's tasks, child lanes) are compared on their own
        local = etree.QName(child).localname
        aspect = _ASPECTS.get(local, "event" if local.endswith("EventDefinition") else "properties")
        canonical = _canonical(child, drawn)
        if canonical is not None:
            aspects[aspect] = (*aspects.get(aspect, ()), canonical)
    return aspects


def _canonical(element: etree._Element, drawn: set[str]) -> tuple[Any, ...] | None:
    """The subtree as a comparable value: tags, attributes (without generated ids) and trimmed text; nested
    drawn elements, bookkeeping and translated names left out. None for what is then empty (an
    extensionElements that only held names)."""
    if element.tag == f"{{{SPIFF}}}property" and (element.get("name") or "").startswith("name_"):
        return None
    attributes = tuple(sorted((k, v) for k, v in element.attrib.items() if k != "id"))
    children = tuple(
        canonical
        for child in element.iterchildren(etree.Element)
        if child.tag not in _BOOKKEEPING and child.get("id") not in drawn
        if (canonical := _canonical(child, drawn)) is not None
    )
    text = (element.text or "").strip()
    if not (attributes or children or text):
        return None
    return (element.tag, attributes, text, children)
